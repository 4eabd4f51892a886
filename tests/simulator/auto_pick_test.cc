// auto against every pinned layout on the published communication-bound fleets (issue 10 §1: "on
// one measured cluster auto picks a layout that measured worse than the best"): AMP's 16 T4
// cluster (PCIe, 50 GbE) and its 12 V100 + 4 T4 fleet, with measured layer times and with one
// measured rate per group, and Sailor's mixed consumer-GPU cluster on four and six nodes. For
// each micro-batch size, auto's predicted step must not exceed the exact predicted step
// (CostModel::Evaluate) of any pinned layout tp × pp × dp that fits, each built as `uniform`
// builds a pinned layout (equal blocks per stage, Megatron's rank order). Before the grid
// search knew the unit order (grid.h, UnitOrder), auto ranked tp 1 pp 4 dp 4 on the T4 cluster
// at 1.70 s (pipelines inside a node, gradients across the 50 GbE NICs) and picked dp 16
// (1.35 s), although the pinned layout (stages inside a node) is predicted 1.31 s.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "partitioner/cost_model.h"
#include "partitioner/strategy.h"

namespace tangram {
namespace {

std::string JobPath(const std::string& job) {
  const char* root = std::getenv("TANGRAM_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/configs/published/jobs/" + job;
}

struct Pinned {
  int tp, pp, dp;
  double step_s;
};

struct Result {
  partitioner::Plan auto_plan;
  std::vector<Pinned> pinned;  // every pinned layout that fits, with its exact predicted step
};

// auto's plan and every pinned layout's for `job` at micro-batch `mb`.
Result PlanAll(const std::string& job_file, int64_t mb) {
  Result out;
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  EXPECT_TRUE(catalog.ok());
  auto job = orchestrator::LoadJob(JobPath(job_file), *catalog);
  EXPECT_TRUE(job.ok()) << job.status();
  if (!job.ok()) return out;
  job->training.micro_batch = mb;
  job->training.layout = {};
  auto cost = partitioner::CostModel::Create(job->fleet, job->model, job->training);
  EXPECT_TRUE(cost.ok()) << cost.status();
  auto plan = partitioner::MakePlan(*cost, "auto");
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (plan.ok()) out.auto_plan = *plan;
  const int64_t devices = static_cast<int64_t>(cost->slots().size());
  for (int tp : {1, 2, 4, 8}) {
    for (int pp = 1; pp <= devices / tp; ++pp) {
      if (devices % (tp * pp) != 0) continue;
      partitioner::TrainingSpec t = job->training;
      t.layout.tp = tp;
      t.layout.pp = pp;
      t.layout.dp = static_cast<int>(devices / (tp * pp));
      auto c = partitioner::CostModel::Create(job->fleet, job->model, t);
      if (!c.ok()) continue;
      auto p = partitioner::MakePlan(*c, "uniform");
      if (!p.ok()) continue;  // does not fit, or tp does not divide a node or the heads
      out.pinned.push_back({tp, pp, *t.layout.dp, p->predicted.step_time_s});
    }
  }
  return out;
}

// auto ≤ every pinned layout (1e-9 relative), at each micro-batch; prints the table.
void ExpectAutoBeatsEveryPinnedLayout(const std::string& job, std::vector<int64_t> micro_batches) {
  for (int64_t mb : micro_batches) {
    const Result r = PlanAll(job, mb);
    ASSERT_FALSE(r.pinned.empty()) << job << " mb " << mb;
    const Pinned* best = &r.pinned[0];
    for (const Pinned& p : r.pinned) {
      if (p.step_s < best->step_s) best = &p;
    }
    const partitioner::Plan& a = r.auto_plan;
    std::cout << absl::StrFormat(
        "%-32s mb %2d  auto tp %d pp %2d dp %2d %7.4f s  best pinned tp %d pp %2d dp %2d %7.4f s  "
        "(%d pinned layouts fit)\n",
        job, mb, a.tp, a.pp, a.dp, a.predicted.step_time_s, best->tp, best->pp, best->dp,
        best->step_s, static_cast<int>(r.pinned.size()));
    for (const Pinned& p : r.pinned) {
      EXPECT_LE(a.predicted.step_time_s, p.step_s * (1 + 1e-9))
          << job << " mb " << mb << ": pinned tp " << p.tp << " pp " << p.pp << " dp " << p.dp;
    }
  }
}

TEST(AutoPickTest, AmpT4ClusterLayerTimes) {
  ExpectAutoBeatsEveryPinnedLayout("amp-t4-gpt2-345m-layers.yaml", {1, 2, 4});
  // The case issue 10 reported: the measured best, tp 1 pp 4 dp 4 at micro-batch 1 (AMP: 1.20 s;
  // dp 16 1.32 s), is predicted faster than dp 16, so auto must not pick dp 16.
  const Result r = PlanAll("amp-t4-gpt2-345m-layers.yaml", 1);
  double pp4dp4 = 0, dp16 = 0;
  for (const Pinned& p : r.pinned) {
    if (p.tp == 1 && p.pp == 4 && p.dp == 4) pp4dp4 = p.step_s;
    if (p.tp == 1 && p.pp == 1 && p.dp == 16) dp16 = p.step_s;
  }
  ASSERT_GT(pp4dp4, 0);
  ASSERT_GT(dp16, pp4dp4);
  EXPECT_FALSE(r.auto_plan.pp == 1 && r.auto_plan.dp == 16);
  EXPECT_LE(r.auto_plan.predicted.step_time_s, pp4dp4);
}

TEST(AutoPickTest, AmpT4ClusterOneRatePerGroup) {
  ExpectAutoBeatsEveryPinnedLayout("amp-t4-gpt2-345m-measured.yaml", {1, 2, 4});
}

TEST(AutoPickTest, AmpMixedFleetLayerTimes) {
  ExpectAutoBeatsEveryPinnedLayout("amp-het-gpt2-345m-layers.yaml", {1, 2, 4});
}

TEST(AutoPickTest, AmpMixedFleetOneRatePerGroup) {
  ExpectAutoBeatsEveryPinnedLayout("amp-het-gpt2-345m-measured.yaml", {1, 2, 4});
}

TEST(AutoPickTest, SailorMixedClusters) {
  for (const char* job : {"sailor-mit-n4-opt-350m.yaml", "sailor-mit-n6-opt-350m.yaml"}) {
    ExpectAutoBeatsEveryPinnedLayout(job, {2});
  }
}

}  // namespace
}  // namespace tangram
