// The simulator against the closed form: a homogeneous fleet matches the cost model, a slower
// device stretches exactly its own work, shared links slow transfers down, bad input is refused.
#include "orchestrator/simulator/simulator.h"

#include <algorithm>
#include <cmath>

#include "gtest/gtest.h"
#include "partitioner/strategy.h"
#include "tests/simulator/sim_test_util.h"

namespace tangram::simulator {
namespace {

using testing::BlockModel;
using testing::EvenPlan;
using testing::MakeCost;
using testing::MakeFleet;
using testing::Training;

struct Layout {
  int tp, pp, dp;
};

class AgreementTest : public ::testing::TestWithParam<Layout> {};

// Without contention the simulator and the cost model share every number; on a homogeneous fleet
// their step times agree to within 5% (the cost model's 1F1B formula is exact for equal stages;
// what differs is how bucketed allreduces hide behind the drain).
TEST_P(AgreementTest, HomogeneousFleetMatchesCostModel) {
  const Layout l = GetParam();
  auto fleet = MakeFleet("H100", 8, 4);
  auto cost = MakeCost(fleet, BlockModel(32, 4096, 2048, 32000), Training(128, 2));
  auto plan = EvenPlan(cost, l.tp, l.pp, l.dp);
  ASSERT_TRUE(cost.Evaluate(&plan).ok());
  for (bool contention : {false, true}) {
    SimOptions options;
    options.contention = contention;
    auto res = Simulate(cost, plan, options);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_NEAR(res->step_time_s / plan.predicted.step_time_s, 1.0, 0.05)
        << "tp " << l.tp << " pp " << l.pp << " dp " << l.dp << " contention " << contention
        << ": simulated " << res->step_time_s << " s, cost model " << plan.predicted.step_time_s;
    EXPECT_NEAR(res->tokens_per_s * res->step_time_s, 128.0 * 2048, 1e-6);
    EXPECT_TRUE(res->fits_memory);
  }
}

// The interleaved schedule with v chunks played out against the cost model's closed form for the
// (evaluated) plan: within 5 %.
void ExpectInterleavedAgrees(const partitioner::CostModel& cost, const partitioner::Plan& plan,
                             int v, bool contention) {
  SimOptions options;
  options.contention = contention;
  options.schedule = partitioner::PipelineSchedule::kInterleaved;
  options.virtual_stages = v;
  auto res = Simulate(cost, plan, options);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_NEAR(res->step_time_s / plan.predicted.step_time_s, 1.0, 0.05)
      << "v " << v << ": simulated " << res->step_time_s << " s, cost model "
      << plan.predicted.step_time_s;
}

// A pinned interleaved layout (virtual_stages v): the cost model's replay of the interleaved order
// (about (m + (p − 1)/v)·c) against the schedule played out with links and buckets, within 5%.
TEST(AgreementTest, InterleavedScheduleMatchesCostModel) {
  auto fleet = MakeFleet("H100", 8, 4);
  for (int v : {2, 4}) {
    auto training = Training(128, 2);
    training.layout.virtual_stages = v;
    auto cost = MakeCost(fleet, BlockModel(32, 4096, 2048, 32000), training);
    auto plan = EvenPlan(cost, 8, 4, 1);
    ASSERT_TRUE(cost.Evaluate(&plan).ok());
    ExpectInterleavedAgrees(cost, plan, v, /*contention=*/true);
    // The bubble shrinks by v against the plain schedule (plus the p2p of v× the crossings).
    auto plain_training = Training(128, 2);
    auto plain_cost = MakeCost(fleet, BlockModel(32, 4096, 2048, 32000), plain_training);
    auto plain = EvenPlan(plain_cost, 8, 4, 1);
    ASSERT_TRUE(plain_cost.Evaluate(&plain).ok());
    // The cost model replays both orders (partitioner/pipeline_schedule.h): the interleaved fill
    // is (p − 1)/v of a stage's c plus what its chunks do not split evenly (the embedding rides
    // with the first chunk, the head with the last): 1.12 × plain / v at v 4 here.
    EXPECT_NEAR(plan.predicted.bubble_s / (plain.predicted.bubble_s / v), 1.0, 0.15) << "v " << v;
  }
}

// The same over a slow network, where the pipeline's sends are a large part of the step: with
// v > 1 the last stage also sends activations to the first (chunk c to chunk c + 1) and the first
// gradients back to the last, 2v − 1 sends per micro-batch at each end instead of v. The closed
// form counted v (16 % fast against the schedule on 3 × 8 V100 + 2 × 4 T4 over 25 Gb/s). Here the
// last stage, on the slower kind, sets the pace.
TEST(AgreementTest, InterleavedWrapAroundSendsOverSlowLinks) {
  auto fleet = partitioner::ParseFleet(
      "name: slow\nnodes:\n  - device: H100\n    devices_per_node: 1\n    count: 3\n"
      "    nic_gbps: 10\n  - device: A100-80G\n    devices_per_node: 1\n    count: 1\n"
      "    nic_gbps: 10\n",
      "slow.yaml", testing::Catalog());
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  for (int v : {2, 3}) {
    auto training = Training(64, 1);
    training.layout.virtual_stages = v;
    auto cost = MakeCost(*fleet, BlockModel(24, 2048, 2048), training);
    auto plan = EvenPlan(cost, 1, 4, 1);
    ASSERT_TRUE(cost.Evaluate(&plan).ok());
    const auto& first = plan.stages[0].cells[0];
    const auto& middle = plan.stages[1].cells[0];
    // Every stage sends 2v − 1 or 2v messages of one size over one link class.
    EXPECT_NEAR(first.send_s / middle.send_s, (2.0 * v - 1) / (2.0 * v), 1e-6) << "v " << v;
    ExpectInterleavedAgrees(cost, plan, v, /*contention=*/false);
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, AgreementTest,
                         ::testing::Values(Layout{8, 4, 1}, Layout{8, 1, 4}, Layout{4, 2, 4},
                                           Layout{2, 4, 4}, Layout{1, 8, 4}, Layout{8, 2, 2}));

TEST(SimulatorTest, StrategyPlansOnAMixedFleetRun) {
  auto fleet = MakeFleet("H200", 8, 1, "  - device: H20\n    devices_per_node: 8\n    count: 1\n");
  auto cost = MakeCost(fleet, BlockModel(32, 4096, 4096, 32000), Training(64, 1));
  for (std::string name : {"uniform", "proportional", "hetero-pipeline", "auto"}) {
    auto plan = partitioner::MakePlan(cost, name);
    if (!plan.ok()) continue;  // a strategy may find the job infeasible
    auto res = Simulate(cost, *plan, SimOptions{});
    ASSERT_TRUE(res.ok()) << name << ": " << res.status();
    EXPECT_GT(res->step_time_s, cost.BoundStepTime() * 0.999) << name;
    EXPECT_NEAR(res->step_time_s / plan->predicted.step_time_s, 1.0, 0.25) << name;
  }
}

// Pure data parallelism: device 0 twice as slow doubles its replica's compute and nothing else.
TEST(SlowDeviceTest, StretchesOnlyItsReplica) {
  auto fleet = MakeFleet("ideal", 4, 1);
  auto cost = MakeCost(fleet, BlockModel(8), Training(32));
  auto plan = EvenPlan(cost, 1, 1, 4);
  SimOptions options;
  auto base = Simulate(cost, plan, options);
  options.device_slowdown = {2, 1, 1, 1};
  auto slow = Simulate(cost, plan, options);
  ASSERT_TRUE(base.ok() && slow.ok());
  EXPECT_NEAR(slow->cells[0].compute_s, 2 * base->cells[0].compute_s, 1e-9);
  for (int r = 1; r < 4; ++r)
    EXPECT_NEAR(slow->cells[r].compute_s, base->cells[r].compute_s, 1e-12);
  EXPECT_NEAR(slow->pipeline_s, 2 * base->pipeline_s, 1e-9);
  EXPECT_NEAR(slow->cells[1].busy_fraction, base->cells[1].busy_fraction / 2, 0.01);
}

// In a 1F1B pipeline with free links, one stage k twice as slow stretches exactly its own work
// and sets the pace: the step is the fill and drain of the stages before it, m of its own
// micro-batches, and the one wait for its first gradient (the stages after it need longer for
// micro-batch 0 than its p − k − 1 warm-up forwards take):
//   Σ_{s<k} (f_s + b_s) + m·(f'_k + b'_k) + max(0, Σ_{s>k} (f_s + b_s) − (p − k − 1)·f'_k).
TEST(SlowDeviceTest, SlowStageSetsThePipelinePace) {
  const int p = 4, m = 8, k = 2;
  auto fleet = MakeFleet("ideal", p, 1);
  auto cost = MakeCost(fleet, BlockModel(4 * p), Training(m));
  auto plan = EvenPlan(cost, 1, p, 1);
  SimOptions options;
  auto base = Simulate(cost, plan, options);
  options.device_slowdown = {1, 1, 2, 1};
  auto res = Simulate(cost, plan, options);
  ASSERT_TRUE(res.ok() && base.ok());
  std::vector<double> f(p), b(p);
  for (int s = 0; s < p; ++s) {
    const auto& st = plan.stages[s];
    f[s] = options.device_slowdown[s] * cost.ForwardTime(0, 1, st.layer_begin, st.layer_end, 1);
    b[s] = options.device_slowdown[s] * cost.BackwardTime(0, 1, st.layer_begin, st.layer_end, 1);
  }
  double before = 0, after = 0;
  for (int s = 0; s < k; ++s) before += f[s] + b[s];
  for (int s = k + 1; s < p; ++s) after += f[s] + b[s];
  const double expected = before + m * (f[k] + b[k]) + std::max(0.0, after - (p - k - 1) * f[k]);
  EXPECT_NEAR(res->pipeline_s / expected, 1.0, 1e-6);
  EXPECT_NEAR(res->cells[k].slowdown, 2.0, 0);
  EXPECT_NEAR(res->cells[k].compute_s, 2 * base->cells[k].compute_s, 1e-9);
  for (int s = 0; s < p; ++s) {
    if (s != k) {
      EXPECT_NEAR(res->cells[s].compute_s, base->cells[s].compute_s, 1e-12);
    }
  }
}

// Two stages on two nodes, two replicas: stage 1's gradient buckets go out on the NIC while it
// sends its last gradients to stage 0 on the same NIC; with contention both slow down.
TEST(ContentionTest, SharedNicSlowsTheStepDown) {
  auto fleet = MakeFleet("H100", 8, 4);
  auto cost = MakeCost(fleet, BlockModel(8, 8192, 2048, 32000), Training(8, 1));
  auto plan = EvenPlan(cost, 8, 2, 2);
  SimOptions options;
  options.contention = false;
  auto free = Simulate(cost, plan, options);
  options.contention = true;
  auto shared = Simulate(cost, plan, options);
  ASSERT_TRUE(free.ok() && shared.ok());
  EXPECT_GT(shared->step_time_s, free->step_time_s);
  EXPECT_GT(shared->cells[2].send_s + shared->cells[3].send_s,
            free->cells[2].send_s + free->cells[3].send_s);
}

TEST(SimulatorTest, RejectsBadInput) {
  auto fleet = MakeFleet("ideal", 4, 1);
  auto cost = MakeCost(fleet, BlockModel(8), Training(8));
  auto plan = EvenPlan(cost, 1, 2, 2);
  SimOptions options;
  options.allreduce = partitioner::AllreduceAlgorithm::kIntraNode;  // an outcome, not a choice
  EXPECT_EQ(Simulate(cost, plan, options).status().code(), absl::StatusCode::kInvalidArgument);
  options = SimOptions{};
  options.device_slowdown = {1, 2};
  EXPECT_EQ(Simulate(cost, plan, options).status().code(), absl::StatusCode::kInvalidArgument);
  plan.stages[0].cells[0].devices[0] = 99;
  EXPECT_EQ(Simulate(cost, plan, SimOptions{}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SimulatorTest, AllreduceAlgorithmsOnTwoIslands) {
  auto fleet =
      MakeFleet("H200", 8, 2, "  - device: Ascend910B\n    devices_per_node: 8\n    count: 2\n");
  auto cost = MakeCost(fleet, BlockModel(8, 4096, 2048, 32000), Training(32, 1));
  auto plan = EvenPlan(cost, 8, 1, 4);
  double ring = 0, hier = 0;
  using partitioner::AllreduceAlgorithm;
  for (AllreduceAlgorithm algorithm :
       {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kHierarchical, AllreduceAlgorithm::kAuto}) {
    SimOptions options;
    options.allreduce = algorithm;
    auto res = Simulate(cost, plan, options);
    ASSERT_TRUE(res.ok()) << res.status();
    if (algorithm != AllreduceAlgorithm::kAuto) {
      EXPECT_EQ(res->allreduce_algorithm, algorithm);
    }
    if (algorithm == AllreduceAlgorithm::kRing) ring = res->step_time_s;
    if (algorithm == AllreduceAlgorithm::kHierarchical) hier = res->step_time_s;
    if (algorithm == AllreduceAlgorithm::kAuto) {
      EXPECT_LE(res->step_time_s, std::max(ring, hier) + 1e-12);
    }
  }
}

// A slow replica makes the fast ones wait at the allreduce; that wait is their idle time, not
// exposed communication: the exposed figure is what the reductions add past the last pipeline op
// (it read a fast cell's whole wait, 11.6 s of a 35.6 s step on a mixed fleet).
TEST(SimulatorTest, WaitingForASlowReplicaIsNotExposedCommunication) {
  auto fleet = MakeFleet("H100", 8, 1);
  auto cost = MakeCost(fleet, BlockModel(8, 4096, 2048, 32000), Training(64, 2));
  auto plan = EvenPlan(cost, 1, 1, 8);
  ASSERT_TRUE(cost.Evaluate(&plan).ok());
  SimOptions sim;
  sim.device_slowdown.assign(8, 1.0);
  sim.device_slowdown[7] = 3.0;  // one replica three times slower
  auto res = Simulate(cost, plan, sim);
  ASSERT_TRUE(res.ok()) << res.status();
  double longest_wait = 0;
  for (const auto& c : res->cells) longest_wait = std::max(longest_wait, c.allreduce_wait_s);
  EXPECT_GT(longest_wait, 0.3 * res->step_time_s);  // the fast replicas wait
  EXPECT_LE(res->exposed_allreduce_s, res->step_time_s - res->pipeline_s + 1e-9);
  EXPECT_LT(res->exposed_allreduce_s, 0.5 * longest_wait);
}

// overlap_grad_reduce = false (Megatron-LM before 2023): the data-parallel reduction starts after
// the backward pass, so all of it is exposed — in the simulator and in the cost model alike — and
// the step grows by what the overlapped run hid.
TEST(SimulatorTest, GradientReductionWithoutOverlapIsFullyExposed) {
  auto fleet = MakeFleet("H100", 8, 4);
  for (int pp : {1, 2}) {
    double step[2], exposed[2];
    for (bool overlap : {true, false}) {
      auto training = Training(64, 2);
      training.overlap_grad_reduce = overlap;
      auto cost = MakeCost(fleet, BlockModel(8, 4096, 2048, 32000), training);
      auto plan = EvenPlan(cost, 8, pp, 4 / pp);
      ASSERT_TRUE(cost.Evaluate(&plan).ok());
      auto res = Simulate(cost, plan, SimOptions{});
      ASSERT_TRUE(res.ok()) << res.status();
      step[overlap] = res->step_time_s;
      exposed[overlap] = res->exposed_allreduce_s;
      if (!overlap) {
        // Every stage's whole allreduce is exposed; the largest of them is the reported figure.
        double largest = 0;
        for (const auto& st : plan.stages) largest = std::max(largest, st.allreduce_s);
        EXPECT_NEAR(plan.predicted.exposed_allreduce_s, largest, 1e-12);
        EXPECT_GT(exposed[0], 0.5 * largest) << "pp " << pp;
      }
      EXPECT_NEAR(res->step_time_s / plan.predicted.step_time_s, 1.0, 0.05) << "pp " << pp;
    }
    EXPECT_GT(exposed[0], exposed[1]) << "pp " << pp;
    EXPECT_GT(step[0], step[1]) << "pp " << pp;
  }
}

}  // namespace
}  // namespace tangram::simulator
