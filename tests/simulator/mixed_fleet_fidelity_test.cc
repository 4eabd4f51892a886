// Published mixed-fleet and PCIe / Ethernet runs (issue 10 §4), VALIDATION only: every constant of
// the cost model was frozen before these were added (fidelity_test.cc's calibration runs), and
// nothing was changed for them.
//
// Source: AMP (Li, Wang, Xing, Zhang, NeurIPS 2022, arXiv 2210.07297, §5) and its artifact,
// github.com/DachengLi1/AMP @ 72eeea4: every trial AMP launched on real machines, with its
// layout, micro-batch, stage boundaries and measured iteration time ("r_cost": the mean wall time
// of iterations 20-40 on rank 0, DeepSpeed/.../megatron/training.py), in
//   src/results/het_cluster_results.txt: 3 × p3.8xlarge (4 V100, NVLink, 10 Gb/s) + 1 ×
//     g4dn.12xlarge (4 T4, PCIe, 50 Gb/s) — a mixed fleet;
//   src/results/homogeneous_results.txt: 4 × g4dn.12xlarge (16 T4, PCIe, 50 Gb/s) — a PCIe /
//     Ethernet cluster of one kind.
// GPT-2 345M, global batch 32, Megatron-LM v1.1.5 + DeepSpeed pipeline engine (fp16, fp32
// gradient allreduce after the pipeline flush, no ZeRO, no recompute): configs/published/jobs/
// amp-het-gpt2-345m.yaml and amp-t4-gpt2-345m.yaml. Each row below is one trial, copied by script
// from those files (trial = its position in the file's "Simulating result" lines; trials whose
// r_cost is inf did not run and are listed as comments). Ranks follow DeepSpeed's topology (rank =
// stage·dp·tp + replica·tp + tp rank) on the fleet's device order, which is AMP's (V100 nodes 0-2,
// T4 node 3); stage boundaries are AMP's partition of DeepSpeed's 30 pipe layers (0 embedding,
// 1 transpose, 2-25 the 24 blocks, 26-29 transpose, final norm, tied LM head, fp32 cast), mapped
// onto Tangram's layer list (embedding, block.0-23, head).
// Each fleet is simulated three times: with catalog figures only (amp-*.yaml: the kernel model),
// with one MEASURED rate per group from AMP's own per-layer profile of those machines
// (amp-*-measured.yaml, measured_tflops), and with that profile's MEASURED LAYER TIMES per kind
// and tensor-parallel degree (amp-*-layers.yaml, the measured: section's layer_times; what
// `tangram probe` gives a fleet). docs/simulator.md has the tables.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "orchestrator/simulator/simulator.h"
#include "partitioner/cost_model.h"
#include "partitioner/strategy.h"

namespace tangram::simulator {
namespace {

struct Trial {
  int trial;  // position among the file's "Simulating result" lines (0-based)
  int micro_batch, tp, dp, pp;
  std::vector<int> partition;  // AMP's stage boundaries over DeepSpeed's 30 pipe layers
  double measured_s;           // r_cost
};

// src/results/het_cluster_results.txt (mixed fleet: 12 V100 + 4 T4).
const std::vector<Trial> kMixed = {
    {0, 1, 1, 4, 4, {0, 7, 14, 20, 30}, 1.47},
    {1, 1, 1, 2, 8, {0, 5, 9, 12, 15, 18, 21, 24, 30}, 1.28},
    {2, 1, 1, 1, 16, {0, 3, 5, 7, 9, 11, 13, 15, 16, 17, 19, 20, 21, 22, 23, 25, 30}, 1.52},
    {3, 2, 1, 4, 4, {0, 7, 14, 20, 30}, 1.53},
    {4, 2, 1, 2, 8, {0, 5, 9, 12, 14, 17, 20, 23, 30}, 1.54},
    {5, 2, 1, 1, 16, {0, 3, 5, 7, 9, 11, 13, 14, 16, 18, 19, 20, 21, 23, 24, 25, 30}, 1.58},
    {6, 4, 1, 4, 4, {0, 6, 13, 20, 30}, 1.71},
    {7, 1, 1, 8, 2, {0, 14, 30}, 2.23},
    {8, 1, 2, 2, 4, {0, 8, 14, 20, 30}, 2.8},
    {9, 4, 1, 2, 8, {0, 3, 7, 11, 14, 17, 20, 23, 30}, 1.71},
    // trial 10: mbs 4 tp 1 dp 1 pp 16 did not run (inf)
    {11, 1, 2, 1, 8, {0, 5, 8, 11, 14, 17, 20, 23, 30}, 3.81},
    {12, 2, 1, 8, 2, {0, 14, 30}, 2.26},
    {13, 1, 2, 4, 2, {0, 14, 30}, 2.89},
    {14, 2, 2, 2, 4, {0, 8, 14, 20, 30}, 2.37},
    {15, 4, 1, 8, 2, {0, 14, 30}, 2.34},
    {16, 2, 2, 1, 8, {0, 5, 8, 11, 14, 17, 20, 23, 30}, 3.36},
    {17, 2, 2, 4, 2, {0, 14, 30}, 2.5},
    {18, 1, 2, 8, 1, {0, 30}, 3.13},
    {19, 2, 2, 8, 1, {0, 30}, 3.06},
    {20, 4, 2, 8, 1, {0, 30}, 3.03},
    {21, 1, 1, 16, 1, {0, 30}, 2.9},
    // trial 22: mbs 2 tp 1 dp 16 pp 1 did not run (inf)
    {23, 8, 1, 4, 4, {0, 8, 14, 20, 30}, 2.07},
    {24, 4, 2, 4, 2, {0, 14, 30}, 2.41},
    {25, 4, 2, 2, 4, {0, 8, 14, 20, 30}, 1.65},
    // trial 26: mbs 8 tp 1 dp 2 pp 8 did not run (inf)
    // trial 27: mbs 1 tp 4 dp 2 pp 2 did not run (inf)
    {28, 4, 2, 1, 8, {0, 5, 8, 11, 14, 17, 20, 23, 30}, 1.79},
    // trial 29: mbs 1 tp 4 dp 1 pp 4 did not run (inf)
    {30, 1, 4, 4, 1, {0, 30}, 3.8},
    {31, 2, 4, 4, 1, {0, 30}, 3.56},
    {32, 4, 4, 4, 1, {0, 30}, 3.29},
    {33, 8, 4, 4, 1, {0, 30}, 3.27},
    // trial 34: mbs 8 tp 1 dp 1 pp 16 did not run (inf)
    {35, 2, 4, 2, 2, {0, 14, 30}, 3.29},
    {36, 2, 4, 1, 4, {0, 8, 14, 20, 30}, 3.92},
    {37, 4, 4, 2, 2, {0, 14, 30}, 2.66},
    {38, 8, 2, 4, 2, {0, 14, 30}, 2.45},
    {39, 4, 4, 1, 4, {0, 8, 14, 20, 30}, 2.05},
    {40, 8, 2, 2, 4, {0, 8, 14, 20, 30}, 1.91},
    {41, 8, 4, 2, 2, {0, 14, 30}, 2.71},
    {42, 8, 2, 1, 8, {0, 5, 8, 11, 14, 17, 20, 23, 30}, 2.12},
    {43, 8, 4, 1, 4, {0, 8, 14, 20, 30}, 2.13},
    // trial 44: mbs 16 tp 1 dp 2 pp 8 did not run (inf)
    // trial 45: mbs 16 tp 1 dp 1 pp 16 did not run (inf)
    {46, 16, 4, 2, 2, {0, 14, 30}, 2.66},
    {47, 16, 2, 2, 4, {0, 8, 14, 20, 30}, 2.33},
    {48, 16, 4, 1, 4, {0, 8, 14, 20, 30}, 2.49},
    {49, 16, 2, 1, 8, {0, 5, 8, 11, 14, 17, 20, 23, 30}, 2.69},
    // trial 50: mbs 32 tp 1 dp 1 pp 16 did not run (inf)
    {51, 32, 4, 1, 4, {0, 8, 14, 20, 30}, 3.13},
    // trial 52: mbs 32 tp 2 dp 1 pp 8 did not run (inf)
};

// src/results/homogeneous_results.txt (16 T4 over 50 Gb/s Ethernet).
const std::vector<Trial> kT4 = {
    {0, 1, 1, 16, 1, {0, 30}, 1.32},
    // trial 1: mbs 2 tp 1 dp 16 pp 1 did not run (inf)
    {2, 1, 1, 8, 2, {0, 15, 30}, 1.28},
    {3, 1, 1, 4, 4, {0, 9, 15, 21, 30}, 1.2},
    {4, 1, 1, 2, 8, {0, 6, 9, 12, 15, 18, 21, 24, 30}, 1.23},
    {5, 2, 1, 8, 2, {0, 15, 30}, 1.38},
    {6, 1, 1, 1, 16, {0, 4, 6, 8, 10, 12, 14, 16, 17, 18, 19, 20, 21, 22, 23, 25, 30}, 1.55},
    {7, 2, 1, 4, 4, {0, 9, 15, 21, 30}, 1.41},
    {8, 2, 1, 2, 8, {0, 5, 9, 12, 15, 18, 21, 24, 30}, 1.43},
    {9, 4, 1, 8, 2, {0, 14, 30}, 1.72},
    {10, 2, 1, 1, 16, {0, 4, 6, 8, 10, 12, 14, 16, 17, 18, 19, 20, 21, 22, 23, 25, 30}, 1.76},
    {11, 1, 2, 8, 1, {0, 30}, 1.76},
    {12, 2, 2, 8, 1, {0, 30}, 1.64},
    {13, 4, 2, 8, 1, {0, 30}, 1.55},
    {14, 1, 2, 4, 2, {0, 14, 30}, 1.68},
    {15, 1, 2, 2, 4, {0, 8, 14, 20, 30}, 1.74},
    {16, 4, 1, 4, 4, {0, 9, 15, 21, 30}, 1.85},
    {17, 1, 2, 1, 8, {0, 5, 8, 11, 14, 17, 20, 23, 30}, 1.95},
    {18, 2, 2, 4, 2, {0, 14, 30}, 1.61},
    {19, 4, 1, 2, 8, {0, 5, 9, 12, 15, 18, 21, 24, 30}, 1.88},
    {20, 2, 2, 2, 4, {0, 8, 14, 20, 30}, 1.66},
    {21, 4, 1, 1, 16, {0, 4, 6, 8, 10, 12, 14, 16, 17, 18, 19, 20, 21, 22, 23, 25, 30}, 2.19},
    {22, 2, 2, 1, 8, {0, 5, 8, 11, 14, 17, 20, 23, 30}, 1.85},
    {23, 4, 2, 4, 2, {0, 14, 30}, 1.79},
    {24, 4, 2, 2, 4, {0, 8, 14, 20, 30}, 1.89},
    {25, 1, 4, 4, 1, {0, 30}, 2.48},
    {26, 2, 4, 4, 1, {0, 30}, 2.13},
    {27, 4, 4, 4, 1, {0, 30}, 1.98},
    {28, 8, 4, 4, 1, {0, 30}, 1.94},
    {29, 8, 1, 4, 4, {0, 8, 14, 20, 30}, 2.7},
    {30, 4, 2, 1, 8, {0, 5, 8, 11, 14, 17, 20, 23, 30}, 2.09},
    {31, 1, 4, 2, 2, {0, 14, 30}, 2.61},
    {32, 8, 2, 4, 2, {0, 14, 30}, 2.13},
    {33, 1, 4, 1, 4, {0, 8, 14, 20, 30}, 2.67},
    {34, 2, 4, 2, 2, {0, 14, 30}, 2.12},
    {35, 8, 1, 2, 8, {0, 5, 9, 12, 15, 18, 21, 24, 30}, 2.92},
    {36, 2, 4, 1, 4, {0, 8, 14, 20, 30}, 2.22},
    {37, 4, 4, 2, 2, {0, 14, 30}, 2.1},
    {38, 8, 1, 1, 16, {0, 4, 6, 8, 10, 12, 14, 16, 17, 18, 19, 20, 21, 22, 23, 25, 30}, 3.25},
    {39, 8, 2, 2, 4, {0, 8, 14, 20, 30}, 2.5},
    {40, 4, 4, 1, 4, {0, 8, 14, 20, 30}, 2.24},
    {41, 8, 4, 2, 2, {0, 14, 30}, 2.4},
    {42, 8, 2, 1, 8, {0, 5, 8, 11, 14, 17, 20, 23, 30}, 2.81},
    {43, 8, 4, 1, 4, {0, 8, 14, 20, 30}, 2.69},
    {44, 16, 4, 2, 2, {0, 14, 30}, 3.03},
    // trial 45: mbs 16 tp 1 dp 2 pp 8 did not run (inf)
    {46, 16, 2, 2, 4, {0, 8, 14, 20, 30}, 3.74},
    // trial 47: mbs 16 tp 1 dp 1 pp 16 did not run (inf)
    {48, 16, 2, 1, 8, {0, 5, 8, 11, 14, 17, 20, 23, 30}, 4.29},
    {49, 16, 4, 1, 4, {0, 8, 14, 20, 30}, 3.7},
    // trial 50: mbs 32 tp 4 dp 1 pp 4 did not run (inf)
    // trial 51: mbs 32 tp 1 dp 1 pp 16 did not run (inf)
};

std::string JobPath(const char* job) {
  const char* root = std::getenv("TANGRAM_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/configs/published/jobs/" + job;
}

// DeepSpeed pipe layer index -> Tangram layer index (embedding = 0, block.i = i + 1, head = 25).
int64_t ToTangramBoundary(int b, int64_t num_layers) {
  if (b == 0) return 0;
  if (b >= 30) return num_layers;
  return std::clamp<int64_t>(b - 1, 1, num_layers - 1);
}

// Simulates `t` as it ran: AMP's layout, micro-batch and stage boundaries, DeepSpeed's rank order.
absl::StatusOr<double> SimulatedStep(const char* job_file, const Trial& t) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  if (!catalog.ok()) return catalog.status();
  auto job = orchestrator::LoadJob(JobPath(job_file), *catalog);
  if (!job.ok()) return job.status();
  job->training.micro_batch = t.micro_batch;
  job->training.layout.tp = t.tp;
  job->training.layout.pp = t.pp;
  job->training.layout.dp = t.dp;
  auto cost = partitioner::CostModel::Create(job->fleet, job->model, job->training);
  if (!cost.ok()) return cost.status();
  auto plan = partitioner::MakePlan(*cost, "uniform");
  if (!plan.ok()) return plan.status();
  const auto n = static_cast<int64_t>(plan->layer_names.size());
  if (static_cast<int>(plan->stages.size()) != t.pp) {
    return absl::InternalError(absl::StrFormat("uniform made %d stages", plan->stages.size()));
  }
  for (int s = 0; s < t.pp; ++s) {
    auto& stage = plan->stages[s];
    stage.layer_begin = ToTangramBoundary(t.partition[s], n);
    stage.layer_end = ToTangramBoundary(t.partition[s + 1], n);
    for (int r = 0; r < t.dp; ++r) {
      auto& cell = stage.cells[r];
      cell.devices.clear();
      for (int k = 0; k < t.tp; ++k) cell.devices.push_back((s * t.dp + r) * t.tp + k);
    }
  }
  for (auto& replica : plan->replicas) {
    replica.samples = job->training.global_batch / t.dp;
    replica.micro_batch_size = t.micro_batch;
    replica.micro_batches = replica.samples / t.micro_batch;
  }
  if (auto st = cost->Evaluate(&*plan); !st.ok()) return st;
  auto step = Simulate(*cost, *plan, SimOptions{});
  if (!step.ok()) return step.status();
  return step->step_time_s;
}

struct Row {
  Trial trial;
  double simulated_s;
  double error() const { return trial.measured_s / simulated_s - 1; }  // + = simulated faster
};

std::vector<Row> SimulateAll(const char* job, const std::vector<Trial>& trials) {
  std::vector<Row> rows;
  for (const Trial& t : trials) {
    auto s = SimulatedStep(job, t);
    EXPECT_TRUE(s.ok()) << job << " trial " << t.trial << ": " << s.status();
    if (!s.ok()) continue;
    rows.push_back({t, *s});
    std::cout << absl::StrFormat(
        "%-32s trial %2d  mbs %2d tp %d pp %2d dp %2d  measured %5.2f s  "
        "simulated %5.2f s  %+6.1f%%\n",
        job, t.trial, t.micro_batch, t.tp, t.pp, t.dp, t.measured_s, *s, 100 * rows.back().error());
  }
  return rows;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Summary {
  double median = 0, worst = 0;
  double measured_gain = 0, simulated_gain = 0;  // even data parallelism's time ÷ the best's
};

// The best layout = the trial measured fastest; "even data parallelism" = tp 1, pp 1, dp 16 with
// equal shares (the trial with the smallest measured time among those).
Summary Summarize(const char* what, const std::vector<Row>& rows) {
  Summary s;
  std::vector<double> errors;
  for (const Row& r : rows) errors.push_back(std::abs(r.error()));
  s.median = Median(errors);
  s.worst = *std::max_element(errors.begin(), errors.end());
  const Row* best = nullptr;
  const Row* dp = nullptr;
  for (const Row& r : rows) {
    if (best == nullptr || r.trial.measured_s < best->trial.measured_s) best = &r;
    if (r.trial.pp == 1 && r.trial.tp == 1 &&
        (dp == nullptr || r.trial.measured_s < dp->trial.measured_s)) {
      dp = &r;
    }
  }
  if (best != nullptr && dp != nullptr) {
    s.measured_gain = dp->trial.measured_s / best->trial.measured_s;
    s.simulated_gain = dp->simulated_s / best->simulated_s;
  }
  std::cout << absl::StrFormat(
      "%s: %d measured trials, median |error| %.1f%%, worst %.1f%%; best layout (trial %d) over "
      "even data parallelism (trial %d): measured %.2fx, simulated %.2fx (%+.1f%%)\n",
      what, static_cast<int>(rows.size()), 100 * s.median, 100 * s.worst,
      best ? best->trial.trial : -1, dp ? dp->trial.trial : -1, s.measured_gain, s.simulated_gain,
      100 * (s.simulated_gain / s.measured_gain - 1));
  return s;
}

// Pure data parallelism (tp 1, pp 1, equal shares) is communication-bound on these fleets (the
// fp32 gradient allreduce of 355M parameters over 10 / 50 Gb/s, one NIC per node): held to 15 %.
void ExpectDataParallelRowsWithin(const std::vector<Row>& rows, double bound) {
  for (const Row& r : rows) {
    if (r.trial.tp == 1 && r.trial.pp == 1) {
      EXPECT_LT(std::abs(r.error()), bound) << "trial " << r.trial.trial;
    }
  }
}

// With the MEASURED compute of the source's own per-layer profile (what `tangram probe` gives a
// fleet: one model TFLOP/s per group), the gain target holds (best layout over even data
// parallelism within 20 % of the measured gain: 1.99x vs 2.27x) and data parallelism is within
// 15 %; the per-run targets (median <= 15 %, worst <= 30 %) are MISSED (20.2 %, 147 %),
// for two causes docs/simulator.md quantifies: one rate per group costs the tied LM head (a large,
// efficient GEMM: 2.5 ms measured against 12.5 ms at the blocks' rate) like the launch-bound
// blocks, so deep pipelines whose last stage holds the head come out 20-43 % slow; and tensor
// parallelism on this stack did not shorten a layer at all (AMP's tp-2 profile is 1.3x *slower*
// than tp 1), which a rate measured at tp 1 cannot know, so tp layouts at small micro-batches come
// out up to 2.6x fast. Held to the bands they sit in now so that a change that worsens them fails.
TEST(MixedFleetFidelityTest, AmpHeterogeneousClusterMeasuredCompute) {
  const auto rows = SimulateAll("amp-het-gpt2-345m-measured.yaml", kMixed);
  ASSERT_EQ(rows.size(), kMixed.size());
  const Summary s = Summarize("mixed fleet (12 V100 + 4 T4), measured compute", rows);
  EXPECT_NEAR(s.simulated_gain / s.measured_gain, 1.0, 0.20);
  ExpectDataParallelRowsWithin(rows, 0.15);
  // pipeline_p2p: rendezvous (DeepSpeed's engine, docs/simulator.md) moved the median from 18.6 %
  // to 20.2 % (the deep pipelines, already slow, get slower) and the worst from 157 % to 147 %.
  EXPECT_LT(s.median, 0.21);  // known miss: target 0.15
  EXPECT_LT(s.worst, 1.55);   // known miss: target 0.30
}

// The same on one kind over PCIe and 50 GbE: gain 0.97x simulated vs 1.10x measured (within 20 %),
// data parallelism -2.1 %; median 27.3 %, worst 94.9 % (tensor parallel 4 over PCIe at micro-batch
// 1).
TEST(MixedFleetFidelityTest, AmpT4EthernetClusterMeasuredCompute) {
  const auto rows = SimulateAll("amp-t4-gpt2-345m-measured.yaml", kT4);
  ASSERT_EQ(rows.size(), kT4.size());
  const Summary s = Summarize("PCIe/Ethernet (16 T4), measured compute", rows);
  EXPECT_NEAR(s.simulated_gain / s.measured_gain, 1.0, 0.20);
  ExpectDataParallelRowsWithin(rows, 0.15);
  EXPECT_LT(s.median, 0.30);  // known miss
  EXPECT_LT(s.worst, 1.00);   // known miss
}

// With MEASURED LAYER TIMES per kind and tensor-parallel degree (amp-*-layers.yaml: AMP's own
// per-layer profile at tp 1, 2 and 4, embedding / block / head; what `tangram probe` now writes),
// the head costs what it measured and a tp block what it measured at that degree, with the part
// of a tp-t time that the tp-1 time does not explain paid once per micro-batch
// (partitioner/cost_model.h), and DeepSpeed's rendezvous p2p (pipeline_p2p, the trials' stack).
// Median 12.2 % (target 15 %: met); worst 64.4 % (tp 2 pp 8 dp 1 at micro-batch 1, which AMP's
// own profile-based model also missed: it predicted 2.11 s for the measured 3.81 s): missed; gain
// 2.45x simulated vs 2.27x measured (+8.0 %: met; +21.1 % with pre-posted p2p). Held to these.
TEST(MixedFleetFidelityTest, AmpHeterogeneousClusterMeasuredLayerTimes) {
  const auto rows = SimulateAll("amp-het-gpt2-345m-layers.yaml", kMixed);
  ASSERT_EQ(rows.size(), kMixed.size());
  const Summary s = Summarize("mixed fleet (12 V100 + 4 T4), measured layer times", rows);
  EXPECT_NEAR(s.simulated_gain / s.measured_gain, 1.0, 0.20);  // the target
  ExpectDataParallelRowsWithin(rows, 0.15);
  EXPECT_LT(s.median, 0.15);  // the target
  EXPECT_LT(s.worst, 0.67);   // known miss: target 0.30
}

// The same on 16 T4 over PCIe and 50 GbE: median 10.3 % (met; 9.4 % with pre-posted p2p), worst
// 32.7 % (tp 4 dp 4 at micro-batch 1, no pipeline; target 30 %: missed by 2.7 points), gain 1.04x
// vs 1.10x (-5.3 %: met).
TEST(MixedFleetFidelityTest, AmpT4EthernetClusterMeasuredLayerTimes) {
  const auto rows = SimulateAll("amp-t4-gpt2-345m-layers.yaml", kT4);
  ASSERT_EQ(rows.size(), kT4.size());
  const Summary s = Summarize("PCIe/Ethernet (16 T4), measured layer times", rows);
  EXPECT_NEAR(s.simulated_gain / s.measured_gain, 1.0, 0.20);
  ExpectDataParallelRowsWithin(rows, 0.15);
  EXPECT_LT(s.median, 0.15);  // the target
  EXPECT_LT(s.worst, 0.35);   // known miss: target 0.30
}

// With catalog figures only (no measured compute): the kernel model, calibrated on A100 / H100 /
// Ascend 910B runs of large models, takes 0.665 of peak for Volta and Turing (no measured
// best-shape rate for either; the cost model warns), while this 2020 stack ran GPT-2 345M's blocks
// at 6-8 TFLOP/s (AMP's profile: 6 % of a V100's fp16 peak, 9 % of a T4's). Every compute-bound
// layout comes out 1.5-6x fast; pure data parallelism, bound by the network, stays within 6 %
// (mixed) and 65 % (T4, where compute is a larger share). This is issue 10's reported miss,
// reproduced on the held-out runs; no constant is changed for it. Held to its band.
TEST(MixedFleetFidelityTest, AmpHeterogeneousClusterCatalogOnly) {
  const auto rows = SimulateAll("amp-het-gpt2-345m.yaml", kMixed);
  ASSERT_EQ(rows.size(), kMixed.size());
  const Summary s = Summarize("mixed fleet (12 V100 + 4 T4), catalog only", rows);
  EXPECT_LT(s.median, 1.20);  // known miss (109 %)
  ExpectDataParallelRowsWithin(rows, 0.15);
}

TEST(MixedFleetFidelityTest, AmpT4EthernetClusterCatalogOnly) {
  const auto rows = SimulateAll("amp-t4-gpt2-345m.yaml", kT4);
  ASSERT_EQ(rows.size(), kT4.size());
  const Summary s = Summarize("PCIe/Ethernet (16 T4), catalog only", rows);
  EXPECT_LT(s.median, 1.50);  // known miss (139 %)
}

}  // namespace
}  // namespace tangram::simulator
