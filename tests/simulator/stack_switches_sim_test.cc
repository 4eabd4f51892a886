// The software-stack switches act in the simulator through the same cost model and comm model:
// tp_comm_overlap shortens every pass by the tensor-parallel communication the GEMMs hide, ZeRO-2
// adds the parameter allgather after the optimizer step, pipeline_p2p: overlapped takes the
// pipeline sends off the sender's path; the simulator and the cost model agree.
#include "gtest/gtest.h"
#include "orchestrator/simulator/simulator.h"
#include "tests/simulator/sim_test_util.h"

namespace tangram::simulator {
namespace {

using testing::BlockModel;
using testing::EvenPlan;
using testing::MakeCost;
using testing::MakeFleet;
using testing::Training;

struct Switched {
  double simulated = 0, predicted = 0;
};

Switched SimulateBoth(const partitioner::TrainingSpec& training, int tp, int pp, int dp) {
  auto fleet = MakeFleet("H100", 8, 4);
  auto cost = MakeCost(fleet, BlockModel(16, 4096, 2048, 32000), training);
  auto plan = EvenPlan(cost, tp, pp, dp);
  const absl::Status evaluated = cost.Evaluate(&plan);
  EXPECT_TRUE(evaluated.ok()) << evaluated;
  auto res = Simulate(cost, plan, SimOptions{});
  EXPECT_TRUE(res.ok()) << res.status();
  if (!res.ok()) return {};
  EXPECT_NEAR(res->step_time_s / plan.predicted.step_time_s, 1.0, 0.05)
      << "tp " << tp << " pp " << pp << " dp " << dp;
  return {res->step_time_s, plan.predicted.step_time_s};
}

TEST(StackSwitchesTest, TpCommOverlapShortensTensorParallelSteps) {
  for (int pp : {1, 2}) {
    auto training = Training(64, 2);
    const Switched plain = SimulateBoth(training, 8, pp, 4 / pp);
    training.tp_comm_overlap = true;
    const Switched overlapped = SimulateBoth(training, 8, pp, 4 / pp);
    EXPECT_LT(overlapped.simulated, plain.simulated) << "pp " << pp;
    EXPECT_LT(overlapped.predicted, plain.predicted) << "pp " << pp;
  }
}

TEST(StackSwitchesTest, ZeroTwoWaitsForTheParameterGatherUnlessItOverlaps) {
  auto training = Training(64, 2);
  training.zero_stage = 2;
  const Switched exposed = SimulateBoth(training, 1, 1, 32);
  training.overlap_param_gather = true;
  const Switched hidden = SimulateBoth(training, 1, 1, 32);
  EXPECT_GT(exposed.simulated, hidden.simulated);
  EXPECT_NEAR(exposed.simulated - hidden.simulated, exposed.predicted - hidden.predicted,
              0.05 * exposed.predicted);
}

// pipeline_p2p: overlapped: the sender no longer waits for its pipeline send, exactly as the
// simulator's async_p2p option, and the cost model stops adding the sends to each stage's path.
TEST(StackSwitchesTest, OverlappedPipelineSendsLeaveTheSendersPath) {
  auto training = Training(64, 1);
  training.sequence_parallel = false;  // whole activations on the wire: sends worth seeing
  const Switched blocking = SimulateBoth(training, 1, 4, 8);
  training.pipeline_p2p = partitioner::PipelineP2p::kOverlapped;
  const Switched overlapped = SimulateBoth(training, 1, 4, 8);
  EXPECT_LT(overlapped.simulated, blocking.simulated);
  EXPECT_LT(overlapped.predicted, blocking.predicted);
  // The job switch and the simulator option are one mechanism.
  auto fleet = MakeFleet("H100", 8, 4);
  training.pipeline_p2p = partitioner::PipelineP2p::kPosted;
  auto cost = MakeCost(fleet, BlockModel(16, 4096, 2048, 32000), training);
  auto plan = EvenPlan(cost, 1, 4, 8);
  SimOptions async;
  async.async_p2p = true;
  auto res = Simulate(cost, plan, async);
  ASSERT_TRUE(res.ok()) << res.status();
  training.pipeline_p2p = partitioner::PipelineP2p::kOverlapped;
  auto switched_cost = MakeCost(fleet, BlockModel(16, 4096, 2048, 32000), training);
  auto switched = Simulate(switched_cost, plan, SimOptions{});
  ASSERT_TRUE(switched.ok()) << switched.status();
  EXPECT_DOUBLE_EQ(res->step_time_s, switched->step_time_s);
}

}  // namespace
}  // namespace tangram::simulator
