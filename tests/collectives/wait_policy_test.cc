#include "collectives/wait_policy.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tangram::collectives {
namespace {

RankMachine On(const std::string& machine, std::vector<int> cpus) {
  return RankMachine{machine, std::move(cpus)};
}

TEST(WaitPolicyTest, FourRanksOnTwoCoresYield) {
  // The netns harness: 2 namespace hosts × 2 ranks, one kernel, 2 CPUs each rank may use.
  const std::vector<RankMachine> ranks = {On("abc", {0, 1}), On("abc", {0, 1}), On("abc", {0, 1}),
                                          On("abc", {0, 1})};
  for (int r = 0; r < 4; ++r) {
    EXPECT_TRUE(Oversubscribed(ranks, r));
    EXPECT_EQ(ChoosePolicy(ranks, r), WaitPolicy::kYield);
  }
}

TEST(WaitPolicyTest, ACorePerRankSpins) {
  const std::vector<RankMachine> ranks = {On("abc", {0, 1}), On("abc", {0, 1})};
  EXPECT_FALSE(Oversubscribed(ranks, 0));
  EXPECT_EQ(ChoosePolicy(ranks, 1), WaitPolicy::kSpin);
}

TEST(WaitPolicyTest, CoresAreTheUnionOfTheRanksAffinity) {
  // Bound one per core: 3 ranks on cores {0}, {1}, {2} of one machine have 3 cores.
  EXPECT_FALSE(Oversubscribed({On("m", {0}), On("m", {1}), On("m", {2})}, 0));
  // Every rank bound to core 0 (a launcher binding each "node"'s first rank there): 1 core.
  EXPECT_TRUE(Oversubscribed({On("m", {0}), On("m", {0})}, 1));
}

TEST(WaitPolicyTest, MachinesAreCountedApart) {
  // 2 ranks on each of two single-core machines: both oversubscribed; a third machine with one
  // rank is not.
  const std::vector<RankMachine> ranks = {On("a", {0}), On("a", {0}), On("b", {0}), On("b", {0}),
                                          On("c", {0})};
  EXPECT_TRUE(Oversubscribed(ranks, 0));
  EXPECT_TRUE(Oversubscribed(ranks, 3));
  EXPECT_FALSE(Oversubscribed(ranks, 4));
}

TEST(WaitPolicyTest, UnknownMachineOrAffinity) {
  // An unreadable boot id shares nothing we can see.
  EXPECT_FALSE(Oversubscribed({On("", {0}), On("", {0})}, 0));
  // No affinity known anywhere on the machine: one CPU.
  EXPECT_TRUE(Oversubscribed({On("m", {}), On("m", {})}, 0));
  EXPECT_FALSE(Oversubscribed({On("m", {})}, 0));
  // Out of range: no.
  EXPECT_FALSE(Oversubscribed({On("m", {0})}, 3));
}

TEST(WaitPolicyTest, ParsesTheOverride) {
  std::string error;
  EXPECT_EQ(ParseWaitPolicy("spin", &error), WaitPolicy::kSpin);
  EXPECT_EQ(ParseWaitPolicy("yield", &error), WaitPolicy::kYield);
  EXPECT_EQ(ParseWaitPolicy("auto", &error), std::nullopt);
  EXPECT_TRUE(error.empty());
  EXPECT_EQ(ParseWaitPolicy("busy", &error), std::nullopt);
  EXPECT_NE(error.find("'busy'"), std::string::npos);
  EXPECT_STREQ(WaitPolicyName(WaitPolicy::kYield), "yield");
}

TEST(WaitPolicyTest, ProcessWidePolicy) {
  const WaitPolicy before = CurrentWaitPolicy();
  SetWaitPolicy(WaitPolicy::kYield);
  EXPECT_EQ(CurrentWaitPolicy(), WaitPolicy::kYield);
  SetWaitPolicy(before);
}

// A yielding rank stays runnable, so it must start napping long before a spinning one would
// (wait_policy.h says why); both nap only after a message in flight would have come.
TEST(WaitPolicyTest, AYieldingRankNapsBeforeASpinningOne) {
  EXPECT_LT(TestBeforeNapping(WaitPolicy::kYield), TestBeforeNapping(WaitPolicy::kSpin));
  EXPECT_LE(TestBeforeNapping(WaitPolicy::kYield), absl::Milliseconds(1));
  EXPECT_GE(TestBeforeNapping(WaitPolicy::kYield), kMaxWaitNap);
}

}  // namespace
}  // namespace tangram::collectives
