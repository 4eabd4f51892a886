// Split on the sim transport: uneven sub-communicators run at the same time without crosstalk,
// nest, and leave the parent usable; point-to-point and scale checks ride along.
#include <iostream>
#include <vector>

#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "collectives/sim/sim_world.h"
#include "gtest/gtest.h"

namespace tangram::collectives {
namespace {

std::unique_ptr<SimWorld> World(int ranks) {
  SimOptions options;
  options.ranks = ranks;
  options.timeout = absl::Seconds(30);
  auto world = SimWorld::Create(options);
  EXPECT_TRUE(world.ok());
  return *std::move(world);
}

TEST(SplitTest, UnevenGroupsRunConcurrentlyWithoutCrosstalk) {
  // 11 ranks: colors 0 (2 ranks), 1 (4 ranks), 2 (5 ranks); keys reverse the order.
  auto world = World(11);
  auto results = world->Run([](Communicator& comm) -> absl::Status {
    const int color = comm.rank() < 2 ? 0 : comm.rank() < 6 ? 1 : 2;
    auto sub = comm.Split(color, 100 - comm.rank());
    if (!sub.ok()) return sub.status();
    const int sizes[] = {2, 4, 5};
    if ((*sub)->size() != sizes[color]) return absl::InternalError("wrong group size");
    // Every group runs many allreduces at once; each value encodes the color.
    for (int iteration = 0; iteration < 50; ++iteration) {
      std::vector<int64_t> data(37, color * 1000 + iteration);
      absl::Status status =
          (*sub)->AllReduce(data.data(), data.data(), data.size(), DataType::kI64, ReduceOp::kSum);
      if (!status.ok()) return status;
      for (int64_t v : data) {
        if (v != sizes[color] * (color * 1000 + iteration)) return absl::InternalError("crosstalk");
      }
    }
    // Nested split by parity inside each group, then the parent is still usable.
    auto nested = (*sub)->Split((*sub)->rank() % 2, 0);
    if (!nested.ok()) return nested.status();
    int64_t one = 1, count = 0;
    absl::Status status = (*nested)->AllReduce(&one, &count, 1, DataType::kI64, ReduceOp::kSum);
    if (!status.ok()) return status;
    const int expected = ((*sub)->size() + ((*sub)->rank() % 2 == 0 ? 1 : 0)) / 2;
    if (count != expected) return absl::InternalError("nested split size");
    int64_t total = 0;
    status = comm.AllReduce(&one, &total, 1, DataType::kI64, ReduceOp::kSum);
    if (!status.ok()) return status;
    return total == comm.size() ? absl::OkStatus() : absl::InternalError("parent broken");
  });
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
}

// A job whose steps are long over a slow link raises its calls' deadline (the trainer's
// StepDeadline): later calls and communicators split from then on wait that long; one split before
// keeps the old deadline. Here one rank arrives 1 s late at a call with a 0.3 s default.
TEST(SplitTest, ARaisedDefaultTimeoutReachesLaterCallsAndSplits) {
  SimOptions options;
  options.ranks = 3;
  options.timeout = absl::Milliseconds(300);
  auto world = SimWorld::Create(options);
  ASSERT_TRUE(world.ok()) << world.status();
  auto results = (*world)->Run([](Communicator& comm) -> absl::Status {
    auto before = comm.Split(0, comm.rank());
    if (!before.ok()) return before.status();
    comm.SetDefaultTimeout(absl::Seconds(20));
    auto after = comm.Split(0, comm.rank());
    if (!after.ok()) return after.status();
    if ((*before)->default_timeout() != absl::Milliseconds(300) ||
        (*after)->default_timeout() != absl::Seconds(20) ||
        comm.default_timeout() != absl::Seconds(20)) {
      return absl::InternalError("the default timeouts are not as set");
    }
    int64_t one = 1, sum = 0;
    for (Communicator* c : {&comm, after->get()}) {
      if (comm.rank() == 2) absl::SleepFor(absl::Seconds(1));
      TANGRAM_RETURN_IF_ERROR(c->AllReduce(&one, &sum, 1, DataType::kI64, ReduceOp::kSum));
      if (sum != 3) return absl::InternalError("wrong sum");
    }
    return absl::OkStatus();
  });
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
}

TEST(SplitTest, NegativeColorIsRejected) {
  auto world = World(2);
  for (const absl::Status& status :
       world->Run([](Communicator& comm) { return comm.Split(-1, 0).status(); })) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(SplitTest, TaggedMessagesMatchInPostingOrder) {
  auto world = World(2);
  for (const absl::Status& status : world->Run([](Communicator& comm) -> absl::Status {
         if (comm.rank() == 0) {
           for (int32_t v : {1, 2, 3}) {
             absl::Status s = comm.Send(&v, 1, DataType::kI32, 1, /*tag=*/v % 2);
             if (!s.ok()) return s;
           }
           return absl::OkStatus();
         }
         int32_t odd1 = 0, even = 0, odd2 = 0;
         auto r1 = comm.IRecv(&odd1, 1, DataType::kI32, 0, 1);
         auto r2 = comm.IRecv(&odd2, 1, DataType::kI32, 0, 1);
         auto r3 = comm.IRecv(&even, 1, DataType::kI32, 0, 0);
         if (!r1.ok() || !r2.ok() || !r3.ok()) return absl::InternalError("post failed");
         for (auto* r : {&*r3, &*r2, &*r1}) {  // wait out of order
           absl::Status s = (*r)->Wait();
           if (!s.ok()) return s;
         }
         return odd1 == 1 && odd2 == 3 && even == 2 ? absl::OkStatus()
                                                    : absl::InternalError("out of order");
       })) {
    EXPECT_TRUE(status.ok()) << status;
  }
}

TEST(ScaleTest, ThousandTwentyFourRanksAllReduce) {
  auto world = World(1024);
  const absl::Time start = absl::Now();
  auto results = world->Run([](Communicator& comm) -> absl::Status {
    std::vector<float> data(16, 1.0f);
    for (Algorithm algorithm : {Algorithm::kRing, Algorithm::kHalvingDoubling}) {
      CallOptions call;
      call.algorithm = algorithm;
      absl::Status status = comm.AllReduce(data.data(), data.data(), data.size(), DataType::kF32,
                                           ReduceOp::kAvg, call);
      if (!status.ok()) return status;
      for (float v : data) {
        if (v != 1.0f) return absl::InternalError("wrong average");
      }
    }
    return comm.Barrier();
  });
  for (const absl::Status& status : results) ASSERT_TRUE(status.ok()) << status;
  std::cout << "1024-rank run: " << absl::ToDoubleMilliseconds(absl::Now() - start) << " ms\n";
}

TEST(ScaleTest, ThousandSmallAllReducesOnSixtyFourRanks) {
  auto world = World(64);
  const absl::Time start = absl::Now();
  auto results = world->Run([](Communicator& comm) -> absl::Status {
    float value = 1.0f;
    for (int i = 0; i < 1000; ++i) {
      value = 1.0f;
      absl::Status status = comm.AllReduce(&value, &value, 1, DataType::kF32, ReduceOp::kSum);
      if (!status.ok()) return status;
    }
    return value == 64.0f ? absl::OkStatus() : absl::InternalError("wrong sum");
  });
  for (const absl::Status& status : results) ASSERT_TRUE(status.ok()) << status;
  std::cout << "1000 allreduces on 64 ranks: " << absl::ToDoubleMilliseconds(absl::Now() - start)
            << " ms\n";
}

}  // namespace
}  // namespace tangram::collectives
