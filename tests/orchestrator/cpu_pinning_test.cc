// Which CPU each rank of an oversubscribed machine trains on (orchestrator/runtime/cpu_pinning.h):
// the plan's stage-major order dealt round-robin, only for a whole multiple of the CPUs, and the
// process's own affinity as the kernel reports it after pinning.
#include "orchestrator/runtime/cpu_pinning.h"

#include <sched.h>

#include <cstdlib>

#include "gtest/gtest.h"

namespace tangram::orchestrator {
namespace {

// A plan whose stages hold `cells` (each a list of ranks: one cell per replica, tp ranks in it).
partitioner::Plan PlanOf(const std::vector<std::vector<std::vector<int64_t>>>& stages) {
  partitioner::Plan plan;
  plan.pp = static_cast<int>(stages.size());
  for (size_t s = 0; s < stages.size(); ++s) {
    partitioner::PlanStage stage;
    stage.index = static_cast<int>(s);
    for (size_t r = 0; r < stages[s].size(); ++r) {
      partitioner::PlanCell cell;
      cell.replica = static_cast<int>(r);
      cell.devices = stages[s][r];
      stage.cells.push_back(cell);
    }
    plan.stages.push_back(stage);
  }
  return plan;
}

std::vector<partitioner::MeasuredCpuPool> OnePool(std::vector<int64_t> ranks, int cores) {
  partitioner::MeasuredCpuPool pool;
  pool.machine = "test";
  pool.cores = cores;
  pool.ranks = std::move(ranks);
  pool.busy_tflops = 1;
  pool.solo_tflops = 2;
  return {pool};
}

std::vector<int> Indices(const partitioner::Plan& plan,
                         const std::vector<partitioner::MeasuredCpuPool>& pools, int ranks) {
  std::vector<int> out;
  for (int r = 0; r < ranks; ++r) out.push_back(PinnedCpuIndex(plan, pools, r).value_or(-1));
  return out;
}

TEST(CpuPinningTest, OneStagesRanksGoToDifferentCpus) {
  // pp2dp2, 4 ranks on 2 CPUs, stage 0 on ranks 0 and 1: each stage's replicas on both CPUs (the
  // placement that trained at 0.107-0.118 s a step; stage 0 on one CPU: 0.123-0.162 s).
  const auto pools = OnePool({0, 1, 2, 3}, 2);
  EXPECT_EQ(Indices(PlanOf({{{0}, {1}}, {{2}, {3}}}), pools, 4), (std::vector<int>{0, 1, 0, 1}));
  // The same layout with stage 0 on ranks 0 and 2 (the other unit order): still spread.
  EXPECT_EQ(Indices(PlanOf({{{0}, {2}}, {{1}, {3}}}), pools, 4), (std::vector<int>{0, 0, 1, 1}));
  // tp 2 × pp 2 × dp 2, 8 ranks on 4 CPUs: each stage on all four, each cell's two
  // tensor-parallel ranks on different CPUs.
  EXPECT_EQ(Indices(PlanOf({{{0, 1}, {2, 3}}, {{4, 5}, {6, 7}}}),
                    OnePool({0, 1, 2, 3, 4, 5, 6, 7}, 4), 8),
            (std::vector<int>{0, 1, 2, 3, 0, 1, 2, 3}));
  EXPECT_EQ(DescribePinning(PlanOf({{{0}, {2}}, {{1}, {3}}}), pools),
            "ranks 0,1 on CPU 1 of 2, ranks 2,3 on CPU 2 of 2");
}

TEST(CpuPinningTest, SixRanksOnTwoCpusTakeThreeEach) {
  const auto pools = OnePool({0, 1, 2, 3, 4, 5}, 2);
  EXPECT_EQ(Indices(PlanOf({{{0}, {1}, {2}}, {{3}, {4}, {5}}}), pools, 6),
            (std::vector<int>{0, 1, 0, 1, 0, 1}));
}

TEST(CpuPinningTest, RanksThePlanLeavesIdleComeLast) {
  // Ranks 0 and 3 train (two stages); 1 and 2 idle. Stage-major: 0, 3, then 1, 2.
  const auto pools = OnePool({0, 1, 2, 3}, 2);
  EXPECT_EQ(Indices(PlanOf({{{0}}, {{3}}}), pools, 4), (std::vector<int>{0, 0, 1, 1}));
}

TEST(CpuPinningTest, WithoutAPipelineTheKernelPlacesTheRanks) {
  // dp 4 and tp 2 × dp 2 on 2 CPUs: every rank computes at once; the kernel's balancing is kept.
  const auto pools = OnePool({0, 1, 2, 3}, 2);
  EXPECT_EQ(Indices(PlanOf({{{0}, {1}, {2}, {3}}}), pools, 4), (std::vector<int>{-1, -1, -1, -1}));
  EXPECT_EQ(Indices(PlanOf({{{0, 1}, {2, 3}}}), pools, 4), (std::vector<int>{-1, -1, -1, -1}));
  EXPECT_EQ(DescribePinning(PlanOf({{{0}, {1}, {2}, {3}}}), pools), "");
}

TEST(CpuPinningTest, OnlyAWholeMultipleOfTheCpusIsPinned) {
  const auto plan = PlanOf({{{0}}, {{1}}, {{2}}, {{3}}});
  // 3 ranks on 2 CPUs (pp3): one CPU would hold two ranks all run; the kernel keeps balancing.
  EXPECT_EQ(Indices(plan, OnePool({0, 1, 2}, 2), 3), (std::vector<int>{-1, -1, -1}));
  // A CPU per rank: nothing shares.
  EXPECT_EQ(Indices(plan, OnePool({0, 1}, 2), 2), (std::vector<int>{-1, -1}));
  // Ranks in no pool (a machine of their own).
  EXPECT_EQ(Indices(plan, OnePool({0, 1}, 1), 4), (std::vector<int>{0, 0, -1, -1}));
  EXPECT_EQ(DescribePinning(plan, OnePool({0, 1, 2}, 2)), "");
  EXPECT_EQ(DescribePinning(plan, {}), "");
}

std::vector<int> Affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

void Restore(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
}

TEST(CpuPinningTest, PinsThisProcessToItsCpu) {
  // This process as rank 1 of a machine with twice as many ranks as its CPUs, two stages of n
  // replicas (stage 0 on ranks 0..n-1: rank 1 on the second CPU when there are two).
  const std::vector<int> before = Affinity();
  const int n = static_cast<int>(before.size());
  std::vector<int64_t> ranks;
  std::vector<std::vector<std::vector<int64_t>>> stages(2);
  for (int r = 0; r < 2 * n; ++r) {
    ranks.push_back(r);
    stages[r / n].push_back({r});
  }
  const auto plan = PlanOf(stages);
  const auto pools = OnePool(ranks, n);

  ASSERT_EQ(setenv("TANGRAM_CPU_PINNING", "0", 1), 0);  // off: nothing changes
  EXPECT_EQ(PinnedCpuIndex(plan, pools, 1), std::nullopt);
  EXPECT_EQ(DescribePinning(plan, pools), "");
  auto pinned = PinThisRank(plan, pools, 1);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_FALSE(*pinned);
  EXPECT_EQ(Affinity(), before);
  ASSERT_EQ(unsetenv("TANGRAM_CPU_PINNING"), 0);

  // The launcher bound it to fewer CPUs than the pool has: left as the launcher set it.
  std::vector<int64_t> more;
  for (int r = 0; r < 2 * (n + 1); ++r) more.push_back(r);
  pinned = PinThisRank(plan, OnePool(more, n + 1), 1);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_FALSE(*pinned);
  EXPECT_EQ(Affinity(), before);

  pinned = PinThisRank(plan, pools, 1);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_TRUE(*pinned);
  EXPECT_EQ(Affinity(), (std::vector<int>{before[1 % n]}));
  // A later plan counts among the launcher's CPUs, not the one it is pinned to now.
  pinned = PinThisRank(plan, pools, 0);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(Affinity(), (std::vector<int>{before[0]}));
  // A re-plan without a pipeline pins nothing: the launcher's affinity comes back.
  std::vector<std::vector<int64_t>> one_stage;
  for (int r = 0; r < 2 * n; ++r) one_stage.push_back({r});
  pinned = PinThisRank(PlanOf({one_stage}), pools, 0);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_FALSE(*pinned);
  EXPECT_EQ(Affinity(), before);
  Restore(before);
}

}  // namespace
}  // namespace tangram::orchestrator
