// The collective suite under a real mpirun (registered for -np 2, 3 and 4, label "mpi"), with
// MPI's native collectives and with each of our algorithms over MPI point-to-point, plus the
// failure behaviour MPI allows us to test: a receive that never comes times out, and the aborted
// communicator then fails fast.
#include <time.h>

#include <vector>

#include "absl/time/clock.h"
#include "collectives/communicator.h"
#include "collectives/wait_policy.h"
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

double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Under the yield policy a rank waiting for a peer that still computes must leave its core idle
// (wait_policy.h, TestBeforeNapping): a yielding rank alone on a core takes the whole core, since
// sched_yield returns at once when nothing else is queued there. Rank 1 "computes" (sleeps) 8 ms
// before each send; rank 0's thread may use at most half of its waiting time. With 10 ms of
// yielding before the first nap (the earlier rule) it used all of it on an idle core; a rank
// that shares its core yields it away under either rule, so load cannot fail this test.
TEST(MpiCollectivesTest, AYieldingWaitLeavesItsCoreIdle) {
  auto comm = MakeMpi();
  ASSERT_NE(comm, nullptr);
  if (comm->size() < 2) GTEST_SKIP() << "needs two ranks";
  const WaitPolicy decided = CurrentWaitPolicy();
  SetWaitPolicy(WaitPolicy::kYield);
  ASSERT_TRUE(comm->Barrier().ok());
  constexpr int kRounds = 10;
  CallOptions call;
  call.timeout = absl::Seconds(30);  // a deadline: the polled wait, as training's calls
  int value = 0;
  if (comm->rank() == 0) {
    const double cpu_start = ThreadCpuSeconds();
    const absl::Time start = absl::Now();
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_TRUE(comm->Recv(&value, 1, DataType::kI32, 1, 11, call).ok());
      EXPECT_EQ(value, i);
    }
    const double wall = absl::ToDoubleSeconds(absl::Now() - start);
    const double cpu = ThreadCpuSeconds() - cpu_start;
    EXPECT_LT(cpu, 0.5 * wall) << "rank 0 used " << cpu << " s of CPU in " << wall
                               << " s of waiting";
  } else if (comm->rank() == 1) {
    for (int i = 0; i < kRounds; ++i) {
      absl::SleepFor(absl::Milliseconds(8));
      value = i;
      ASSERT_TRUE(comm->Send(&value, 1, DataType::kI32, 0, 11, call).ok());
    }
  }
  EXPECT_TRUE(comm->Barrier().ok());
  SetWaitPolicy(decided);
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
