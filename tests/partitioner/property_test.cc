// On thousands of random fleets, models and jobs, every plan covers every layer exactly once and
// every sample exactly once, leaves no stage or replica empty, and fits every device's memory;
// every refusal is a FailedPrecondition that says what does not fit.
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "partitioner/strategy.h"
#include "tests/foundation/sample_count.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using testing::Job;
using testing::MakeCost;
using testing::MakeFleet;
using testing::MakeModel;

const char* kKinds[] = {"H200",       "H100", "H20",    "A100-80G",
                        "Ascend910B", "L40S", "MI300X", "HygonK100"};

void CheckPlan(const CostModel& cost, const Plan& plan, const std::string& what) {
  ASSERT_TRUE(ValidatePlan(plan, cost.slots().size(), cost.num_layers()).ok()) << what;
  std::vector<int> covered(cost.num_layers(), 0);
  for (const PlanStage& s : plan.stages) {
    ASSERT_LT(s.layer_begin, s.layer_end) << what;
    for (int64_t l = s.layer_begin; l < s.layer_end; ++l) ++covered[l];
    for (const PlanCell& c : s.cells) {
      EXPECT_LE(c.memory_gib, c.capacity_gib - cost.options().reserved_gib + 1e-9) << what;
    }
  }
  for (int64_t l = 0; l < cost.num_layers(); ++l)
    ASSERT_EQ(covered[l], 1) << what << " layer " << l;
  int64_t samples = 0;
  for (const PlanReplica& r : plan.replicas) {
    ASSERT_GE(r.samples, 1) << what;
    ASSERT_EQ(r.micro_batches, (r.samples + r.micro_batch_size - 1) / r.micro_batch_size) << what;
    samples += r.samples;
  }
  ASSERT_EQ(samples, cost.training().global_batch) << what;
  EXPECT_GT(plan.predicted.step_time_s, 0) << what;
  // The bound rates each kind on the whole model; a pipeline that gives the memory-heavy layers
  // (head, cross-entropy) to a high-bandwidth kind can beat that average by a hair.
  EXPECT_LE(plan.efficiency, 1.01) << what;
}

TEST(PropertyTest, EveryPlanCoversEveryLayerAndSampleOnceAndFits) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  // 2000 cases; the first 500 under the sanitizers (each strategy still on every fourth).
  constexpr int kCases = sampling::SampleCount(2000);
  int planned = 0, refused = 0;
  for (int i = 0; i < kCases; ++i) {
    std::string fleet;
    const int groups = pick(1, 4);
    for (int g = 0; g < groups; ++g) {
      if (g > 0) fleet += ",";
      absl::StrAppend(&fleet, kKinds[pick(0, 7)], ":", 1 << pick(0, 3), "x", pick(1, 4));
    }
    const int heads = 8 * pick(1, 8);
    ModelSpec model = MakeModel(pick(1, 40), heads * 128 * pick(1, 2), heads, 512 << pick(0, 4),
                                1000 * pick(8, 128), pick(0, 1) == 1, heads / (1 << pick(0, 3)));
    TrainingSpec job =
        Job(pick(1, 512), 1 << pick(0, 3), pick(0, 3), static_cast<Recompute>(pick(0, 2)));
    CostModel cost = MakeCost(MakeFleet(fleet), model, job);
    const char* strategy = i % 4 == 0   ? "uniform"
                           : i % 4 == 1 ? "proportional"
                           : i % 4 == 2 ? "hetero-pipeline"
                                        : "auto";
    const std::string what =
        absl::StrCat(strategy, " on ", fleet, ", ", model.name, ", batch ", job.global_batch);
    auto plan = MakePlan(cost, strategy);
    if (plan.ok()) {
      ++planned;
      CheckPlan(cost, *plan, what);
    } else {
      ++refused;
      EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition)
          << what << ": " << plan.status();
      EXPECT_FALSE(plan.status().message().empty());
    }
  }
  std::printf("%d plans checked, %d refused\n", planned, refused);
  EXPECT_GT(planned, kCases / 2);
}

}  // namespace
}  // namespace tangram::partitioner
