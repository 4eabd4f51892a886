// The islands communicator under a real mpirun (registered for 4 ranks in 2 islands and 5 ranks in
// 3 islands, label "mpi"): island-local MPI sub-communicators stand in for NCCL/HCCL, the bridge
// is MPI point-to-point. Ranks are assigned round-robin (island = rank mod K, from
// TANGRAM_TEST_ISLANDS=K), so an island's ranks are not contiguous; 5 ranks in 3 islands gives
// uneven islands (2, 2, 1). The suite must equal the serial reference; Split; and a member of one
// island that stops participating makes every rank of every island fail within the timeout.
#include <cstdlib>
#include <vector>

#include "absl/time/clock.h"
#include "collectives/communicator.h"
#include "collectives/islands/island_communicator.h"
#include "gtest/gtest.h"
#include "tests/collectives/collective_suite.h"

namespace tangram::collectives {
namespace {

int Islands() {
  const char* env = std::getenv("TANGRAM_TEST_ISLANDS");
  return env != nullptr ? std::atoi(env) : 2;
}

// `small_segments`: 64 KiB segments and 16 KiB bridge chunks (many pipeline steps); else 1 MiB
// segments with host shards whole (the default chunking).
std::unique_ptr<Communicator> MakeIslands(absl::Duration timeout = absl::Seconds(60),
                                          bool small_segments = true) {
  auto world = CreateCommunicator("mpi");
  EXPECT_TRUE(world.ok()) << world.status();
  if (!world.ok()) return nullptr;
  CommunicatorOptions options;
  options.island = (*world)->rank() % Islands();
  options.island_transport = "mpi";
  options.timeout = timeout;
  options.island_segment_bytes = small_segments ? 64 << 10 : 1 << 20;
  if (small_segments) options.bridge_chunk_bytes = 16 << 10;
  auto comm = CreateCommunicator("islands", options);
  EXPECT_TRUE(comm.ok()) << comm.status();
  return comm.ok() ? *std::move(comm) : nullptr;
}

TEST(IslandMpiTest, SuiteMatchesSerialReference) {
  auto comm = MakeIslands();
  ASSERT_NE(comm, nullptr);
  EXPECT_EQ(comm->transport_name(), "islands");
  testing::SuiteOptions suite;
  suite.sizes = {0, 1, 7, 1023, 70001, (1 << 20) + 3};
  suite.allreduce_algorithms = {Algorithm::kAuto, Algorithm::kRing};
  const absl::Status status = testing::RunCollectiveSuite(*comm, suite);
  EXPECT_TRUE(status.ok()) << status;
}

TEST(IslandMpiTest, LargeSegmentsOnLargeVectorsMatchSerialReference) {
  // 2^20+3 f32 with 1 MiB segments: ramped segments of whole host shards; on 3 islands (2, 2, 1)
  // the shards are large enough for the cross-island ring (then planned with 4 MiB segments:
  // 0.5, 1, 1, 1, 0.5 MiB), its 4 phases interleaved with the island steps of the other
  // segments, all 5 in flight, each on its own bridge tag.
  auto comm = MakeIslands(absl::Seconds(60), /*small_segments=*/false);
  ASSERT_NE(comm, nullptr);
  testing::SuiteOptions suite;
  suite.sizes = {(1 << 20) + 3};
  suite.types = {DataType::kF32};
  suite.allreduce_algorithms = {Algorithm::kAuto};
  const absl::Status status = testing::RunCollectiveSuite(*comm, suite);
  EXPECT_TRUE(status.ok()) << status;
  std::vector<float> data((1 << 20) + 3, 1.0f);
  ASSERT_TRUE(
      comm->AllReduce(data.data(), data.data(), data.size(), DataType::kF32, ReduceOp::kSum).ok());
  EXPECT_EQ(data.back(), static_cast<float>(comm->size()));
  auto* islands = dynamic_cast<IslandCommunicator*>(comm.get());
  ASSERT_NE(islands, nullptr);
  EXPECT_EQ(islands->last_cross_island_algorithm(),
            Islands() > 2 ? CrossIslandAlgorithm::kRing : CrossIslandAlgorithm::kExchange);
}

TEST(IslandMpiTest, SplitAcrossAndInsideIslands) {
  auto comm = MakeIslands();
  ASSERT_NE(comm, nullptr);
  const int k = Islands();
  // Across: one group per member index (spans the islands); inside: one group per island.
  auto across = comm->Split(comm->rank() / k, comm->rank());
  ASSERT_TRUE(across.ok()) << across.status();
  auto inside = comm->Split(comm->rank() % k, comm->rank());
  ASSERT_TRUE(inside.ok()) << inside.status();
  testing::SuiteOptions suite;
  suite.sizes = {0, 7, 1023};
  EXPECT_TRUE(testing::RunCollectiveSuite(**across, suite).ok());
  EXPECT_TRUE(testing::RunCollectiveSuite(**inside, suite).ok());
}

TEST(IslandMpiTest, SilentMemberFailsEveryIslandWithinTheTimeout) {
  const absl::Duration timeout = absl::Milliseconds(500);
  auto comm = MakeIslands(timeout);
  ASSERT_NE(comm, nullptr);
  // Rank 1 (island 1) stops taking part; MPI cannot tell the others, so each must find out
  // through its own deadline — in its island's collective or on the bridge.
  if (comm->rank() != 1) {
    std::vector<float> data(1 << 16, 1.0f);
    const absl::Time start = absl::Now();
    const absl::Status status =
        comm->AllReduce(data.data(), data.data(), data.size(), DataType::kF32, ReduceOp::kSum);
    EXPECT_FALSE(status.ok());
    EXPECT_LT(absl::Now() - start, 10 * timeout) << status;
    // Aborted: the next call fails at once.
    EXPECT_FALSE(comm->Barrier().ok());
  }
  // Resynchronise on a fresh communicator so that MPI_Finalize meets every rank.
  auto fresh = CreateCommunicator("mpi");
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE((*fresh)->Barrier().ok());
}

}  // namespace
}  // namespace tangram::collectives
