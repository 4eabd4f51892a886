// The collective suite under a real mpirun (registered for -np 2, 3 and 4, label "mpi"), with
// MPI's native collectives and with each of our algorithms over MPI point-to-point, plus the
// failure behaviour MPI allows us to test: a receive that never comes times out, and the aborted
// communicator then fails fast.
#include <vector>

#include "absl/time/clock.h"
#include "collectives/communicator.h"
#include "gtest/gtest.h"
#include "tests/collectives/collective_suite.h"

namespace tangram::collectives {
namespace {

std::unique_ptr<Communicator> MakeMpi() {
  CommunicatorOptions options;
  options.timeout = absl::Seconds(60);
  auto comm = CreateCommunicator("mpi", options);
  EXPECT_TRUE(comm.ok()) << comm.status();
  return comm.ok() ? *std::move(comm) : nullptr;
}

TEST(MpiCollectivesTest, NativeCollectivesMatchSerialReference) {
  auto comm = MakeMpi();
  ASSERT_NE(comm, nullptr);
  testing::SuiteOptions suite;
  suite.allreduce_algorithms = {Algorithm::kNative};
  EXPECT_TRUE(testing::RunCollectiveSuite(*comm, suite).ok());
}

TEST(MpiCollectivesTest, OurAlgorithmsOverMpiPointToPointMatchSerialReference) {
  CommunicatorOptions options;
  options.algorithm = Algorithm::kRing;  // non-native default: every op runs our algorithms
  options.timeout = absl::Seconds(60);
  auto comm = CreateCommunicator("mpi", options);
  ASSERT_TRUE(comm.ok()) << comm.status();
  testing::SuiteOptions suite;
  suite.allreduce_algorithms = {Algorithm::kRing, Algorithm::kHalvingDoubling, Algorithm::kTree,
                                Algorithm::kHierarchical, Algorithm::kFlat};
  const absl::Status status = testing::RunCollectiveSuite(**comm, suite);
  EXPECT_TRUE(status.ok()) << status;
}

TEST(MpiCollectivesTest, PipelinedRingOverMpiMatchesSerialReference) {
  // MPI pipelines the ring reduce-scatter in 128 KiB cells: these sizes give 2..16 cells per
  // block, blocks the cell count does not divide, and on 3 ranks blocks of unequal size.
  CommunicatorOptions options;
  options.algorithm = Algorithm::kRing;
  options.timeout = absl::Seconds(60);
  auto comm = CreateCommunicator("mpi", options);
  ASSERT_TRUE(comm.ok()) << comm.status();
  testing::SuiteOptions suite;
  suite.sizes = {(3 << 16) + 1, (1 << 19) + 7, (3 << 20) + 2};
  suite.types = {DataType::kF32, DataType::kBF16, DataType::kI64};
  suite.allreduce_algorithms = {Algorithm::kRing};
  const absl::Status status = testing::RunCollectiveSuite(**comm, suite);
  EXPECT_TRUE(status.ok()) << status;
}

TEST(MpiCollectivesTest, SplitGivesIndependentSubCommunicators) {
  auto comm = MakeMpi();
  ASSERT_NE(comm, nullptr);
  // Uneven groups: rank 0 alone, the rest together (when there are more than two ranks).
  const int color = comm->rank() == 0 ? 0 : 1;
  auto sub = comm->Split(color, -comm->rank());  // reversed order inside each group
  ASSERT_TRUE(sub.ok()) << sub.status();
  const int expected_size = color == 0 ? 1 : comm->size() - 1;
  EXPECT_EQ((*sub)->size(), expected_size);
  int64_t value = comm->rank(), sum = -1;
  ASSERT_TRUE((*sub)->AllReduce(&value, &sum, 1, DataType::kI64, ReduceOp::kSum).ok());
  const int64_t expected = color == 0 ? 0 : comm->size() * (comm->size() - 1) / 2;
  EXPECT_EQ(sum, expected);
}

TEST(MpiCollectivesTest, MissingMessageTimesOutAndAbortsTheCommunicator) {
  auto comm = MakeMpi();
  ASSERT_NE(comm, nullptr);
  if (comm->size() < 2) GTEST_SKIP() << "needs two ranks";
  CallOptions call;
  call.timeout = absl::Milliseconds(200);
  if (comm->rank() == 0) {
    // Rank 1 never sends: the receive must end with kDeadlineExceeded, not hang.
    int value = 0;
    const absl::Time start = absl::Now();
    const absl::Status status = comm->Recv(&value, 1, DataType::kI32, 1, 7, call);
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
    EXPECT_LT(absl::Now() - start, absl::Seconds(5));
    // The communicator is aborted: the next call fails at once with the same error.
    EXPECT_EQ(comm->Barrier(call).code(), absl::StatusCode::kDeadlineExceeded);
  } else {
    // The other ranks' collective with rank 0 (which has given up) also times out.
    const absl::Status status = comm->Barrier(call);
    EXPECT_FALSE(status.ok());
  }
  // Resynchronise on a fresh communicator so that later tests start together.
  auto fresh = MakeMpi();
  ASSERT_NE(fresh, nullptr);
  EXPECT_TRUE(fresh->Barrier().ok());
}

}  // namespace
}  // namespace tangram::collectives
