#include "partitioner/strategy.h"

#include <cmath>
#include <numeric>

#include "gtest/gtest.h"
#include "partitioner/plan_json.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using testing::Job;
using testing::Llama2_7B;
using testing::MakeCost;
using testing::MakeFleet;
using testing::MakeModel;

TEST(StrategyTest, FactoryKnowsEveryNameAndRejectsOthers) {
  for (const std::string& name : StrategyNames()) {
    auto s = CreateStrategy(name);
    ASSERT_TRUE(s.ok()) << name;
    EXPECT_EQ((*s)->name(), name);
  }
  auto bad = CreateStrategy("unifrom");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("uniform"), std::string::npos);
}

TEST(StrategyTest, H200H20Llama7BAutoBeatsUniformThreeTimes) {
  CostModel cost = MakeCost(MakeFleet("H200:8x1,H20:8x1"), Llama2_7B(), Job(512));
  for (const char* name : {"uniform", "proportional", "hetero-pipeline", "auto"}) {
    auto plan = MakePlan(cost, name);
    ASSERT_TRUE(plan.ok()) << name << ": " << plan.status();
    std::printf("%-16s tp=%d pp=%d dp=%d step=%.3f s tokens/s=%.0f mfu=%.3f eff=%.3f  %s\n", name,
                plan->tp, plan->pp, plan->dp, plan->predicted.step_time_s,
                plan->predicted.tokens_per_s, plan->predicted.mfu, plan->efficiency,
                plan->predicted.bottleneck.c_str());
  }
  auto uniform = MakePlan(cost, "uniform");
  auto best = MakePlan(cost, "auto");
  ASSERT_TRUE(uniform.ok() && best.ok());
  EXPECT_GE(best->predicted.tokens_per_s, 3.0 * uniform->predicted.tokens_per_s);
  EXPECT_GE(best->efficiency, 0.9);
}

}  // namespace
}  // namespace tangram::partitioner
