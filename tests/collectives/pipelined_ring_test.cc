// The pipelined ring reduce-scatter (Transport::PipelineChunkBytes > 0): blocks cut into sub-chunk
// cells that travel the ring one by one. Correctness on odd and non-power-of-two rank counts, with
// block sizes that the cell count does not divide; faults in the middle of the pipeline; and the
// default (0) keeping the textbook schedule that the virtual-clock tests check.
#include <vector>

#include "absl/strings/str_cat.h"
#include "collectives/sim/sim_world.h"
#include "gtest/gtest.h"
#include "tests/collectives/collective_suite.h"

namespace tangram::collectives {
namespace {

struct Case {
  int ranks;
  size_t chunk_bytes;  // 1: as many cells as allowed (16, or one per element for tiny blocks)
};

class PipelinedRingTest : public ::testing::TestWithParam<Case> {};

TEST_P(PipelinedRingTest, EveryOpTypeAndSizeMatchesSerialReference) {
  SimOptions options;
  options.ranks = GetParam().ranks;
  options.pipeline_chunk_bytes = GetParam().chunk_bytes;
  options.timeout = absl::Seconds(120);
  auto world = SimWorld::Create(options);
  ASSERT_TRUE(world.ok()) << world.status();
  testing::SuiteOptions suite;
  // Sizes 7 and 1023 give blocks of 1..341 elements: cells of uneven width, and cells that some
  // blocks do not reach (a zero-byte message) when blocks differ by one element.
  suite.sizes = {0, 1, 7, 1023, 4099, testing::kLargeCount};
  suite.large_count = 4099;
  suite.allreduce_algorithms = {Algorithm::kRing, Algorithm::kHierarchical};
  const std::vector<absl::Status> results =
      (*world)->Run([&](Communicator& comm) { return testing::RunCollectiveSuite(comm, suite); });
  for (int r = 0; r < options.ranks; ++r) EXPECT_TRUE(results[r].ok()) << results[r];
}

INSTANTIATE_TEST_SUITE_P(OddAndNonPowerOfTwo, PipelinedRingTest,
                         ::testing::Values(Case{2, 1}, Case{3, 1}, Case{3, 4096}, Case{5, 1},
                                           Case{6, 100}, Case{7, 4096}),
                         [](const auto& info) {
                           return absl::StrCat(info.param.ranks, "Ranks", info.param.chunk_bytes,
                                               "ByteChunks");
                         });

// Ring allreduces of 1000 f32 with 64-byte cells (16 per block on 3 ranks) under `faults`.
std::vector<absl::Status> RunWithFaults(FaultPlan faults) {
  SimOptions options;
  options.ranks = 3;
  options.pipeline_chunk_bytes = 64;
  options.algorithm = Algorithm::kRing;
  options.timeout = absl::Seconds(1);
  options.faults = std::move(faults);
  auto world = SimWorld::Create(options);
  EXPECT_TRUE(world.ok());
  return (*world)->Run([](Communicator& comm) -> absl::Status {
    std::vector<float> data(1000);
    for (int iteration = 0; iteration < 3; ++iteration) {
      for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(comm.rank() + i % 3);
      absl::Status status =
          comm.AllReduce(data.data(), data.data(), data.size(), DataType::kF32, ReduceOp::kSum);
      if (!status.ok()) return status;
      for (size_t i = 0; i < data.size(); ++i) {
        if (data[i] != static_cast<float>(3 + 3 * (i % 3))) return absl::InternalError("wrong");
      }
    }
    return absl::OkStatus();
  });
}

TEST(PipelinedRingFaultTest, KillInTheMiddleOfThePipelineFailsEveryRank) {
  FaultPlan plan;
  plan.kills.push_back({.rank = 1, .at_op = 20});  // inside the first allreduce's cells
  for (const absl::Status& status : RunWithFaults(plan)) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  }
}

TEST(PipelinedRingFaultTest, DroppedCellTimesOutAndCorruptCellIsCaught) {
  FaultPlan drop;
  drop.drops.push_back({.rank = 0, .at_send = 7});
  int failures = 0;
  for (const absl::Status& status : RunWithFaults(drop)) {
    EXPECT_NE(status.message(), "wrong");
    failures += !status.ok();
    if (!status.ok()) {
      EXPECT_NE(status.code(), absl::StatusCode::kInternal) << status;
    }
  }
  EXPECT_EQ(failures, 3);  // every rank needs rank 0's data
  FaultPlan corrupt;
  corrupt.corrupts.push_back({.rank = 2, .at_send = 9});
  bool data_loss = false;
  for (const absl::Status& status : RunWithFaults(corrupt)) {
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message(), "wrong");
    data_loss |= status.code() == absl::StatusCode::kDataLoss;
  }
  EXPECT_TRUE(data_loss);
}

// Virtual seconds of one ring allreduce of 2^16 f32 on 4 ranks (64 KiB blocks) of a uniform
// fleet, with blocks cut into cells of `chunk_bytes` (0: whole blocks).
double RingSeconds(double alpha, double gamma, size_t chunk_bytes) {
  SimOptions options;
  options.ranks = 4;
  options.links = LinkModel::Uniform(4, {alpha, /*bandwidth_Bps=*/1e9});
  options.reduce_seconds_per_byte = gamma;
  options.pipeline_chunk_bytes = chunk_bytes;
  auto world = SimWorld::Create(options);
  for (const absl::Status& s : (*world)->Run([](Communicator& comm) {
         std::vector<float> data(1 << 16, 1.0f);
         CallOptions call;
         call.algorithm = Algorithm::kRing;
         absl::Status status = comm.AllReduce(data.data(), data.data(), data.size(), DataType::kF32,
                                              ReduceOp::kSum, call);
         if (status.ok() && data[12345] != 4.0f) return absl::InternalError("wrong");
         return status;
       })) {
    EXPECT_TRUE(s.ok()) << s;
  }
  return (*world)->MaxVirtualSeconds();
}

TEST(PipelinedRingTest, VirtualTimePaysAlphaPerCellAndOverlapsReduction) {
  // Without reduction cost the outgoing port is the bottleneck either way: 16 cells per block
  // cost 15 more α per reduce-scatter step, exactly.
  const double alpha = 10e-6, n = (1 << 16) * 4.0;
  const double whole = RingSeconds(alpha, 0.0, 0);
  EXPECT_NEAR(whole, 2 * 3 * alpha + 2.0 * 3 / 4 * n / 1e9, whole * 1e-9);
  EXPECT_NEAR(RingSeconds(alpha, 0.0, 4096), whole + 15 * 3 * alpha, whole * 1e-9);
  // With a reduction as slow as the link and a small α, reducing one cell while the next is on
  // the wire is what pipelining is for: the pipelined ring is faster.
  const double gamma = 1e-9;
  const double whole_reducing = RingSeconds(1e-7, gamma, 0);
  const double pipelined_reducing = RingSeconds(1e-7, gamma, 4096);
  EXPECT_LT(pipelined_reducing, 0.8 * whole_reducing)
      << "whole " << whole_reducing << " s, pipelined " << pipelined_reducing << " s";
}

}  // namespace
}  // namespace tangram::collectives
