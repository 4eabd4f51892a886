// Published mixed-fleet runs over PCIe boxes and 1-23 Gb/s Ethernet (issue 10 §4), VALIDATION only:
// every constant of the cost model was frozen before these were added (fidelity_test.cc's
// calibration runs), and nothing was changed for them. The second mixed-fleet source, after AMP
// (mixed_fleet_fidelity_test.cc).
//
// Source: Sailor (Strati et al., SOSP'25) and its artifact, github.com/eth-easl/sailor @ cf2c8e3:
// the simulator-validation plans of its MIT cluster, sailor/Planner/simulations/validation/mit/
// N<nodes>/plan_config_N<nodes>_D<dp>.json, each with stage boundaries over the 26 pipe layers
// (0 embedding, 1-24 blocks, 25 final norm + LM head: Tangram's own layer list), the node kind of
// every replica of every stage, tp, micro-batch, global batch and the MEASURED iteration time
// ("real": the mean "Iteration took" of rank 0 after three warm-up iterations, ASSUMED to follow
// ae_scripts/clariden_scripts/process_results.py as the Clariden runs do). Cluster: one 8 x RTX
// 3090 box (k1, ~1 GbE), two 8 x Titan RTX (n2, n3) and three 8 x RTX 2080 Ti (r4-r6; ~23 Gb/s),
// hosts per scripts_mit/run_mit.sh. OPT-350M, sequence 2048, micro-batch 2, fp32, AdamW, ZeRO 0,
// DeepSpeed pipeline engine with the gradient allreduce after the flush: configs/published/jobs/
// sailor-mit-n*-opt-350m.yaml. The fleets carry the links Sailor measured on the cluster and
// Sailor's own per-layer profile of its machines as MEASURED LAYER TIMES per kind and tensor-
// parallel degree at the runs' micro-batch, tp collectives over PCIe included (configs/published/
// sailor-mit-n*-measured.yaml, the measured: section's layer_times); docs/simulator.md has the
// tables and what is assumed.
//
// Each replica of a stage sits on one node of the kind the plan names (the next unused node of that
// kind in the fleet's order), DeepSpeed's topology making replica r of every stage one pipeline;
// the global batch is split evenly over the replicas (DeepSpeed: gradient accumulation steps =
// batch ÷ (micro-batch × dp)).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "orchestrator/simulator/simulator.h"
#include "partitioner/cost_model.h"
#include "partitioner/fleet.h"
#include "partitioner/strategy.h"

namespace tangram::simulator {
namespace {

struct SailorPlan {
  const char* name;  // the plan file's N<nodes>_D<dp>
  const char* job;   // under configs/published/jobs/
  int global_batch, tp;
  std::vector<int64_t> boundaries;                 // first layer of each stage, then 26
  std::vector<std::vector<std::string>> replicas;  // per stage: the kind of each replica
  double measured_s;                               // "real"
};

const char* const k3090 = "RTX3090";
const char* const kTitan = "TitanRTX";
const char* const k2080 = "RTX2080Ti";

// validation/mit/N*/plan_config_*.json, every plan but one. Left out: N6_D2 (pp 3, dp 2,
// gbs 288): its "real", "red_grads" and "max_mem" (59.45533, 5.4637, 6305087488) are N3_D1's to
// the last digit, a copy in the source, not a measurement of that plan.
const std::vector<SailorPlan> kPlans = {
    {"N2_D1", "sailor-mit-n2-opt-350m.yaml", 256, 2, {0, 12, 26}, {{k3090}, {kTitan}}, 119.83914},
    {"N2_D2", "sailor-mit-n2-opt-350m.yaml", 256, 2, {0, 26}, {{kTitan, k3090}}, 91.78},
    {"N3_D1",
     "sailor-mit-n3-opt-350m.yaml",
     144,
     8,
     {0, 8, 17, 26},
     {{k3090}, {k2080}, {kTitan}},
     59.45533},
    {"N4_D1",
     "sailor-mit-n4-opt-350m.yaml",
     256,
     8,
     {0, 5, 12, 19, 26},
     {{k3090}, {k2080}, {kTitan}, {k2080}},
     83.76622},
    {"N4_D2",
     "sailor-mit-n4-opt-350m.yaml",
     256,
     8,
     {0, 12, 26},
     {{k3090, k2080}, {kTitan, k2080}},
     66.06712},
    {"N4_D4",
     "sailor-mit-n4-opt-350m.yaml",
     256,
     8,
     {0, 26},
     {{k3090, k2080, kTitan, k2080}},
     83.45238},
    {"N6_D3",
     "sailor-mit-n6-opt-350m.yaml",
     288,
     8,
     {0, 12, 26},
     {{k3090, k2080, k2080}, {kTitan, k2080, kTitan}},
     54.2392},
    {"N6_D6",
     "sailor-mit-n6-opt-350m.yaml",
     288,
     8,
     {0, 26},
     {{k3090, k2080, k2080, kTitan, k2080, kTitan}},
     70.78508},
};

std::string JobPath(const char* job) {
  const char* root = std::getenv("TANGRAM_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/configs/published/jobs/" + job;
}

int Pp(const SailorPlan& p) { return static_cast<int>(p.replicas.size()); }
int Dp(const SailorPlan& p) { return static_cast<int>(p.replicas[0].size()); }

struct Simulated {
  double step_s = 0;
  bool fits_memory = false;  // Sailor ran every plan, so each must fit
};

// Simulates `p` as it ran: Sailor's stages, tp, batch, and each replica on a node of its kind.
absl::StatusOr<Simulated> SimulatedStep(const SailorPlan& p) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  if (!catalog.ok()) return catalog.status();
  auto job = orchestrator::LoadJob(JobPath(p.job), *catalog);
  if (!job.ok()) return job.status();
  const int pp = Pp(p), dp = Dp(p);
  job->training.global_batch = p.global_batch;
  job->training.layout.tp = p.tp;
  job->training.layout.pp = pp;
  job->training.layout.dp = dp;
  auto cost = partitioner::CostModel::Create(job->fleet, job->model, job->training);
  if (!cost.ok()) return cost.status();
  auto plan = partitioner::MakePlan(*cost, "uniform");
  if (!plan.ok()) return plan.status();
  if (static_cast<int>(plan->stages.size()) != pp) {
    return absl::InternalError(absl::StrFormat("uniform made %d stages", plan->stages.size()));
  }
  // First device of each node and its kind, in fleet order.
  std::vector<std::pair<std::string, int64_t>> nodes;
  int64_t first = 0;
  for (const partitioner::NodeGroup& g : job->fleet.groups) {
    for (int64_t n = 0; n < g.count; ++n, first += g.devices_per_node) {
      nodes.emplace_back(g.device.kind, first);
    }
  }
  std::vector<bool> used(nodes.size(), false);
  for (int s = 0; s < pp; ++s) {
    auto& stage = plan->stages[s];
    stage.layer_begin = p.boundaries[s];
    stage.layer_end = p.boundaries[s + 1];
    for (int r = 0; r < dp; ++r) {
      size_t k = 0;
      while (k < nodes.size() && (used[k] || nodes[k].first != p.replicas[s][r])) ++k;
      if (k == nodes.size()) {
        return absl::InternalError(
            absl::StrFormat("%s: no free %s node", p.name, p.replicas[s][r]));
      }
      used[k] = true;
      auto& cell = stage.cells[r];
      cell.devices.clear();
      for (int t = 0; t < p.tp; ++t) cell.devices.push_back(nodes[k].second + t);
    }
  }
  for (auto& replica : plan->replicas) {
    replica.samples = p.global_batch / dp;
    replica.micro_batch_size = job->training.micro_batch;
    replica.micro_batches = replica.samples / job->training.micro_batch;
  }
  if (auto st = cost->Evaluate(&*plan); !st.ok()) return st;
  auto step = Simulate(*cost, *plan, SimOptions{});
  if (!step.ok()) return step.status();
  return Simulated{step->step_time_s, step->fits_memory};
}

struct Row {
  SailorPlan plan;
  double simulated_s;
  double error() const { return plan.measured_s / simulated_s - 1; }  // + = simulated faster
};

std::vector<Row> SimulateAll() {
  std::vector<Row> rows;
  for (const SailorPlan& p : kPlans) {
    auto s = SimulatedStep(p);
    EXPECT_TRUE(s.ok()) << p.name << ": " << s.status();
    if (!s.ok()) continue;
    EXPECT_TRUE(s->fits_memory) << p.name;
    rows.push_back({p, s->step_s});
    std::cout << absl::StrFormat(
        "%-6s tp %d pp %d dp %d gbs %3d  measured %6.2f s  simulated %6.2f s  %+6.1f%%\n", p.name,
        p.tp, Pp(p), Dp(p), p.global_batch, p.measured_s, s->step_s, 100 * rows.back().error());
  }
  return rows;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Within one cluster (same nodes, same batch): the best layout = the plan measured fastest;
// "even data parallelism" = the plan with pp 1 (each node one replica, tp 8 or 2 inside it, equal
// shares). Returns simulated gain ÷ measured gain.
double GainRatio(const std::vector<Row>& rows, const char* job) {
  const Row* best = nullptr;
  const Row* dp = nullptr;
  for (const Row& r : rows) {
    if (std::string(r.plan.job) != job) continue;
    if (best == nullptr || r.plan.measured_s < best->plan.measured_s) best = &r;
    if (Pp(r.plan) == 1) dp = &r;
  }
  if (best == nullptr || dp == nullptr) return 0;
  const double measured = dp->plan.measured_s / best->plan.measured_s;
  const double simulated = dp->simulated_s / best->simulated_s;
  std::cout << absl::StrFormat(
      "%s: best %s over even data parallelism %s: measured %.3fx, simulated %.3fx (%+.1f%%)\n", job,
      best->plan.name, dp->plan.name, measured, simulated, 100 * (simulated / measured - 1));
  return simulated / measured;
}

// With the MEASURED links of the source's cluster and its MEASURED per-layer, per-tp times (fp32,
// micro-batch 2, as the runs trained), every plan Sailor ran simulates and fits memory, and the
// issue's targets hold: median |error| 3.7 % (target 15 %), worst 18.4 % (target 30 %); with one
// rate per group (the tp-1 profile) and the α-β model's tp collectives over the measured PCIe
// links it was 15.5 % and 31.5 %. The gain of the best layout over even data parallelism is within
// 20 %, at the edge on four nodes: 1.011x simulated vs 1.263x measured (-20.0 %), 1.068x vs 1.305x
// on six (-18.2 %). What is left is the pp x dp family (-18.4 %, -16.1 %): the RTX 3090 stage's two
// 1 GbE transfers per micro-batch are charged in full (rendezvous), which fits the pp-only plans
// (-3.4 ... +5.0 %) but not these, whose measured time is the stage's compute plus the measured
// gradient reduction with next to nothing for the transfers (docs/simulator.md).
TEST(SailorFidelityTest, MitClusterMeasuredLinksAndCompute) {
  const std::vector<Row> rows = SimulateAll();
  ASSERT_EQ(rows.size(), kPlans.size());
  std::vector<double> errors;
  std::map<std::string, std::vector<double>> families;
  for (const Row& r : rows) {
    errors.push_back(std::abs(r.error()));
    const char* family = Pp(r.plan) == 1 ? "dp only" : Dp(r.plan) == 1 ? "pp only" : "pp x dp";
    families[family].push_back(r.error());
  }
  const double median = Median(errors);
  const double worst = *std::max_element(errors.begin(), errors.end());
  std::cout << absl::StrFormat("%d measured plans: median |error| %.1f%%, worst %.1f%%\n",
                               static_cast<int>(rows.size()), 100 * median, 100 * worst);
  for (const auto& [family, e] : families) {
    std::cout << absl::StrFormat(
        "  %-8s %d plans, signed %+.1f%% ... %+.1f%%\n", family, static_cast<int>(e.size()),
        100 * *std::min_element(e.begin(), e.end()), 100 * *std::max_element(e.begin(), e.end()));
  }
  EXPECT_NEAR(GainRatio(rows, "sailor-mit-n4-opt-350m.yaml"), 1.0, 0.20);
  EXPECT_NEAR(GainRatio(rows, "sailor-mit-n6-opt-350m.yaml"), 1.0, 0.20);
  // Issue 10's targets are 15 % and 30 %; held to the bands they sit in (3.7 %, 18.4 %).
  EXPECT_LT(median, 0.05);
  EXPECT_LT(worst, 0.20);
  // Plain data parallelism (tp 8 inside each box, or tp 2 for N2_D2, the gradient allreduce over
  // 1-23 Gb/s) and the pipelines through the 1 GbE box: -3.4 ... +5.0 %, held to 6 %.
  for (const Row& r : rows) {
    if (Pp(r.plan) == 1 || Dp(r.plan) == 1) {
      EXPECT_LT(std::abs(r.error()), 0.06) << r.plan.name;
    }
  }
}

}  // namespace
}  // namespace tangram::simulator
