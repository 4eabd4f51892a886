// CPU pools in the simulator (orchestrator/simulator/cpu_pool.h): processor sharing of a machine's
// cores, against analytic times, and what it does (and does not do) to whole steps.
#include "orchestrator/simulator/cpu_pool.h"

#include <cstdlib>
#include <cstring>
#include <map>

#include "gtest/gtest.h"
#include "orchestrator/simulator/simulator.h"
#include "tests/simulator/sim_test_util.h"

namespace tangram::simulator {
namespace {

using internal::ProcessorSharing;
using testing::EvenPlan;
using testing::MakeCost;
using testing::MakeFleet;
using testing::Training;

// Plays the pool's completion events in time order; returns each task's end time.
// `starts`: (time, id, work, demand) in time order, all in pool 0.
struct Arrival {
  double t;
  int32_t id;
  double work, demand;
};
std::map<int32_t, double> Play(double cores, const std::vector<Arrival>& arrivals) {
  ProcessorSharing ps({cores}, 8);
  std::map<int32_t, ProcessorSharing::Due> due;  // current completion per running task
  std::map<int32_t, double> ended;
  auto take = [&] {
    for (const auto& d : ps.changed()) due[d.id] = d;
  };
  size_t next = 0;
  while (next < arrivals.size() || !due.empty()) {
    auto first = due.begin();
    for (auto it = due.begin(); it != due.end(); ++it) {
      if (it->second.t < first->second.t) first = it;
    }
    if (next < arrivals.size() && (due.empty() || arrivals[next].t <= first->second.t)) {
      const Arrival& a = arrivals[next++];
      ps.Start(a.id, 0, a.work, a.demand, a.t);
      take();
      continue;
    }
    const ProcessorSharing::Due d = first->second;
    EXPECT_TRUE(ps.Current(d.id, d.version));
    due.erase(first);
    ended[d.id] = d.t;
    ps.Finish(d.id, d.t);
    EXPECT_FALSE(ps.Current(d.id, d.version));
    take();
  }
  return ended;
}

TEST(ProcessorSharingTest, TwoTasksOnOneCoreTakeTwiceAsLong) {
  auto ended = Play(1, {{0, 0, 1.0, 1}, {0, 1, 1.0, 1}});
  EXPECT_DOUBLE_EQ(ended[0], 2.0);
  EXPECT_DOUBLE_EQ(ended[1], 2.0);
}

TEST(ProcessorSharingTest, TasksWithinTheCoresRunAtFullRate) {
  auto ended = Play(2, {{0, 0, 1.0, 1}, {0, 1, 0.5, 1}});
  EXPECT_DOUBLE_EQ(ended[0], 1.0);
  EXPECT_DOUBLE_EQ(ended[1], 0.5);
}

TEST(ProcessorSharingTest, StaggeredTasksFinishAtTheAnalyticTimes) {
  // One core. A (1 s of work) runs alone for 0.5 s; then A and B share (rate 1/2): A's last
  // 0.5 s takes 1 s, to t = 1.5, when B has done 0.5 s of its 1 s; B alone to t = 2.
  auto ended = Play(1, {{0, 0, 1.0, 1}, {0.5, 1, 1.0, 1}});
  EXPECT_DOUBLE_EQ(ended[0], 1.5);
  EXPECT_DOUBLE_EQ(ended[1], 2.0);
  // Three tasks on two cores, staggered: A, B at 0 (1 s each, alone: rate 1); C at 0.5 (1 s): rate
  // 2/3 for all from 0.5. A and B have 0.5 s left: done at 0.5 + 0.75 = 1.25; C then has
  // 1 − 0.5 = 0.5 s left alone: done at 1.75.
  ended = Play(2, {{0, 0, 1.0, 1}, {0, 1, 1.0, 1}, {0.5, 2, 1.0, 1}});
  EXPECT_DOUBLE_EQ(ended[0], 1.25);
  EXPECT_DOUBLE_EQ(ended[1], 1.25);
  EXPECT_DOUBLE_EQ(ended[2], 1.75);
}

TEST(ProcessorSharingTest, DemandBelowOneCoreSharesLess) {
  // An EMULATION-slowed rank idles half its compute: two such on one core both run at full rate.
  auto ended = Play(1, {{0, 0, 1.0, 0.5}, {0, 1, 1.0, 0.5}});
  EXPECT_DOUBLE_EQ(ended[0], 1.0);
  EXPECT_DOUBLE_EQ(ended[1], 1.0);
}

// Four one-device nodes on one machine of 2 effective cores' worth: calibration (all four
// computing) measured half the solo rate.
partitioner::Fleet PooledFleet(bool pooled) {
  partitioner::Fleet fleet = MakeFleet("H100", 1, 4);
  if (!pooled) return fleet;
  partitioner::Measurements m;
  partitioner::MeasuredCpuPool pool;
  pool.machine = "test";
  pool.cores = 2;
  pool.ranks = {0, 1, 2, 3};
  pool.busy_tflops = 1;
  pool.solo_tflops = 2;
  m.cpu_pools.push_back(pool);
  fleet.measured = m;
  return fleet;
}

TEST(CpuPoolTest, EffectiveCoresFollowTheMeasuredRates) {
  partitioner::MeasuredCpuPool pool = PooledFleet(true).measured->cpu_pools[0];
  EXPECT_DOUBLE_EQ(pool.EffectiveCores(), 2.0);  // 4 ranks × 1 ÷ 2
  pool.cores = 4;                                // 4 ranks on 4 CPUs: solo below busy is noise,
  pool.solo_tflops = 0.9;                        // no sharing
  EXPECT_DOUBLE_EQ(pool.EffectiveCores(), 4.0);
}

TEST(CpuPoolTest, ASoloReadingBelowACoresRateAllBusyIsRaisedToIt) {
  // 4 ranks on 2 CPUs at 1 TFLOP/s each all busy: a core delivered 2 per rank, so a rank alone
  // computes at least at 2. A solo reading of 1.6 (one timed rank, disturbed) would make the
  // pool slower with every rank busy than it was measured (2 cores ÷ 4 tasks × 1.6 = 0.8 each).
  partitioner::MeasuredCpuPool pool = PooledFleet(true).measured->cpu_pools[0];
  pool.solo_tflops = 1.6;
  EXPECT_DOUBLE_EQ(pool.SoloTflops(), 2.0);
  EXPECT_DOUBLE_EQ(pool.EffectiveCores(), 2.0);
  pool.solo_tflops = 2.5;  // above it: as measured
  EXPECT_DOUBLE_EQ(pool.SoloTflops(), 2.5);
  EXPECT_DOUBLE_EQ(pool.EffectiveCores(), 4 * 1 / 2.5);
  pool.solo_tflops = 1.6;
  pool.demand = {1, 1, 1, 0.5};  // EMULATION: the busy rate reads high, the reading stands
  EXPECT_DOUBLE_EQ(pool.SoloTflops(), 1.6);
  pool.demand.clear();
  pool.cores = 0;  // unknown CPUs: nothing to bound it by
  EXPECT_DOUBLE_EQ(pool.SoloTflops(), 1.6);
}

TEST(CpuPoolTest, EveryRankBusyRunsAtTheBusyRateWhateverSoloReads) {
  // Data parallelism keeps every rank computing: each must run at the calibrated busy rate, also
  // when the solo reading came in below a core's rate (before the floor, 1.25x slower here).
  auto model = testing::BlockModel(8, 1024, 512);
  auto training = Training(32, 1);
  training.overlap_grad_reduce = false;
  partitioner::Fleet low_solo = PooledFleet(true);
  low_solo.measured->cpu_pools[0].solo_tflops = 1.6;
  auto plain_cost = MakeCost(PooledFleet(false), model, training);
  auto pooled_cost = MakeCost(low_solo, model, training);
  auto plain = Simulate(plain_cost, EvenPlan(plain_cost, 1, 1, 4), {});
  auto pooled = Simulate(pooled_cost, EvenPlan(pooled_cost, 1, 1, 4), {});
  ASSERT_TRUE(plain.ok() && pooled.ok());
  EXPECT_NEAR(pooled->step_time_s / plain->step_time_s, 1.0, 1e-9);
}

TEST(CpuPoolTest, EffectiveCoresNeverExceedTheCpus) {
  // uneven4 as probed: a rank slowed 2x (demand 0.5) calibrates longer and finishes alone, so the
  // mean busy rate reads high: 3.5 × 1.3 ÷ 2 = 2.275 effective cores on 2 CPUs. A rank alone runs
  // on one core, so the pool delivers at most 2.
  partitioner::MeasuredCpuPool pool = PooledFleet(true).measured->cpu_pools[0];
  pool.demand = {1, 1, 1, 0.5};
  pool.busy_tflops = 1.3;
  EXPECT_DOUBLE_EQ(pool.EffectiveCores(), 2.0);
  pool.busy_tflops = 1.0;  // below the bound: as measured
  EXPECT_DOUBLE_EQ(pool.EffectiveCores(), 1.75);
  pool.cores = 0;  // unknown CPUs: no bound
  pool.busy_tflops = 1.3;
  EXPECT_DOUBLE_EQ(pool.EffectiveCores(), 3.5 * 1.3 / 2);
}

TEST(CpuPoolTest, DataParallelComputesAtTheCalibratedRate) {
  // Every rank computes the same ops at once: the pool is always full, each runs at the busy
  // rate it was calibrated at, and the step is what it is without the pool. (Gradient reduction
  // after the backward, as the CPU runtime does: a pooled op releases its buckets when it ends.)
  auto model = testing::BlockModel(8, 1024, 512);
  auto training = Training(32, 1);
  training.overlap_grad_reduce = false;
  auto plain_cost = MakeCost(PooledFleet(false), model, training);
  auto pooled_cost = MakeCost(PooledFleet(true), model, training);
  auto plain = Simulate(plain_cost, EvenPlan(plain_cost, 1, 1, 4), {});
  auto pooled = Simulate(pooled_cost, EvenPlan(pooled_cost, 1, 1, 4), {});
  ASSERT_TRUE(plain.ok() && pooled.ok());
  EXPECT_NEAR(pooled->step_time_s / plain->step_time_s, 1.0, 1e-9);
}

TEST(CpuPoolTest, PipelineRanksComputeFasterWhileOthersWait) {
  // pp 4, few micro-batches: most of the time fewer than 4 stages compute, so they get more than
  // the busy rate — but never more than solo (the pipeline takes at least half its time).
  auto model = testing::BlockModel(8, 1024, 512);
  auto plain_cost = MakeCost(PooledFleet(false), model, Training(4, 1));
  auto pooled_cost = MakeCost(PooledFleet(true), model, Training(4, 1));
  auto plain = Simulate(plain_cost, EvenPlan(plain_cost, 1, 4, 1), {});
  auto pooled = Simulate(pooled_cost, EvenPlan(pooled_cost, 1, 4, 1), {});
  ASSERT_TRUE(plain.ok() && pooled.ok());
  EXPECT_LT(pooled->step_time_s, 0.9 * plain->step_time_s);
  EXPECT_GT(pooled->step_time_s, 0.5 * plain->step_time_s);
}

// Steps `plan` on the pooled fleet with the CPU runtime's pinning on or off
// (orchestrator/runtime/cpu_pinning.h: pp > 1, 4 ranks on 2 CPUs, pinned round-robin stage-major).
double PooledStep(const partitioner::CostModel& cost, const partitioner::Plan& plan, bool pinning) {
  if (!pinning) {
    EXPECT_EQ(setenv("TANGRAM_CPU_PINNING", "0", 1), 0);
  }
  auto step = Simulate(cost, plan, {});
  EXPECT_EQ(unsetenv("TANGRAM_CPU_PINNING"), 0);
  EXPECT_TRUE(step.ok()) << step.status();
  return step.ok() ? step->step_time_s : 0;
}

TEST(CpuPoolTest, PinnedRanksRunOnTheirOwnCpu) {
  // pp 2 × dp 2: ranks 0 and 2 (replica 0's stages) on one CPU, 1 and 3 (replica 1's) on the
  // other. Equal replicas: every instant has as many computing ranks on each CPU, so one pool of
  // two cores and two pools of one are the same step.
  auto model = testing::BlockModel(8, 1024, 512);
  auto training = Training(8, 1);
  training.overlap_grad_reduce = false;
  auto cost = MakeCost(PooledFleet(true), model, training);
  const partitioner::Plan even = EvenPlan(cost, 1, 2, 2);
  EXPECT_NEAR(PooledStep(cost, even, true) / PooledStep(cost, even, false), 1.0, 1e-9);
  // Replica 0 takes 6 of the 8 sequences: once replica 1 is done its CPU idles, and replica 0's
  // two stages keep sharing theirs — pinned, they cannot borrow it.
  partitioner::Plan uneven = even;
  uneven.replicas[0].samples = 6;
  uneven.replicas[0].micro_batches = 6;
  uneven.replicas[1].samples = 2;
  uneven.replicas[1].micro_batches = 2;
  const double pinned = PooledStep(cost, uneven, true);
  const double shared = PooledStep(cost, uneven, false);
  EXPECT_GT(pinned, 1.1 * shared);
}

TEST(CpuPoolTest, FleetsWithoutPoolsAreUnchangedToTheBit) {
  // A GPU fleet (no cpu_pools; a measured section without pools, too) builds no pool: the engine
  // takes its plain path, and every figure is identical to the bit, events included.
  auto model = testing::BlockModel(8, 1024, 512);
  auto training = Training(16, 1);
  auto cost = MakeCost(MakeFleet("H100", 8, 2), model, training);
  partitioner::Fleet measured_fleet = MakeFleet("H100", 8, 2);
  measured_fleet.measured = partitioner::Measurements{};
  auto measured_cost = MakeCost(measured_fleet, model, training);
  SimOptions options;
  options.record_timeline = true;
  auto a = Simulate(cost, EvenPlan(cost, 2, 2, 4), options);
  auto b = Simulate(measured_cost, EvenPlan(measured_cost, 2, 2, 4), options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(std::memcmp(&a->step_time_s, &b->step_time_s, sizeof(double)), 0);
  EXPECT_EQ(a->events, b->events);
  ASSERT_EQ(a->cells.size(), b->cells.size());
  for (size_t c = 0; c < a->cells.size(); ++c) {
    EXPECT_EQ(std::memcmp(&a->cells[c].end_s, &b->cells[c].end_s, sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(&a->cells[c].compute_s, &b->cells[c].compute_s, sizeof(double)), 0);
  }
  ASSERT_EQ(a->timeline.size(), b->timeline.size());
  internal::Workload w;
  internal::AttachCpuPools(measured_fleet, EvenPlan(measured_cost, 2, 2, 4), a->cells, &w);
  EXPECT_TRUE(w.cell_pool.empty() && w.pool_cores.empty());
}

TEST(MeasuredFleetGroupsTest, OneRankGroupsOnOneHostReduceInsideIt) {
  // A measured fleet has one group per rank, named by host: ranks 0 and 1 on host a, 2 and 3 on
  // b. Their data-parallel allreduce runs inside host a (the runtime's shared memory), not over
  // its NIC; across hosts it stays a ring over the network.
  auto fleet = MakeFleet("cpu", 1, 1,
                         "  - {device: cpu, devices_per_node: 1, count: 1, host: a}\n"
                         "  - {device: cpu, devices_per_node: 1, count: 1, host: b}\n"
                         "  - {device: cpu, devices_per_node: 1, count: 1, host: b}\n");
  fleet.groups[0].host = "a";
  fleet.groups[1].host = "a";
  auto cost = MakeCost(fleet, testing::BlockModel(2, 128, 64), Training(4, 1));
  partitioner::AllreduceAlgorithm algorithm = partitioner::AllreduceAlgorithm::kNone;
  cost.AllreduceTime(cost.SummarizeGroup(std::vector<int64_t>{0, 1}), 1e6, &algorithm);
  EXPECT_EQ(algorithm, partitioner::AllreduceAlgorithm::kIntraNode);
  cost.AllreduceTime(cost.SummarizeGroup(std::vector<int64_t>{1, 2}), 1e6, &algorithm);
  EXPECT_EQ(algorithm, partitioner::AllreduceAlgorithm::kRing);
}

}  // namespace
}  // namespace tangram::simulator
