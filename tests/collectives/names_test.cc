// The names of the collectives' enums (types.h): every value round-trips through its name, an
// unknown name is refused with the known ones and a suggestion, and the benchmark carries the
// parsed enums through to what it prints.
#include <string>

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
