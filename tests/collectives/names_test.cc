// The names of the collectives' enums (types.h): every value round-trips through its name, an
// unknown name is refused with the known ones and a suggestion, and the benchmark carries the
// parsed enums through to what it prints.
#include <string>
#include <vector>

#include "base/names.h"
#include "collectives/benchmark.h"
#include "collectives/types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tangram::collectives {
namespace {

using ::testing::HasSubstr;

TEST(CollectiveNamesTest, EveryAlgorithmRoundTrips) {
  for (Algorithm a : kAllAlgorithms) {
    absl::StatusOr<Algorithm> back = ParseAlgorithm(AlgorithmName(a));
    ASSERT_TRUE(back.ok()) << AlgorithmName(a) << ": " << back.status();
    EXPECT_EQ(*back, a);
  }
}

TEST(CollectiveNamesTest, EveryCollectiveOpRoundTrips) {
  for (CollectiveOp op : kAllCollectiveOps) {
    absl::StatusOr<CollectiveOp> back = ParseCollectiveOp(CollectiveOpName(op));
    ASSERT_TRUE(back.ok()) << CollectiveOpName(op) << ": " << back.status();
    EXPECT_EQ(*back, op);
  }
  EXPECT_EQ(CollectiveOpName(CollectiveOp::kReduceScatter), "reduce_scatter");
}

TEST(CollectiveNamesTest, EveryDataTypeAndReduceOpRoundTrips) {
  for (DataType t : kAllDataTypes) EXPECT_EQ(*ParseDataType(DataTypeName(t)), t);
  for (ReduceOp op : kAllReduceOps) EXPECT_EQ(*ParseReduceOp(ReduceOpName(op)), op);
}

TEST(CollectiveNamesTest, UnknownAlgorithmListsKnownAndSuggests) {
  absl::StatusOr<Algorithm> bad = ParseAlgorithm("rign");
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(bad.status().message());
  EXPECT_THAT(message, HasSubstr("unknown algorithm \"rign\""));
  EXPECT_THAT(message,
              HasSubstr("(known: auto, native, ring, halving_doubling, tree, hierarchical, flat)"));
  EXPECT_THAT(message, HasSubstr("did you mean \"ring\"?"));
}

// A shortened name that known names contain suggests them rather than the nearest by edits:
// "A100" is one edit from "H100" but means one of the A100 parts.
TEST(CollectiveNamesTest, AShortenedNameSuggestsTheNamesThatContainIt) {
  const std::vector<std::string> kinds = {"H100", "A100-80G", "A100-40G", "Ascend910B"};
  EXPECT_EQ(DidYouMean("A100", kinds), "did you mean \"A100-80G\" or \"A100-40G\"? ");
  EXPECT_EQ(DidYouMean("910b", kinds), "did you mean \"Ascend910B\"? ");
  EXPECT_EQ(DidYouMean("H10", kinds), "did you mean \"H100\"? ");
  EXPECT_EQ(DidYouMean("h100", kinds), "did you mean \"H100\"? ");  // case only: the name itself
}

TEST(CollectiveNamesTest, UnknownOpSuggestsTheClosest) {
  absl::StatusOr<CollectiveOp> bad = ParseCollectiveOp("allgathr");
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("did you mean \"allgather\"?"));
  // Far from every name: the known list, no guess.
  bad = ParseCollectiveOp("alltoall_v_with_counts");
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("known: allreduce, reduce_scatter"));
  EXPECT_THAT(std::string(bad.status().message()), ::testing::Not(HasSubstr("did you mean")));
}

TEST(CollectiveNamesTest, BenchmarkCarriesTheEnumsToItsOutput) {
  BenchmarkOptions options;
  options.op = CollectiveOp::kAllGather;
  options.algo = Algorithm::kRing;
  options.ranks = 3;
  options.min_bytes = options.max_bytes = 1536;
  options.iters = 1;
  options.warmup = 0;
  ::testing::internal::CaptureStdout();
  const absl::Status status = RunBenchmark(options);
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(out, HasSubstr("# allgather f32 on sim, 3 ranks, algo ring"));
}

}  // namespace
}  // namespace tangram::collectives
