// Virtual time: on a uniform fleet with known α, β (and γ), each algorithm's simulated time
// equals its α-β formula from shared/reference/devices.md; the clock is deterministic.
#include <algorithm>
#include <cmath>
#include <vector>

#include "collectives/sim/sim_world.h"
#include "gtest/gtest.h"

namespace tangram::collectives {
namespace {

constexpr double kAlpha = 10e-6;    // s
constexpr double kBandwidth = 1e9;  // B/s, so β = 1 ns/B
constexpr double kGamma = 0.25e-9;  // s/B

// Virtual seconds for one collective on `ranks` ranks of a uniform fleet.
double Simulate(int ranks, double gamma, const std::function<absl::Status(Communicator&)>& fn) {
  SimOptions options;
  options.ranks = ranks;
  options.links = LinkModel::Uniform(ranks, {kAlpha, kBandwidth});
  options.reduce_seconds_per_byte = gamma;
  auto world = SimWorld::Create(options);
  EXPECT_TRUE(world.ok());
  for (const absl::Status& status : (*world)->Run(fn)) EXPECT_TRUE(status.ok()) << status;
  return (*world)->MaxVirtualSeconds();
}

absl::Status AllReduceWith(Communicator& comm, Algorithm algorithm, size_t count) {
  std::vector<float> data(count, 1.0f);
  CallOptions call;
  call.algorithm = algorithm;
  return comm.AllReduce(data.data(), data.data(), count, DataType::kF32, ReduceOp::kSum, call);
}

class VirtualClockTest : public ::testing::TestWithParam<int> {};

TEST_P(VirtualClockTest, RingAllReduceMatchesFormula) {
  const int p = GetParam();
  const size_t count = 4096 * p;
  const double n = count * 4.0;
  const double got = Simulate(
      p, kGamma, [&](Communicator& comm) { return AllReduceWith(comm, Algorithm::kRing, count); });
  const double want =
      2 * (p - 1) * kAlpha + 2.0 * (p - 1) / p * n / kBandwidth + (p - 1.0) / p * n * kGamma;
  EXPECT_NEAR(got, want, want * 1e-9);
}

TEST_P(VirtualClockTest, HalvingDoublingAllReduceMatchesFormula) {
  const int p = GetParam();
  const size_t count = 4096 * p;
  const double n = count * 4.0;
  const double got = Simulate(p, kGamma, [&](Communicator& comm) {
    return AllReduceWith(comm, Algorithm::kHalvingDoubling, count);
  });
  const double want =
      2 * std::log2(p) * kAlpha + 2.0 * (p - 1) / p * n / kBandwidth + (p - 1.0) / p * n * kGamma;
  EXPECT_NEAR(got, want, want * 1e-9);
}

// kAuto takes whichever of the ring and halving-doubling the link's α-β model makes faster
// (a fixed 64 KiB switch to the ring was 2x slower at 8 ranks and 64 KiB).
TEST_P(VirtualClockTest, AutoPicksTheFasterAlgorithmOfTheLinkModel) {
  const int p = GetParam();
  for (size_t bytes : {size_t{1} << 10, size_t{64} << 10, size_t{4} << 20}) {
    const size_t count = bytes / 4;
    auto time = [&](Algorithm algorithm) {
      return Simulate(p, 0,
                      [&](Communicator& comm) { return AllReduceWith(comm, algorithm, count); });
    };
    const double best = std::min(time(Algorithm::kRing), time(Algorithm::kHalvingDoubling));
    EXPECT_LE(time(Algorithm::kAuto), best * (1 + 1e-9)) << p << " ranks, " << bytes << " bytes";
  }
}

TEST_P(VirtualClockTest, RingReduceScatterAndAllGatherMatchFormulas) {
  const int p = GetParam();
  const size_t block = 4096;
  const double n = block * p * 4.0;  // S = the whole array
  const double reduce_scatter = Simulate(p, kGamma, [&](Communicator& comm) {
    std::vector<float> in(block * p, 1.0f), out(block);
    return comm.ReduceScatter(in.data(), out.data(), block, DataType::kF32, ReduceOp::kSum);
  });
  EXPECT_NEAR(reduce_scatter,
              (p - 1) * kAlpha + (p - 1.0) / p * n / kBandwidth + (p - 1.0) / p * n * kGamma,
              reduce_scatter * 1e-9);
  const double all_gather = Simulate(p, 0.0, [&](Communicator& comm) {
    std::vector<float> in(block, 1.0f), out(block * p);
    return comm.AllGather(in.data(), out.data(), block, DataType::kF32);
  });
  EXPECT_NEAR(all_gather, (p - 1) * kAlpha + (p - 1.0) / p * n / kBandwidth, all_gather * 1e-9);
}

INSTANTIATE_TEST_SUITE_P(PowersOfTwo, VirtualClockTest, ::testing::Values(2, 4, 8, 16));

TEST(VirtualClockTest, IsDeterministicAcrossRuns) {
  auto run = [] {
    return Simulate(7, kGamma, [](Communicator& comm) {
      return AllReduceWith(comm, Algorithm::kHalvingDoubling, 1001);  // non-power-of-two fix-up
    });
  };
  const double first = run();
  EXPECT_GT(first, 0.0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(run(), first);
}

TEST(VirtualClockTest, HierarchicalBeatsFlatRingWhenIslandsAreSlow) {
  // 4 islands of 4 ranks: 100 GB/s inside, 1 GB/s across.
  std::vector<int> node(16), island(16);
  for (int r = 0; r < 16; ++r) node[r] = island[r] = r / 4;
  SimOptions options;
  options.ranks = 16;
  options.links =
      *LinkModel::Hierarchical(node, island, {1e-6, 100e9}, {1e-6, 100e9}, {20e-6, 1e9});
  auto seconds = [&](Algorithm algorithm) {
    auto world = SimWorld::Create(options);
    for (const absl::Status& s : (*world)->Run(
             [&](Communicator& comm) { return AllReduceWith(comm, algorithm, 1 << 18); })) {
      EXPECT_TRUE(s.ok()) << s;
    }
    return (*world)->MaxVirtualSeconds();
  };
  const double ring = seconds(Algorithm::kRing);
  const double hierarchical = seconds(Algorithm::kHierarchical);
  EXPECT_LT(hierarchical, ring * 0.6) << "ring " << ring << " s, hierarchical " << hierarchical;
}

}  // namespace
}  // namespace tangram::collectives
