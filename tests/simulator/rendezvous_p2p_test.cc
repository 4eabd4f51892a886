// pipeline_p2p: rendezvous (DeepSpeed's pipeline engine, partitioner/training.h): a transfer
// starts when both sides have reached their call, in TrainSchedule's order, and both cells wait
// until it ends. Checked against hand-derived step times on a 2-stage pipeline, against the
// default (pre-posted) mode, and against the cost model's closed form.
#include <cmath>

#include "gtest/gtest.h"
#include "orchestrator/simulator/engine.h"
#include "orchestrator/simulator/simulator.h"
#include "tests/simulator/sim_test_util.h"

namespace tangram::simulator {
namespace {

using testing::BlockModel;
using testing::EvenPlan;
using testing::MakeCost;
using testing::MakeFleet;
using testing::Training;

// Two stages, one replica, 1F1B, `m` micro-batches; every forward takes `f`, every backward `b`,
// every transfer `t` (all β, no α); no allreduce, no optimizer.
internal::Workload TwoStages(int m, double f, double b, double t, bool rendezvous) {
  internal::Workload w;
  w.pp = 2;
  w.dp = 1;
  w.chunks = 1;
  w.rendezvous_p2p = rendezvous;
  internal::ReplicaWork rep;
  rep.micro_batches = m;
  for (int s = 0; s < 2; ++s) {
    internal::VirtualStage st;
    st.cell = s;
    st.forward_s = f;
    st.backward_s = b;
    st.send_beta_s = t;
    st.prev_beta_s = t;
    rep.stages.push_back(st);
    internal::CellWork cw;
    cw.stage = s;
    CreateSchedule(partitioner::PipelineSchedule::kOneFOneB)->Order(s, 2, m, 1, &cw.ops);
    w.cells.push_back(cw);
    internal::RowWork row;
    row.cells = {s};
    w.rows.push_back(row);
  }
  w.replicas.push_back(rep);
  return w;
}

double Step(const internal::Workload& w, bool contention) {
  StepResult res;
  res.cells.resize(w.cells.size());
  const absl::Status run = internal::RunStep(w, contention, false, &res);
  EXPECT_TRUE(run.ok()) << run;
  return res.step_time_s;
}

// Two micro-batches, F = 1, B = 2, t = 0.25. Pre-posted: stage 0 runs F0, sends (t), F1, sends
// (t) while stage 1 runs F0 and B0; stage 1 sends grad 0 (t) and runs F1, B1, sends grad 1 (t);
// stage 0's B1 ends at 3F + 3B + 3t = 9.75. Rendezvous: stage 0's send of activation 1 waits for
// stage 1 to finish B0 and post its receive, then stage 1 sends grad 0 (a second transfer in
// series, DeepSpeed's RecvActivation before SendGrad): 3F + 3B + 4t = 10.
TEST(RendezvousP2pTest, TwoStagesHandDerived) {
  for (bool contention : {false, true}) {
    EXPECT_NEAR(Step(TwoStages(2, 1, 2, 0.25, false), contention), 9.75, 1e-12);
    EXPECT_NEAR(Step(TwoStages(2, 1, 2, 0.25, true), contention), 10.0, 1e-12);
  }
}

// With one micro-batch nothing overlaps either way: F + t + F + B + t + B in both modes.
TEST(RendezvousP2pTest, OneMicroBatchSameAsPosted) {
  EXPECT_NEAR(Step(TwoStages(1, 1, 2, 0.25, false), true), 6.5, 1e-12);
  EXPECT_NEAR(Step(TwoStages(1, 1, 2, 0.25, true), true), 6.5, 1e-12);
}

// Steady state of many micro-batches: each stage is busy per micro-batch with F + B and two
// transfers in series (its send and its receive), so the step grows by about one transfer per
// micro-batch over pre-posted p2p, and never deadlocks (m from 1 to 9, odd and even).
TEST(RendezvousP2pTest, ManyMicroBatchesChargeBothTransfers) {
  for (int m = 1; m <= 9; ++m) {
    const double posted = Step(TwoStages(m, 1, 2, 0.25, false), true);
    const double rendezvous = Step(TwoStages(m, 1, 2, 0.25, true), true);
    EXPECT_GE(rendezvous, posted - 1e-12) << "m " << m;
    // Rendezvous: the one-micro-batch step, then F + B + 2t per further micro-batch.
    EXPECT_NEAR(rendezvous, 6.5 + (m - 1) * (1 + 2 + 2 * 0.25), 1e-12) << "m " << m;
  }
}

// Deeper pipelines and data parallelism through Simulate: rendezvous is never faster than the
// default, and agrees with the cost model's closed form (which charges a stage its receives too)
// as the default does; a job without the key simulates bit for bit as before.
TEST(RendezvousP2pTest, AgreesWithTheCostModelAndDefaultIsUnchanged) {
  // Slow NICs (10 Gb/s) so that the p2p is a visible share of a stage.
  auto fleet = MakeFleet("A100-80G", 8, 4, "    nic_gbps: 10\n");
  for (int pp : {2, 4}) {
    auto training = Training(64, 2);
    auto posted_cost = MakeCost(fleet, BlockModel(16, 4096, 2048, 32000), training);
    auto posted_plan = EvenPlan(posted_cost, 8, pp, 4 / pp);
    ASSERT_TRUE(posted_cost.Evaluate(&posted_plan).ok());
    auto posted = Simulate(posted_cost, posted_plan, SimOptions{});
    ASSERT_TRUE(posted.ok()) << posted.status();
    auto explicit_training = training;
    explicit_training.pipeline_p2p = partitioner::PipelineP2p::kPosted;
    auto explicit_cost = MakeCost(fleet, BlockModel(16, 4096, 2048, 32000), explicit_training);
    auto same = Simulate(explicit_cost, posted_plan, SimOptions{});
    ASSERT_TRUE(same.ok()) << same.status();
    EXPECT_EQ(same->step_time_s, posted->step_time_s);  // bit for bit

    training.pipeline_p2p = partitioner::PipelineP2p::kRendezvous;
    auto cost = MakeCost(fleet, BlockModel(16, 4096, 2048, 32000), training);
    auto plan = EvenPlan(cost, 8, pp, 4 / pp);
    ASSERT_TRUE(cost.Evaluate(&plan).ok());
    auto res = Simulate(cost, plan, SimOptions{});
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_GT(res->step_time_s, posted->step_time_s) << "pp " << pp;
    EXPECT_GT(plan.predicted.step_time_s, posted_plan.predicted.step_time_s) << "pp " << pp;
    EXPECT_NEAR(res->step_time_s / plan.predicted.step_time_s, 1.0, 0.05) << "pp " << pp;
    // The closed form charges every stage its receives as well: twice the posted p2p here.
    for (int s = 0; s < pp; ++s) {
      EXPECT_NEAR(plan.stages[s].cells[0].send_s, 2 * posted_plan.stages[s].cells[0].send_s,
                  1e-9 * posted_plan.stages[s].cells[0].send_s)
          << "pp " << pp << " stage " << s;
    }
  }
}

// DeepSpeed's engine has no interleaved schedule: asking for one is an error, not a deadlock.
TEST(RendezvousP2pTest, InterleavedIsRefused) {
  auto fleet = MakeFleet("A100-80G", 8, 4);
  auto training = Training(64, 1);
  training.pipeline_p2p = partitioner::PipelineP2p::kRendezvous;
  auto cost = MakeCost(fleet, BlockModel(16, 4096, 2048, 32000), training);
  auto plan = EvenPlan(cost, 8, 4, 1);
  SimOptions options;
  options.schedule = partitioner::PipelineSchedule::kInterleaved;
  options.virtual_stages = 2;
  auto res = Simulate(cost, plan, options);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(res.status().message().find("rendezvous"), std::string::npos);
}

}  // namespace
}  // namespace tangram::simulator
