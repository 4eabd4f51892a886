// The partitioner's named choices (kinds.h): every value round-trips through its name, an unknown
// name is refused with the known ones and a suggestion, the strategy registry answers by kind and
// by name alike, and a plan carries its strategy and allreduce algorithms as enums through the
// plan file.
#include "partitioner/kinds.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "partitioner/plan_json.h"
#include "partitioner/strategy.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using ::testing::HasSubstr;
using testing::Job;
using testing::MakeCost;
using testing::MakeFleet;
using testing::MakeModel;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST(KindsTest, EveryStrategyRoundTrips) {
  for (StrategyKind kind : kAllStrategies) {
    absl::StatusOr<StrategyKind> back = ParseStrategy(StrategyName(kind));
    ASSERT_TRUE(back.ok()) << StrategyName(kind) << ": " << back.status();
    EXPECT_EQ(*back, kind);
  }
  EXPECT_EQ(StrategyNames(), (std::vector<std::string>{"auto", "hetero-pipeline", "proportional",
                                                       "uniform", "oracle"}));
}

TEST(KindsTest, EveryScheduleRoundTrips) {
  for (PipelineSchedule schedule : kAllSchedules) {
    absl::StatusOr<PipelineSchedule> back = ParseSchedule(ScheduleName(schedule));
    ASSERT_TRUE(back.ok()) << ScheduleName(schedule) << ": " << back.status();
    EXPECT_EQ(*back, schedule);
  }
  EXPECT_EQ(ScheduleNames(), (std::vector<std::string>{"1f1b", "gpipe", "interleaved"}));
}

TEST(KindsTest, EveryAllreduceAlgorithmRoundTripsAndOnlyThreeAreRequests) {
  int requests = 0;
  for (AllreduceAlgorithm algorithm : kAllAllreduceAlgorithms) {
    absl::StatusOr<AllreduceAlgorithm> back =
        ParseAllreduceAlgorithm(AllreduceAlgorithmName(algorithm));
    ASSERT_TRUE(back.ok()) << AllreduceAlgorithmName(algorithm) << ": " << back.status();
    EXPECT_EQ(*back, algorithm);
    requests += IsAllreduceRequest(algorithm) ? 1 : 0;
  }
  EXPECT_EQ(requests, 3);
  EXPECT_FALSE(IsAllreduceRequest(AllreduceAlgorithm::kIntraNode));
  EXPECT_STREQ(AllreduceAlgorithmName(AllreduceAlgorithm::kIntraNode), "intra-node");
}

TEST(KindsTest, UnknownNamesListTheKnownAndSuggest) {
  absl::StatusOr<StrategyKind> strategy = ParseStrategy("unifrom");
  ASSERT_EQ(strategy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(strategy.status()),
            "unknown strategy \"unifrom\" (known: auto, hetero-pipeline, proportional, uniform, "
            "oracle); did you mean \"uniform\"?");
  absl::StatusOr<PipelineSchedule> schedule = ParseSchedule("GPipe");  // case only
  ASSERT_EQ(schedule.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(schedule.status()), HasSubstr("did you mean \"gpipe\"?"));
  absl::StatusOr<AllreduceAlgorithm> algorithm = ParseAllreduceAlgorithm("hierarchial");
  EXPECT_THAT(Message(algorithm.status()), HasSubstr("did you mean \"hierarchical\"?"));
  // Nothing close: the known names, no guess.
  schedule = ParseSchedule("zero-bubble-v");
  EXPECT_THAT(Message(schedule.status()), HasSubstr("(known: 1f1b, gpipe, interleaved)"));
  EXPECT_THAT(Message(schedule.status()), ::testing::Not(HasSubstr("did you mean")));
}

TEST(KindsTest, RegistryAnswersByKindAndByName) {
  for (StrategyKind kind : kAllStrategies) {
    EXPECT_EQ(CreateStrategy(kind)->kind(), kind);
    absl::StatusOr<std::unique_ptr<Strategy>> by_name = CreateStrategy(StrategyName(kind));
    ASSERT_TRUE(by_name.ok()) << by_name.status();
    EXPECT_EQ((*by_name)->kind(), kind);
    EXPECT_EQ((*by_name)->name(), StrategyName(kind));
  }
  EXPECT_THAT(Message(CreateStrategy("hetero_pipeline").status()),
              HasSubstr("did you mean \"hetero-pipeline\"?"));
}

// The strategy that made a plan and the algorithm the cost model picked per stage are enums in
// the Plan and names in its file, and a misspelt name in a plan file is refused naming the field.
TEST(KindsTest, PlanCarriesItsKindsThroughThePlanFile) {
  CostModel cost = MakeCost(MakeFleet("H100:8x2"), MakeModel(8, 1024, 8, 512, 32000), Job(64));
  absl::StatusOr<Plan> plan = MakePlan(cost, StrategyKind::kProportional);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->strategy, StrategyKind::kProportional);
  ASSERT_FALSE(plan->stages.empty());
  const AllreduceAlgorithm algorithm = plan->stages[0].allreduce_algorithm;
  EXPECT_NE(algorithm, AllreduceAlgorithm::kAuto);  // an outcome, never the request
  const nlohmann::json json = PlanToJson(*plan);
  EXPECT_EQ(json.at("strategy"), "proportional");
  EXPECT_EQ(json.at("stages")[0].at("allreduce_algorithm"), AllreduceAlgorithmName(algorithm));
  absl::StatusOr<Plan> back = PlanFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->strategy, StrategyKind::kProportional);
  EXPECT_EQ(back->stages[0].allreduce_algorithm, algorithm);

  nlohmann::json misspelt = json;
  misspelt["strategy"] = "proportinal";
  EXPECT_THAT(Message(PlanFromJson(misspelt).status()),
              HasSubstr("plan: field \"strategy\": unknown strategy \"proportinal\""));
  EXPECT_THAT(Message(PlanFromJson(misspelt).status()),
              HasSubstr("did you mean \"proportional\"?"));
  misspelt = json;
  misspelt["stages"][0]["allreduce_algorithm"] = "rign";
  EXPECT_THAT(Message(PlanFromJson(misspelt).status()),
              HasSubstr("unknown allreduce algorithm \"rign\""));
}

}  // namespace
}  // namespace tangram::partitioner
