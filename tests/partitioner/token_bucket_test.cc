// The token bucket of the link model (comm_model.h: TokenBucket, CommModel::LinkBucket and
// P2pTime) against analytic times, and what a measured bucket does to a fleet's links.
#include <cstring>
#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "partitioner/comm_model.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/measurements.h"

namespace tangram::partitioner {
namespace {

// 50 Mbit/s sustained (6.25 MB/s), a 64 KB bucket, 1 GB/s while it holds tokens.
TokenBucket Shaper() { return TokenBucket{64e3, 1.0, 0.00625}; }

TEST(TokenBucketTest, MessageSmallerThanTheBucketAfterIdleGoesAtPeakRate) {
  const TokenBucket b = Shaper();
  EXPECT_DOUBLE_EQ(b.SendTime(32e3, b.burst_bytes), 32e3 / 1e9);
  // It takes what it sent less what refilled meanwhile.
  EXPECT_DOUBLE_EQ(b.TokensAfter(32e3, b.burst_bytes), 64e3 - 32e3 * (1 - 0.00625));
}

TEST(TokenBucketTest, LongStreamGoesAtTheSustainedRate) {
  const TokenBucket b = Shaper();
  // The peak phase lasts until the tokens run out (they drain at peak − sustained).
  const double peak_s = 64e3 / ((1.0 - 0.00625) * 1e9);
  const double peak_bytes = peak_s * 1e9;
  EXPECT_NEAR(b.SendTime(10e6, b.burst_bytes), peak_s + (10e6 - peak_bytes) / 6.25e6, 1e-12);
  // Each further byte at the sustained rate; an empty bucket sends everything at it.
  EXPECT_NEAR(b.SendTime(20e6, b.burst_bytes) - b.SendTime(10e6, b.burst_bytes), 10e6 / 6.25e6,
              1e-9);
  EXPECT_DOUBLE_EQ(b.SendTime(1e6, 0), 1e6 / 6.25e6);
  EXPECT_EQ(b.TokensAfter(1e6, b.burst_bytes), 0);
}

TEST(TokenBucketTest, RefillsOverIdleGapsUpToItsSize) {
  const TokenBucket b = Shaper();
  EXPECT_DOUBLE_EQ(b.Refill(0, 2e-3), 2e-3 * 6.25e6);  // 12.5 KB in 2 ms
  EXPECT_DOUBLE_EQ(b.Refill(60e3, 1.0), 64e3);         // never past its size
  // Half refilled: the first 12.5 KB × peak ÷ (peak − sustained) of a message go at peak.
  const double t = b.SendTime(64e3, b.Refill(0, 2e-3));
  const double fast_s = 12.5e3 / ((1.0 - 0.00625) * 1e9);
  EXPECT_NEAR(t, fast_s + (64e3 - fast_s * 1e9) / 6.25e6, 1e-12);
}

TEST(TokenBucketTest, SteadyStateOfAPipeline) {
  const TokenBucket b = Shaper();
  // A message every 100 ms: the bucket refills in between, every message goes at peak.
  EXPECT_DOUBLE_EQ(b.SteadySendTime(64e3, 0.1), 64e3 / 1e9);
  // Back to back (period 0): the sustained rate.
  EXPECT_DOUBLE_EQ(b.SteadySendTime(64e3, 0), 64e3 / 6.25e6);
  // A message larger than the bucket, every 20 ms: its first 64 KB at peak, the rest at the
  // sustained rate, and the gap refills the bucket: the fixed point is the full bucket's time.
  const double t = b.SteadySendTime(100e3, 20e-3);
  EXPECT_DOUBLE_EQ(t, b.SendTime(100e3, b.burst_bytes));
  EXPECT_GT(t, 100e3 / 1e9);
  EXPECT_LT(t, 100e3 / 6.25e6);
  double tokens = b.burst_bytes;
  for (int i = 0; i < 10; ++i) tokens = b.Refill(b.TokensAfter(100e3, tokens), 20e-3 - t);
  EXPECT_DOUBLE_EQ(tokens, b.burst_bytes);
  // Every 10 ms the link is over-subscribed on average (100 KB per 16 ms): the bucket stays
  // empty and the sustained rate is all there is.
  EXPECT_DOUBLE_EQ(b.SteadySendTime(100e3, 10e-3), 100e3 / 6.25e6);
}

TEST(TokenBucketTest, InactiveBucketIsTheSustainedRateExactly) {
  for (const TokenBucket& b : {TokenBucket{0, 1.0, 0.00625}, TokenBucket{64e3, 0.00625, 0.00625},
                               TokenBucket{64e3, 0, 0.00625}}) {
    EXPECT_FALSE(b.active());
    const double plain = 1e5 / (0.00625 * 1e9);
    const double sent = b.SendTime(1e5, 64e3);
    EXPECT_EQ(std::memcmp(&plain, &sent, sizeof(double)), 0);
    EXPECT_EQ(b.SteadySendTime(1e5, 1.0), plain);
  }
}

// A measured fleet of two hosts, a and b, with `per_host` one-rank devices each, up to its
// `links:` key (the caller appends the entries). `hosts` lists each host once, as the probe does.
std::string TwoHosts(int per_host) {
  return absl::StrFormat(R"(name: two-hosts
nodes:
  - {device: cpu, devices_per_node: %d, count: 1, host: a}
  - {device: cpu, devices_per_node: %d, count: 1, host: b}
measured:
  when: "x"
  how: "y"
  tool_version: "1"
  ranks: %d
  hosts: [a, b]
  group_tflops: [0.03, 0.03]
  links:
)",
                         per_host, per_host, 2 * per_host);
}
const std::string kTwoHosts = TwoHosts(1);

Fleet Load(const std::string& link) {
  auto catalog = DeviceCatalog::BuiltIn();
  EXPECT_TRUE(catalog.ok());
  auto fleet = ParseFleet(kTwoHosts + "    - " + link + "\n", "f.yaml", *catalog);
  EXPECT_TRUE(fleet.ok()) << fleet.status();
  return *fleet;
}

TEST(CommModelBurstTest, MeasuredBucketIsThePipelineLinksAndOnlyTheirs) {
  const Fleet shaped = Load(
      "{class: same_island, latency_us: 10, bandwidth_gbs: 0.00625, bidirectional_gbs: 0.003, "
      "burst_bytes: 64000, peak_gbs: 1}");
  CommModel comm(shaped, FlattenFleet(shaped));
  const TokenBucket b = comm.LinkBucket(0, 1);
  ASSERT_TRUE(b.active());
  EXPECT_EQ(b.burst_bytes, 64000);
  EXPECT_EQ(b.peak_gbs, 1);
  // A pipeline's message goes one way: the one-way rate, not the bidirectional one...
  EXPECT_DOUBLE_EQ(comm.LinkGbs(0, 1), 0.00625);
  EXPECT_DOUBLE_EQ(b.gbs, 0.00625);
  // ...through the bucket: after a long idle at peak, back to back at the sustained rate.
  EXPECT_DOUBLE_EQ(comm.P2pTime(0, 1, 32e3, 1.0), 10e-6 + 32e3 / 1e9);
  EXPECT_DOUBLE_EQ(comm.P2pTime(0, 1, 32e3, 0), 10e-6 + 32e3 / 6.25e6);
  // Inside a node there is no bucket.
  EXPECT_FALSE(comm.LinkBucket(0, 0).active());
  // A ring allreduce keeps the bidirectional figure.
  AllreduceGroup g = comm.Summarize(std::vector<int64_t>{0, 1});
  EXPECT_DOUBLE_EQ(g.parts[0].flow_gbs, 0.003);
}

// The timed collective (allreduce_gbs) replaces the pair's two-way exchange for collectives,
// and only for them: the ring allreduce runs at it, a pipeline's sends keep the one-way rate, and
// the written section reads back with it.
TEST(CommModelBurstTest, TimedAllreduceReplacesTheExchangeForCollectives) {
  const Fleet timed = Load(
      "{class: same_island, latency_us: 10, bandwidth_gbs: 0.00625, bidirectional_gbs: 0.005, "
      "allreduce_gbs: 0.003125}");
  CommModel comm(timed, FlattenFleet(timed));
  AllreduceGroup g = comm.Summarize(std::vector<int64_t>{0, 1});
  EXPECT_DOUBLE_EQ(g.parts[0].flow_gbs, 0.003125);
  EXPECT_DOUBLE_EQ(comm.AllreduceTime(g, 1e6, AllreduceAlgorithm::kRing),
                   RingAllreduceTime(2, 1e6, 0.003125, 10e-6));
  EXPECT_DOUBLE_EQ(comm.LinkGbs(0, 1), 0.00625);
  EXPECT_DOUBLE_EQ(timed.groups[0].nic_gbps, 0.003125 * 8);
  ASSERT_TRUE(timed.measured.has_value());
  const std::string yaml = MeasurementsToYaml(*timed.measured);
  EXPECT_NE(yaml.find("allreduce_gbs: 0.003125"), std::string::npos) << yaml;
  // Never above the one-way rate; without it, the exchange's figure as before.
  const Fleet above =
      Load("{class: same_island, latency_us: 10, bandwidth_gbs: 0.00625, allreduce_gbs: 0.01}");
  EXPECT_DOUBLE_EQ(above.groups[0].nic_gbps, 0.00625 * 8);
  const Fleet exchange = Load(
      "{class: same_island, latency_us: 10, bandwidth_gbs: 0.00625, bidirectional_gbs: 0.005}");
  EXPECT_DOUBLE_EQ(exchange.groups[0].nic_gbps, 0.005 * 8);
  // Across islands likewise.
  const Fleet across = Load(
      "{class: across_islands, latency_us: 10, bandwidth_gbs: 0.1, bidirectional_gbs: 0.09, "
      "allreduce_gbs: 0.04}");
  EXPECT_DOUBLE_EQ(across.network.inter_island_gbps, 0.04 * 8);
  // A negative figure is an error naming the field.
  auto catalog = DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  auto bad = ParseFleet(kTwoHosts +
                            "    - {class: same_island, latency_us: 10, bandwidth_gbs: 0.1, "
                            "allreduce_gbs: -1}\n",
                        "f.yaml", *catalog);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("allreduce_gbs"), std::string::npos)
      << bad.status();
}

// A ring of two across nodes is an exchange on one connection: where the probe timed it apart
// (pair_allreduce_gbs), groups of two take that rate and longer rings keep allreduce_gbs.
TEST(CommModelBurstTest, PairFigureIsForGroupsOfTwoAcrossNodes) {
  auto catalog = DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  const std::string two_by_two =
      TwoHosts(2) +
      "    - {class: same_node, latency_us: 4, bandwidth_gbs: 10}\n"
      "    - {class: same_island, latency_us: 10, bandwidth_gbs: 0.006, allreduce_gbs: 0.0057, "
      "pair_allreduce_gbs: 0.003}\n";
  auto fleet = ParseFleet(two_by_two, "f.yaml", *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  CommModel comm(*fleet, FlattenFleet(*fleet));
  // Devices 0, 1 on host a; 2, 3 on host b.
  // pair_allreduce_gbs is the NIC's (both pairs together), so each pair gets half of it.
  AllreduceGroup pair = comm.Summarize(std::vector<int64_t>{0, 2});
  const double two = RingAllreduceTime(2, 1e6, 0.003 / 2, 10e-6);
  EXPECT_NEAR(comm.AllreduceTime(pair, 1e6, AllreduceAlgorithm::kRing), two, 1e-9 * two);
  // Four members: the world's ring rate, the pair's figure unused.
  AllreduceGroup four = comm.Summarize(std::vector<int64_t>{0, 1, 2, 3});
  EXPECT_DOUBLE_EQ(comm.AllreduceTime(four, 1e6, AllreduceAlgorithm::kRing),
                   RingAllreduceTime(4, 1e6, four.parts[0].RingGbs(), 10e-6));
  EXPECT_NEAR(four.parts[0].RingGbs(), 0.0057, 1e-12);
  // A pair inside one node: the node's link, untouched.
  AllreduceGroup inside = comm.Summarize(std::vector<int64_t>{0, 1});
  EXPECT_DOUBLE_EQ(comm.AllreduceTime(inside, 1e6, AllreduceAlgorithm::kRing),
                   RingAllreduceTime(2, 1e6, 10, 4e-6));
  // Pipeline sends keep the one-way rate.
  EXPECT_DOUBLE_EQ(comm.LinkGbs(0, 2), 0.006 / 2);
  // Written back as read.
  ASSERT_TRUE(fleet->measured.has_value());
  const std::string yaml = MeasurementsToYaml(*fleet->measured);
  EXPECT_NE(yaml.find("pair_allreduce_gbs: 0.003"), std::string::npos) << yaml;
  // A negative figure is an error naming the field.
  std::string bad = two_by_two;
  bad.replace(bad.find("pair_allreduce_gbs: 0.003"), 25, "pair_allreduce_gbs: -1");
  auto refused = ParseFleet(bad, "f.yaml", *catalog);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(std::string(refused.status().message()).find("pair_allreduce_gbs"), std::string::npos)
      << refused.status();
}

TEST(CommModelBurstTest, NoBucketMeasuredIsTheAlphaBetaLinkExactly) {
  const Fleet plain =
      Load("{class: same_island, latency_us: 10, bandwidth_gbs: 0.00625, pair: \"0-1\"}");
  CommModel comm(plain, FlattenFleet(plain));
  EXPECT_FALSE(comm.LinkBucket(0, 1).active());
  const double expected = comm.LinkLatency(0, 1) + 32e3 / (comm.LinkGbs(0, 1) * 1e9);
  for (double period : {0.0, 1.0}) {
    const double got = comm.P2pTime(0, 1, 32e3, period);
    EXPECT_EQ(std::memcmp(&got, &expected, sizeof(double)), 0);
  }
}

TEST(CommModelBurstTest, RanksOfOneHostShareItsNicAndItsBucket) {
  // A measured fleet: one group per rank, ranks 0 and 1 on host a, rank 2 on host b. Both ranks
  // of a send through a's NIC at once in a pipeline: each gets half of it, and half its bucket.
  auto catalog = DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  const std::string text =
      "name: shared\nnodes:\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: a}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: a}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: b}\n"
      "measured:\n  when: \"x\"\n  how: \"y\"\n  tool_version: \"1\"\n  ranks: 3\n"
      "  hosts: [a, b]\n  group_tflops: [0.03, 0.03, 0.03]\n  links:\n"
      "    - {class: same_island, latency_us: 10, bandwidth_gbs: 0.00625, burst_bytes: 64000, "
      "peak_gbs: 1}\n";
  auto fleet = ParseFleet(text, "f.yaml", *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  CommModel comm(*fleet, FlattenFleet(*fleet));
  EXPECT_DOUBLE_EQ(comm.LinkGbs(0, 2), 0.00625 / 2);
  const TokenBucket b = comm.LinkBucket(0, 2);
  EXPECT_DOUBLE_EQ(b.burst_bytes, 32000);
  EXPECT_DOUBLE_EQ(b.peak_gbs, 0.5);
}

}  // namespace
}  // namespace tangram::partitioner
