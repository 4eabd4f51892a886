// The network probe on the simulated transport (whose virtual clock makes the links exact), the
// measured section of a fleet file, and the round trip probe -> fleet file -> plan inputs.
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "collectives/sim/sim_world.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/probe/collective_probe.h"
#include "orchestrator/probe/cpu_pool_probe.h"
#include "orchestrator/probe/fleet_probe.h"
#include "orchestrator/probe/layer_time_probe.h"
#include "orchestrator/probe/link_probe.h"
#include "orchestrator/runtime/comm_util.h"
#include "orchestrator/simulator/simulator.h"
#include "partitioner/comm_model.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/model.h"
#include "partitioner/strategy.h"

namespace tangram::orchestrator {
namespace {

using collectives::LinkCost;
using collectives::LinkModel;
using collectives::SimOptions;
using collectives::SimWorld;
using partitioner::LinkClass;

constexpr LinkCost kSameNode{2e-6, 40e9};
constexpr LinkCost kSameIsland{10e-6, 3e9};
constexpr LinkCost kAcross{50e-6, 0.5e9};

// `ranks` ranks, `per_node` to a node, the nodes split into two islands (first half, second).
struct Layout {
  std::vector<int> node, island;
  std::vector<RankPlace> places;
};
Layout MakeLayout(int ranks, int per_node) {
  Layout l;
  const int nodes = (ranks + per_node - 1) / per_node;
  for (int r = 0; r < ranks; ++r) {
    int node = r / per_node;
    l.node.push_back(node);
    l.island.push_back(nodes > 1 && node >= (nodes + 1) / 2 ? 1 : 0);
    l.places.push_back({"host" + std::to_string(node), l.island.back()});
  }
  return l;
}

// ProbeLinks on every rank of a simulated world over `links`; every rank must learn the same
// figures.
absl::StatusOr<LinkProbeResult> RunProbe(LinkModel links, const std::vector<RankPlace>& places,
                                         const LinkProbeOptions& o,
                                         collectives::Algorithm algorithm) {
  const int ranks = static_cast<int>(places.size());
  SimOptions sim;
  sim.ranks = ranks;
  sim.algorithm = algorithm;
  sim.links = std::move(links);
  sim.timeout = absl::Seconds(60);
  auto world = SimWorld::Create(sim);
  if (!world.ok()) return world.status();
  std::vector<LinkProbeResult> results(ranks);
  auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
    auto r = ProbeLinks(comm, places, o);
    if (!r.ok()) return r.status();
    results[comm.rank()] = *r;
    return absl::OkStatus();
  });
  for (const auto& s : statuses) {
    if (!s.ok()) return s;
  }
  for (int r = 1; r < ranks; ++r) {
    if (results[r].links.size() != results[0].links.size() ||
        results[r].host_links.size() != results[0].host_links.size()) {
      return absl::InternalError("ranks disagree on the links");
    }
  }
  return results[0];
}

// `algorithm`: the communicators' default, what a call with default options runs (the probe's
// step 5 times exactly that call).
absl::StatusOr<LinkProbeResult> ProbeOnSim(
    int ranks, int per_node, const LinkProbeOptions& o = {},
    collectives::Algorithm algorithm = collectives::Algorithm::kAuto) {
  Layout l = MakeLayout(ranks, per_node);
  auto links = LinkModel::Hierarchical(l.node, l.island, kSameNode, kSameIsland, kAcross);
  if (!links.ok()) return links.status();
  return RunProbe(*std::move(links), l.places, o, algorithm);
}

void ExpectLink(const LinkProbeResult& r, LinkClass c, LinkCost expected) {
  const partitioner::MeasuredLink* found = nullptr;
  for (const auto& l : r.links) {
    if (l.link_class == c) found = &l;
  }
  ASSERT_NE(found, nullptr) << partitioner::LinkClassName(c);
  EXPECT_NEAR(found->latency_us, expected.alpha_s * 1e6, 0.01 * expected.alpha_s * 1e6)
      << partitioner::LinkClassName(c);
  EXPECT_NEAR(found->bandwidth_gbs, expected.bandwidth_Bps / 1e9,
              0.01 * expected.bandwidth_Bps / 1e9)
      << partitioner::LinkClassName(c);
}

TEST(LinkProbeTest, FitRecoversAlphaAndBeta) {
  std::vector<std::pair<double, double>> samples;
  for (double n : {8.0, 16e3, 128e3, 1e6}) samples.push_back({n, 20e-6 + n / 1e9});
  auto [alpha, beta] = FitAlphaBeta(samples);
  EXPECT_NEAR(alpha, 20e-6, 1e-9);
  EXPECT_NEAR(beta, 1e-9, 1e-13);
  // One size: all of it is latency.
  auto [a1, b1] = FitAlphaBeta({{8.0, 3e-6}});
  EXPECT_NEAR(a1, 3e-6, 1e-12);
  EXPECT_EQ(b1, 0);
}

// One-way times after an idle gap through a token bucket (B bytes at p, the rest at β).
std::vector<std::pair<double, double>> BucketCurve(double alpha, double beta, double burst,
                                                   double inv_peak) {
  std::vector<std::pair<double, double>> out;
  for (double n = 8 << 10; n <= 512 << 10; n *= 2) {
    out.push_back({n, alpha + std::min(n, burst) * inv_peak + std::max(0.0, n - burst) * beta});
  }
  return out;
}

TEST(LinkProbeTest, BurstFitFindsWhereTheCurveBends) {
  // 50 Mbit/s behind a 64 KB bucket passing 0.4 GB/s (tc tbf on a veth, as measured here).
  const double alpha = 6e-6, beta = 1 / 6.25e6;
  auto fit = FitBurst(BucketCurve(alpha, beta, 64000, 1 / 0.4e9), beta);
  ASSERT_TRUE(fit.has_value());
  EXPECT_NEAR(fit->burst_bytes, 64000, 1);
  EXPECT_NEAR(fit->peak_gbs, 0.4, 1e-9);
  // A 1 Gbit/s link with tc's 125 KB bucket.
  fit = FitBurst(BucketCurve(alpha, 8e-9, 125000, 1 / 2e9), 8e-9);
  ASSERT_TRUE(fit.has_value());
  EXPECT_NEAR(fit->burst_bytes, 125000, 1);
  // A loaded host adds the same scheduler delay to every send: it cancels out.
  auto loaded = BucketCurve(alpha, beta, 64000, 1 / 0.4e9);
  for (auto& [n, t] : loaded) t += 4e-3;
  fit = FitBurst(loaded, beta);
  ASSERT_TRUE(fit.has_value());
  EXPECT_NEAR(fit->burst_bytes, 64000, 1);
  EXPECT_NEAR(fit->peak_gbs, 0.4, 1e-9);
}

TEST(LinkProbeTest, BurstFitSeesNoBucketOnAPlainLink) {
  const double alpha = 20e-6, beta = 1e-9;
  std::vector<std::pair<double, double>> plain;
  for (double n = 8 << 10; n <= 512 << 10; n *= 2) {
    plain.push_back({n, alpha + n * beta * (n == 64 << 10 ? 0.97 : 1.02)});  // 3 % noise
  }
  EXPECT_FALSE(FitBurst(plain, beta).has_value());
  // A bucket as large as the largest size: the bend was not seen, nothing is claimed.
  EXPECT_FALSE(FitBurst(BucketCurve(alpha, beta, 1 << 20, 1e-11), beta).has_value());
  // Too few sizes, or no sustained rate.
  EXPECT_FALSE(FitBurst({{8192, 1e-3}, {16384, 2e-3}}, beta).has_value());
  EXPECT_FALSE(FitBurst(BucketCurve(alpha, beta, 64000, 1e-11), 0).has_value());
}

// At 10 Gbit/s an 8 KiB send takes 6.6 us, less than the timer's and scheduler's noise on a
// send and its acknowledgement (~40 us here): small sends that happen to come out slow read as a
// bucket ("burst_bytes: 44537, peak_gbs: 1171", tbf at 10gbit, session 14). A saving no larger
// than the fixed cost of a send is not told from noise: no bucket. A real one still is.
TEST(LinkProbeTest, BurstFitIgnoresNoiseOnAFastLink) {
  const double c = 40e-6, beta = 8e-10;  // 10 Gbit/s
  std::vector<std::pair<double, double>> noisy;
  for (double n = 8 << 10; n <= 512 << 10; n *= 2) {
    const double noise = n == 8 << 10 ? 30e-6 : n == 16 << 10 ? 24e-6 : n == 64 << 10 ? 2e-6 : 0;
    noisy.push_back({n, c + n * beta + noise});
  }
  EXPECT_FALSE(FitBurst(noisy, beta).has_value());
  // The two smallest sends alike within the timer: the peak at its 1000x clamp.
  noisy[1].second = noisy[0].second;
  EXPECT_FALSE(FitBurst(noisy, beta).has_value());
  // A 256 KB bucket passing 4 GB/s on the same link saves 141 us, past the 40 us fixed cost.
  auto fit = FitBurst(BucketCurve(c, beta, 256000, 1 / 4e9), beta);
  ASSERT_TRUE(fit.has_value());
  EXPECT_NEAR(fit->burst_bytes, 256000, 1);
  EXPECT_NEAR(fit->peak_gbs, 4, 1e-9);
}

TEST(LinkProbeTest, RecoversEveryLinkClassOnTheSimulatedTransport) {
  for (auto [ranks, per_node] : {std::pair{8, 2}, std::pair{7, 3}, std::pair{5, 1}}) {
    SCOPED_TRACE(testing::Message() << ranks << " ranks, " << per_node << " per node");
    auto r = ProbeOnSim(ranks, per_node);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->timed);
    if (per_node > 1) ExpectLink(*r, LinkClass::kSameNode, kSameNode);
    ExpectLink(*r, LinkClass::kSameIsland, kSameIsland);
    ExpectLink(*r, LinkClass::kCrossIsland, kAcross);
    // The simulated transport gives every rank its own port: per-device NICs, so k senders of
    // one node reach k times one pair's bandwidth.
    if (per_node > 1) {
      ASSERT_TRUE(r->nic.has_value());
      EXPECT_NEAR(r->nic->aggregate_gbs, r->nic->senders * kSameIsland.bandwidth_Bps / 1e9,
                  0.08 * r->nic->senders * kSameIsland.bandwidth_Bps / 1e9);
    } else {
      EXPECT_FALSE(r->nic.has_value());
    }
    ASSERT_FALSE(r->allreduce.empty());
    for (const auto& s : r->allreduce) EXPECT_GT(s.seconds, 0);
  }
}

const partitioner::MeasuredLink* FindLink(const LinkProbeResult& r, LinkClass c) {
  for (const auto& l : r.links) {
    if (l.link_class == c) return &l;
  }
  return nullptr;
}

// Step 5 on the virtual clock: where the communicator's own allreduce is a ring (odd rank counts
// here: halving-doubling needs a power of two to beat it), the collective takes exactly the ring's
// time on the slowest link, so allreduce_gbs recovers that link's one-way rate; where it is
// halving-doubling (8 ranks), faster than that ring, the figure stays at the one-way rate.
TEST(LinkProbeTest, GradientAllreduceRecoversTheRingOnTheSimulatedTransport) {
  LinkProbeOptions o;
  o.gradient_bytes = 3 << 20;
  for (auto [ranks, per_node] : {std::pair{8, 2}, std::pair{7, 3}, std::pair{5, 1}}) {
    SCOPED_TRACE(testing::Message() << ranks << " ranks, " << per_node << " per node");
    auto r = ProbeOnSim(ranks, per_node, o);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->gradient_allreduce.has_value());
    // 3 MiB at 0.5 GB/s is predicted well under the 0.25 s bound: the whole gradient is timed.
    EXPECT_EQ(r->gradient_allreduce->bytes, 3 << 20);
    const partitioner::MeasuredLink* across = FindLink(*r, LinkClass::kCrossIsland);
    ASSERT_NE(across, nullptr);
    ASSERT_TRUE(across->allreduce_gbs.has_value());
    EXPECT_NEAR(*across->allreduce_gbs, kAcross.bandwidth_Bps / 1e9,
                0.01 * kAcross.bandwidth_Bps / 1e9);
    // Only the slowest class the ranks span carries it.
    for (LinkClass c : {LinkClass::kSameNode, LinkClass::kSameIsland}) {
      if (const auto* l = FindLink(*r, c)) {
        EXPECT_FALSE(l->allreduce_gbs.has_value());
      }
    }
    if (ranks % 2 == 1) {
      const double ring = partitioner::RingAllreduceTime(
          ranks, 3 << 20, kAcross.bandwidth_Bps / 1e9, kAcross.alpha_s);
      EXPECT_NEAR(r->gradient_allreduce->seconds, ring, 0.01 * ring);
    }
  }
}

// The collective training runs need not be a ring (Open MPI's MPI_Iallreduce in place is a
// binomial tree, one whole-size transfer after another). With a binomial tree as the
// communicators' allreduce, the figure is the rate at which the communication model's ring takes
// the time the tree took: the ring at allreduce_gbs reproduces the measured collective.
TEST(LinkProbeTest, GradientAllreduceFigureReproducesATreeCollective) {
  LinkProbeOptions o;
  o.gradient_bytes = 2 << 20;
  for (auto [ranks, per_node] : {std::pair{4, 2}, std::pair{6, 2}, std::pair{5, 1}}) {
    SCOPED_TRACE(testing::Message() << ranks << " ranks, " << per_node << " per node");
    auto r = ProbeOnSim(ranks, per_node, o, collectives::Algorithm::kTree);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->gradient_allreduce.has_value());
    const partitioner::MeasuredLink* across = FindLink(*r, LinkClass::kCrossIsland);
    ASSERT_NE(across, nullptr);
    ASSERT_TRUE(across->allreduce_gbs.has_value());
    // A tree sends whole copies: slower per direction than the ring's shares.
    EXPECT_LT(*across->allreduce_gbs, 0.9 * kAcross.bandwidth_Bps / 1e9);
    const double ring = partitioner::RingAllreduceTime(ranks, r->gradient_allreduce->bytes,
                                                       *across->allreduce_gbs, kAcross.alpha_s);
    EXPECT_NEAR(ring, r->gradient_allreduce->seconds, 1e-3 * ring);
  }
}

// A slow link is timed at less than the whole gradient, never below 1 MiB: 4 ranks over 5 MB/s
// across islands would take about 1.6 s for 4 MiB against the 0.25 s bound.
TEST(LinkProbeTest, GradientAllreduceStaysWithinItsTimeBound) {
  LinkProbeOptions o;
  o.gradient_bytes = 4 << 20;
  Layout l = MakeLayout(4, 1);
  SimOptions sim;
  sim.ranks = 4;
  auto links = LinkModel::Hierarchical(l.node, l.island, kSameNode, kSameIsland, {50e-6, 5e6});
  ASSERT_TRUE(links.ok());
  sim.links = *links;
  sim.timeout = absl::Seconds(60);
  auto world = SimWorld::Create(sim);
  ASSERT_TRUE(world.ok());
  std::vector<LinkProbeResult> results(4);
  auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
    TANGRAM_ASSIGN_OR_RETURN(results[comm.rank()], ProbeLinks(comm, l.places, o));
    return absl::OkStatus();
  });
  for (const auto& s : statuses) ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(results[0].gradient_allreduce.has_value());
  EXPECT_EQ(results[0].gradient_allreduce->bytes, 1 << 20);
  const partitioner::MeasuredLink* across = FindLink(results[0], LinkClass::kCrossIsland);
  ASSERT_NE(across, nullptr);
  ASSERT_TRUE(across->allreduce_gbs.has_value());
  EXPECT_NEAR(*across->allreduce_gbs, 5e-3, 5e-5);
}

// Every rank on one node: no class across nodes, nothing to time in step 5.
TEST(LinkProbeTest, GradientAllreduceNeedsTwoNodes) {
  auto r = ProbeOnSim(3, 3);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->gradient_allreduce.has_value());
  EXPECT_FALSE(r->pair_allreduce.has_value());
  for (const auto& l : r->links) {
    EXPECT_FALSE(l.allreduce_gbs.has_value());
    EXPECT_FALSE(l.pair_allreduce_gbs.has_value());
  }
}

// Step 5b: the same call over the slowest class's pair alone. On the simulated transport's
// full-duplex links a ring of two is the link's own rate; with a binomial tree as the allreduce
// (reduce one way, then broadcast back: two whole copies, one after the other) the pair reads
// half of it while the world's figure is the tree's over all ranks: the two figures are measured
// apart because they differ.
TEST(LinkProbeTest, PairAllreduceIsTimedOverTheSlowestPair) {
  LinkProbeOptions o;
  o.gradient_bytes = 2 << 20;
  const double one_way = kAcross.bandwidth_Bps / 1e9;
  // {ranks, per node, pairs}: the slowest class's pair is rank 0 and the first rank of the second
  // island, whose host has one rank in the 7-rank layout (hosts of 3, 3 and 1).
  for (auto [ranks, per_node, expected_pairs] :
       {std::tuple{8, 2, 2}, std::tuple{7, 3, 1}, std::tuple{5, 1, 1}}) {
    SCOPED_TRACE(testing::Message() << ranks << " ranks, " << per_node << " per node");
    auto ring = ProbeOnSim(ranks, per_node, o, collectives::Algorithm::kRing);
    ASSERT_TRUE(ring.ok()) << ring.status();
    ASSERT_TRUE(ring->pair_allreduce.has_value());
    EXPECT_EQ(ring->pair_allreduce->bytes, 2 << 20);
    const double two = partitioner::RingAllreduceTime(2, 2 << 20, one_way, kAcross.alpha_s);
    // Within 3 %: the ranks leave the world's barrier up to a few link latencies apart, and a
    // pair's first step waits for the later of its two (7 ranks: +2 %).
    EXPECT_NEAR(ring->pair_allreduce->seconds, two, 0.03 * two);
    // Every pair of the two hosts at once; the simulated transport gives each rank its own port,
    // so each pair runs at the link's rate and the NIC's figure is theirs together.
    const int pairs = ring->pair_allreduce_pairs;
    EXPECT_EQ(pairs, expected_pairs);
    const partitioner::MeasuredLink* across = FindLink(*ring, LinkClass::kCrossIsland);
    ASSERT_NE(across, nullptr);
    ASSERT_TRUE(across->pair_allreduce_gbs.has_value());
    EXPECT_NEAR(*across->pair_allreduce_gbs, pairs * one_way, 0.03 * pairs * one_way);
    for (LinkClass c : {LinkClass::kSameNode, LinkClass::kSameIsland}) {
      if (const auto* l = FindLink(*ring, c)) {
        EXPECT_FALSE(l->pair_allreduce_gbs.has_value());
      }
    }
    auto tree = ProbeOnSim(ranks, per_node, o, collectives::Algorithm::kTree);
    ASSERT_TRUE(tree.ok()) << tree.status();
    const partitioner::MeasuredLink* tree_across = FindLink(*tree, LinkClass::kCrossIsland);
    ASSERT_NE(tree_across, nullptr);
    ASSERT_TRUE(tree_across->pair_allreduce_gbs.has_value());
    EXPECT_NEAR(*tree_across->pair_allreduce_gbs, 0.5 * pairs * one_way, 0.03 * pairs * one_way);
  }
}

// Two ranks on two nodes: the world is the pair, timed once by step 5.
TEST(LinkProbeTest, PairAllreduceIsStepFiveOnTwoRanks) {
  auto r = ProbeOnSim(2, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->gradient_allreduce.has_value());
  EXPECT_FALSE(r->pair_allreduce.has_value());
  for (const auto& l : r->links) EXPECT_FALSE(l.pair_allreduce_gbs.has_value());
}

TEST(LinkProbeTest, SixtyFourRanks) {
  absl::Time start = absl::Now();
  auto r = ProbeOnSim(64, 8);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectLink(*r, LinkClass::kSameNode, kSameNode);
  ExpectLink(*r, LinkClass::kSameIsland, kSameIsland);
  ExpectLink(*r, LinkClass::kCrossIsland, kAcross);
  // Reported, not asserted (the machine is shared): the issue's bound is 30 s at 64 ranks.
  std::printf("probe of 64 simulated ranks: %.2f s wall\n",
              absl::ToDoubleSeconds(absl::Now() - start));
}

// `hosts` one-rank hosts in one island, every link at kSameIsland except the slow host's (both
// ways), at a fifth of its bandwidth: a host with a slower NIC than the class's pair.
absl::StatusOr<LinkProbeResult> ProbeHostsOnSim(int hosts, int slow_host) {
  std::vector<int> node, island(hosts, 0);
  std::vector<RankPlace> places;
  for (int h = 0; h < hosts; ++h) {
    node.push_back(h);
    places.push_back({"host" + std::to_string(h), 0});
  }
  auto links = LinkModel::Hierarchical(node, island, kSameNode, kSameIsland, kAcross);
  if (!links.ok()) return links.status();
  const LinkCost slow{kSameIsland.alpha_s, kSameIsland.bandwidth_Bps / 5};
  for (int h = 0; h < hosts; ++h) {
    if (h == slow_host) continue;
    links->Set(h, slow_host, slow);
    links->Set(slow_host, h, slow);
  }
  return RunProbe(*std::move(links), places, {}, collectives::Algorithm::kAuto);
}

// Step 3b: every pair of hosts is timed, and its figure is the pair's own one-way rate, whether
// the class's representative pair (ranks 0-1) is on the slow host or not. Ten hosts: the first
// seven rounds, five disjoint pairs each.
TEST(LinkProbeTest, EveryPairOfHostsIsMeasuredAtItsOwnRate) {
  struct Case {
    int hosts, slow, pairs;
  };
  for (const Case c : {Case{4, 3, 6}, Case{5, 0, 10}, Case{10, 9, 35}}) {
    SCOPED_TRACE(testing::Message() << c.hosts << " hosts, host " << c.slow << " slow");
    auto r = ProbeHostsOnSim(c.hosts, c.slow);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(static_cast<int>(r->host_links.size()), c.pairs);
    std::set<std::pair<std::string, std::string>> seen;
    const std::string slow = "host" + std::to_string(c.slow);
    for (const auto& l : r->host_links) {
      EXPECT_NE(l.a, l.b);
      EXPECT_TRUE(seen.insert({std::min(l.a, l.b), std::max(l.a, l.b)}).second) << l.a << l.b;
      const double expected =
          (l.a == slow || l.b == slow ? 0.2 : 1.0) * kSameIsland.bandwidth_Bps / 1e9;
      EXPECT_NEAR(l.bandwidth_gbs, expected, 0.01 * expected) << l.a << "-" << l.b;
    }
  }
}

TEST(LinkProbeTest, TwoHostsHaveNoHostLinks) {
  auto r = ProbeOnSim(4, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->host_links.empty());
}

// A pair's measurement on a slow link is dozens of calls (about 17 s at 10 Mbit/s); the ranks
// that wait for it must not time out while it runs as long as every call of it is within the
// per-call timeout. Here a clock that takes 4 ms per read stretches each pair's measurement to
// about half a second of wall time, past the 0.3 s timeout of every call (before the lead's
// pulses, rank 2 timed out in its broadcast: "MPI_Bcast ... timed out" on namespace hosts at
// 10 Mbit/s with --timeout 4).
TEST(LinkProbeTest, BystandersOutlastAPairsLongMeasurement) {
  SimOptions sim;
  sim.ranks = 3;
  auto links = LinkModel::Hierarchical({0, 1, 2}, {0, 0, 1}, kSameNode, kSameIsland, kAcross);
  ASSERT_TRUE(links.ok()) << links.status();
  sim.links = *links;
  sim.timeout = absl::Milliseconds(300);
  auto world = SimWorld::Create(sim);
  ASSERT_TRUE(world.ok()) << world.status();
  LinkProbeOptions options;
  options.pulse_seconds = 0.05;
  options.clock = [] {
    absl::SleepFor(absl::Milliseconds(4));
    return absl::ToUnixNanos(absl::Now()) * 1e-9;
  };
  const std::vector<RankPlace> places = {{"a", 0}, {"b", 0}, {"c", 1}};
  auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
    return ProbeLinks(comm, places, options).status();
  });
  for (const auto& s : statuses) EXPECT_TRUE(s.ok()) << s;
}

TEST(LinkProbeTest, FreeLinksAreNotTimed) {
  SimOptions sim;
  sim.ranks = 3;
  auto world = SimWorld::Create(sim);
  ASSERT_TRUE(world.ok());
  std::vector<RankPlace> places = {{"a", 0}, {"a", 0}, {"b", 0}};
  auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
    auto r = ProbeLinks(comm, places);
    if (!r.ok()) return r.status();
    if (r->timed || !r->links.empty()) return absl::InternalError("free links reported a figure");
    return absl::OkStatus();
  });
  for (const auto& s : statuses) EXPECT_TRUE(s.ok()) << s;
}

constexpr char kFleet[] = R"(name: two-hosts
nodes:
  - device: cpu
    devices_per_node: 2
    count: 1
    host: a
  - device: cpu
    devices_per_node: 2
    count: 1
    host: b
    emulate_slowdown: 2
)";

TEST(MeasuredFleetTest, ProbeWritesAFleetThatPlanningReadsBack) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  auto fleet = partitioner::ParseFleet(kFleet, "two-hosts.yaml", *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  SimOptions sim;
  sim.ranks = 4;
  auto links = SimLinks(*fleet, 4);
  ASSERT_TRUE(links.ok()) << links.status();
  sim.links = *links;
  auto world = SimWorld::Create(sim);
  ASSERT_TRUE(world.ok());
  FleetProbeOptions options;
  options.hosts = SimHosts(*fleet);
  std::vector<FleetProbeResult> results(4);
  auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
    auto r = ProbeFleet(comm, *fleet, options);
    if (!r.ok()) return r.status();
    results[comm.rank()] = *r;
    return absl::OkStatus();
  });
  for (const auto& s : statuses) ASSERT_TRUE(s.ok()) << s;
  std::string yaml = FleetToYaml(results[0].fleet);
  auto back = partitioner::ParseFleet(yaml, "measured.yaml", *catalog);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  ASSERT_TRUE(back->measured.has_value());
  EXPECT_EQ(back->measured->ranks, 4);
  EXPECT_EQ(back->measured->hosts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(back->groups[1].emulate_slowdown, 2);  // EMULATION stays in the nodes
  // The catalog's cpu figures (20 GB/s inside a node, 10 Gbit/s NIC per device, 2 and 5 us)
  // came back through the probe and the file.
  EXPECT_NEAR(back->groups[0].device.intra_node_link_gbs, 20, 0.2);
  EXPECT_NEAR(back->network.intra_node_latency_us, 2, 0.05);
  EXPECT_NEAR(back->network.inter_node_latency_us, 5, 0.05);
  // Two senders with a port each: the node reaches twice one pair's 1.25 GB/s.
  EXPECT_NEAR(back->groups[0].nic_gbps, 20, 0.4);
}

TEST(MeasuredFleetTest, SectionIsStrict) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  std::string base = std::string(kFleet) +
                     "measured:\n  when: \"x\"\n  how: \"y\"\n  tool_version: \"1\"\n  ranks: 4\n"
                     "  hosts: [a, b]\n";
  auto ok = partitioner::ParseFleet(base + "  group_tflops: [0.5, 0]\n", "f.yaml", *catalog);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->groups[0].measured_tflops.value_or(-1), 0.5);
  EXPECT_FALSE(ok->groups[1].measured_tflops.has_value());

  auto unknown =
      partitioner::ParseFleet(base + "  group_tflops: [0.5, 0]\n  bogus: 1\n", "f.yaml", *catalog);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(std::string(unknown.status().message()),
              testing::HasSubstr("f.yaml:19:3: measured.bogus"));
  auto count = partitioner::ParseFleet(base + "  group_tflops: [0.5]\n", "f.yaml", *catalog);
  ASSERT_FALSE(count.ok());
  EXPECT_THAT(std::string(count.status().message()), testing::HasSubstr("one figure per nodes"));
  auto link = partitioner::ParseFleet(
      base +
          "  group_tflops: [0.5, 0]\n  links:\n    - {class: same_rack, latency_us: 1, "
          "bandwidth_gbs: 1}\n",
      "f.yaml", *catalog);
  ASSERT_FALSE(link.ok());
  EXPECT_THAT(std::string(link.status().message()), testing::HasSubstr("measured.links[0].class"));
}

TEST(CpuPoolProbeTest, GroupsRanksByMachineAndTimesTheLeaderAlone) {
  // Five ranks: 0, 1, 3 on machine "m1" (cores 0-1), 2 alone on "m2", 4 with an unreadable boot
  // id. Only m1 is a pool; its leader (rank 0) runs the solo probe, nobody else.
  SimOptions sim;
  sim.ranks = 5;
  auto world = SimWorld::Create(sim);
  ASSERT_TRUE(world.ok());
  std::vector<std::vector<partitioner::MeasuredCpuPool>> results(5);
  std::vector<int> solo_calls(5, 0);
  auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
    const int r = comm.rank();
    ThisMachine m;
    m.machine = r == 2 ? "m2" : r == 4 ? "" : "m1";
    m.cores = 1;
    m.cpus = {r == 1 ? 1 : 0};
    const double busy = r == 3 ? 0.5 : 1.0;  // rank 3: EMULATION 2x, undone by the caller
    auto pools = ProbeCpuPools(
        comm, busy, r == 3 ? 0.5 : 1.0,
        [&](const std::function<absl::Status()>&) -> absl::StatusOr<double> {
          ++solo_calls[r];
          return 3.0;
        },
        &m);
    if (!pools.ok()) return pools.status();
    results[r] = *pools;
    return absl::OkStatus();
  });
  for (const auto& s : statuses) ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(solo_calls, (std::vector<int>{1, 0, 0, 0, 0}));
  for (const auto& r : results) {
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].machine, "m1");
    EXPECT_EQ(r[0].cores, 2);  // the union of the ranks' affinity
    EXPECT_EQ(r[0].ranks, (std::vector<int64_t>{0, 1, 3}));
    EXPECT_NEAR(r[0].busy_tflops, 2.5 / 3, 1e-12);
    EXPECT_EQ(r[0].solo_tflops, 3.0);
    EXPECT_EQ(r[0].demand, (std::vector<double>{1, 1, 0.5}));
    // (1 + 1 + 0.5) × (2.5/3) ÷ 3.
    EXPECT_NEAR(r[0].EffectiveCores(), 2.5 * 2.5 / 9, 1e-12);
  }
}

// A leader times its pool alone for up to its share of the probe budget (5 s); the other ranks
// waited in one barrier bounded by the per-call timeout, so --timeout under about 6 s failed the
// probe ("MPI_Barrier on rank 1 timed out after 4s"). Here two machines' leaders compute for
// about a second each, past the 0.3 s timeout of every call, pulsing as they go: every rank gets
// both pools. A leader that stops pulsing is still noticed within the timeout.
TEST(CpuPoolProbeTest, WaitingRanksOutlastALeadersLongSoloProbe) {
  SimOptions sim;
  sim.ranks = 5;  // m1: 0, 1; m2: 2, 3; rank 4 alone
  sim.timeout = absl::Milliseconds(300);
  auto world = SimWorld::Create(sim);
  ASSERT_TRUE(world.ok()) << world.status();
  auto machine = [](int r) {
    ThisMachine m;
    m.machine = r < 2 ? "m1" : r < 4 ? "m2" : "m3";
    return m;
  };
  std::vector<std::vector<partitioner::MeasuredCpuPool>> results(5);
  auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
    const ThisMachine m = machine(comm.rank());
    auto pools = ProbeCpuPools(
        comm, 1.0, 1.0,
        [&](const std::function<absl::Status()>& pulse) -> absl::StatusOr<double> {
          for (int pass = 0; pass < 20; ++pass) {
            absl::SleepFor(absl::Milliseconds(50));
            TANGRAM_RETURN_IF_ERROR(pulse());
          }
          return 2.0 + comm.rank();
        },
        &m, absl::Milliseconds(50));
    if (!pools.ok()) return pools.status();
    results[comm.rank()] = *pools;
    return absl::OkStatus();
  });
  for (const auto& s : statuses) ASSERT_TRUE(s.ok()) << s;
  for (const auto& r : results) {
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].solo_tflops, 2.0);
    EXPECT_EQ(r[1].solo_tflops, 4.0);
  }
  // A leader that computes past the timeout without a pulse: its peers time out (and it, in
  // its own wait for the other leader's pulses, or in the gather).
  auto fresh = SimWorld::Create(sim);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  statuses = (*fresh)->Run([&](collectives::Communicator& comm) -> absl::Status {
    const ThisMachine m = machine(comm.rank());
    return ProbeCpuPools(
               comm, 1.0, 1.0,
               [&](const std::function<absl::Status()>&) -> absl::StatusOr<double> {
                 absl::SleepFor(absl::Milliseconds(comm.rank() == 0 ? 800 : 1));
                 return 1.0;
               },
               &m, absl::Milliseconds(50))
        .status();
  });
  EXPECT_FALSE(statuses[1].ok());
  EXPECT_FALSE(statuses[4].ok());
}

// The gather after the compute calibration waited one default timeout for the slowest rank's
// calibration, which its budget bounds instead: with --timeout 4, a rank slowed 6x by EMULATION
// made `mpirun -np 4 tangram probe --job configs/jobs/local-tiny-gpt.yaml` fail ("MPI_Allgather
// ... timed out"). Rank 2 here "calibrates" 600 ms longer than the others, past their 300 ms
// default: the budget-bounded gather waits for it, the plain one does not, and the default is
// restored after either.
TEST(CalibrationGatherTest, TheRanksDoneFirstOutlastTheSlowestCalibration) {
  SimOptions sim;
  sim.ranks = 3;
  sim.timeout = absl::Milliseconds(300);
  for (bool bounded : {true, false}) {
    auto world = SimWorld::Create(sim);
    ASSERT_TRUE(world.ok()) << world.status();
    std::vector<std::vector<std::string>> got(3);
    auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
      if (comm.rank() == 2) absl::SleepFor(absl::Milliseconds(600));
      const std::string mine = absl::StrCat("rank ", comm.rank());
      auto texts = bounded ? AllGatherStringsAfter(comm, mine, absl::Seconds(2))
                           : AllGatherStrings(comm, mine);
      if (comm.default_timeout() != absl::Milliseconds(300)) {
        return absl::InternalError("the default timeout was not restored");
      }
      if (!texts.ok()) return texts.status();
      got[comm.rank()] = *texts;
      return absl::OkStatus();
    });
    if (bounded) {
      for (int r = 0; r < 3; ++r) {
        ASSERT_TRUE(statuses[r].ok()) << statuses[r];
        EXPECT_THAT(got[r], ::testing::ElementsAre("rank 0", "rank 1", "rank 2"));
      }
    } else {
      EXPECT_FALSE(statuses[0].ok());
      EXPECT_FALSE(statuses[1].ok());
    }
  }
}

TEST(CollectiveProbeTest, TimesGroupsOnOneHostOnly) {
  SimOptions sim;
  sim.ranks = 4;
  auto world = SimWorld::Create(sim);
  ASSERT_TRUE(world.ok());
  std::vector<std::optional<double>> same(4), split(4);
  auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
    CollectiveProbeOptions o;
    o.group_size = 2;
    o.compute_s = 1e-4;
    o.iterations = 5;
    std::vector<RankPlace> paired = {{"a", 0}, {"a", 0}, {"b", 0}, {"b", 0}};
    std::vector<RankPlace> crossed = {{"a", 0}, {"b", 0}, {"a", 0}, {"b", 0}};
    auto r = ProbeGroupCollective(comm, paired, o);
    if (!r.ok()) return r.status();
    same[comm.rank()] = *r;
    r = ProbeGroupCollective(comm, crossed, o);
    if (!r.ok()) return r.status();
    split[comm.rank()] = *r;
    return absl::OkStatus();
  });
  for (const auto& s : statuses) ASSERT_TRUE(s.ok()) << s;
  for (int r = 0; r < 4; ++r) {
    ASSERT_TRUE(same[r].has_value());
    EXPECT_GE(*same[r], 0);
    EXPECT_EQ(*same[r], *same[0]);       // every rank returns the mean over all
    EXPECT_FALSE(split[r].has_value());  // a group across hosts is not a node's collective
  }
}

// Within a pool, ranks of one slowdown share the mean reading (the pool's busy rate stays put); an
// EMULATION-slowed rank takes the least slowed ranks' rate ÷ its slowdown; ranks outside every
// pool keep theirs.
TEST(CpuPoolProbeTest, RanksOfOnePoolShareTheirCalibration) {
  std::vector<NodeReport> reports(6);
  const double tflops[] = {0.012, 0.025, 0.013, 0.022, 0.011, 0.030};
  for (size_t r = 0; r < reports.size(); ++r) {
    reports[r].rank = static_cast<int>(r);
    reports[r].measured_tflops = tflops[r];
  }
  reports[4].emulate_slowdown = 2;  // EMULATION: 0.018 ÷ 2, whatever it read
  partitioner::MeasuredCpuPool pool;
  pool.ranks = {0, 1, 2, 3, 4};  // rank 5 is alone on its machine
  ShareCalibrationWithinPools({pool}, reports);
  for (int r = 0; r < 4; ++r) EXPECT_DOUBLE_EQ(reports[r].measured_tflops, 0.018) << r;
  EXPECT_DOUBLE_EQ(reports[4].measured_tflops, 0.009);
  EXPECT_DOUBLE_EQ(reports[5].measured_tflops, 0.030);
  // A slowed rank that read nearly a solo rate (it calibrated partly alone, after its peers had
  // finished) computes among them: their rate ÷ its slowdown, 3 × 0.018 / 6.
  reports[4].measured_tflops = 0.0145;
  reports[4].emulate_slowdown = 6;
  reports[2].emulate_slowdown = 3;  // alone in its class: the least slowed class's rate ÷ 3
  reports[2].measured_tflops = 0.02;
  for (int r : {0, 1, 3}) reports[r].measured_tflops = 0.018;
  ShareCalibrationWithinPools({pool}, reports);
  EXPECT_DOUBLE_EQ(reports[0].measured_tflops, 0.018);
  EXPECT_DOUBLE_EQ(reports[2].measured_tflops, 0.006);
  EXPECT_DOUBLE_EQ(reports[4].measured_tflops, 0.003);
  // No pools: nothing moves.
  std::vector<NodeReport> alone = reports;
  alone[0].measured_tflops = 0.001;
  ShareCalibrationWithinPools({}, alone);
  EXPECT_DOUBLE_EQ(alone[0].measured_tflops, 0.001);
}

TEST(MeasuredFleetTest, CpuPoolsAndCollectiveCostRoundTrip) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  std::string text = std::string(kFleet) +
                     "measured:\n  when: \"x\"\n  how: \"y\"\n  tool_version: \"1\"\n  ranks: 4\n"
                     "  hosts: [a, b]\n  group_tflops: [0.5, 0]\n"
                     "  links:\n    - {class: same_node, latency_us: 2, bandwidth_gbs: 3, "
                     "collective_us: 4000}\n"
                     "  cpu_pools:\n    - {machine: \"m\", cores: 2, ranks: [0, 1, 2, 3], "
                     "busy_tflops: 1, solo_tflops: 2, demand: [1, 1, 1, 0.5]}\n";
  auto fleet = partitioner::ParseFleet(text, "f.yaml", *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_EQ(fleet->measured->cpu_pools.size(), 1u);
  EXPECT_DOUBLE_EQ(fleet->measured->cpu_pools[0].EffectiveCores(), 3.5 / 2);
  const auto& same = fleet->network.measured_links[static_cast<int>(LinkClass::kSameNode)];
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->collective_us, 4000);
  auto back = partitioner::ParseFleet(FleetToYaml(*fleet), "back.yaml", *catalog);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << FleetToYaml(*fleet);
  EXPECT_EQ(back->measured->cpu_pools[0].ranks, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(back->measured->cpu_pools[0].demand, (std::vector<double>{1, 1, 1, 0.5}));
  EXPECT_EQ(back->measured->links[0].collective_us.value_or(0), 4000);

  auto unsorted = partitioner::ParseFleet(
      std::string(text).replace(text.find("[0, 1, 2, 3]"), 12, "[1, 0, 2, 3]"), "f.yaml", *catalog);
  ASSERT_FALSE(unsorted.ok());
  EXPECT_THAT(std::string(unsorted.status().message()),
              testing::HasSubstr("measured.cpu_pools[0].ranks[1]"));
}

// The tensor-parallel test model (the layer-time tests below use it too).
constexpr char kLayerModel[] = R"(name: test-gpt-tp
layers: 2
hidden: 48
ffn_hidden: 96
heads: 6
kv_heads: 6
vocab: 256
seq_len: 16
mlp: gelu
)";

// The measured optimizer step (group_optimizer_ns): read, written back, strict, and costed by
// the cost model and the simulator as the parameters a device updates × the figure (the
// analytic value), while a group without it keeps the catalog's memory-bandwidth estimate.
TEST(MeasuredFleetTest, OptimizerStepRoundTripsAndCostsEachParameter) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  const std::string head = std::string(kFleet) +
                           "measured:\n  when: \"x\"\n  how: \"y\"\n  tool_version: \"1\"\n"
                           "  ranks: 4\n  hosts: [a, b]\n  group_tflops: [0.5, 0.5]\n";
  auto fleet = partitioner::ParseFleet(head + "  group_optimizer_ns: [7, 0]\n", "f.yaml", *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_TRUE(fleet->groups[0].measured_optimizer_ns.has_value());
  EXPECT_EQ(*fleet->groups[0].measured_optimizer_ns, 7);
  EXPECT_FALSE(fleet->groups[1].measured_optimizer_ns.has_value());  // 0 = not measured
  auto back = partitioner::ParseFleet(FleetToYaml(*fleet), "back.yaml", *catalog);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << FleetToYaml(*fleet);
  EXPECT_EQ(back->measured->group_optimizer_ns, (std::vector<double>{7, 0}));
  EXPECT_EQ(back->groups[0].measured_optimizer_ns.value_or(0), 7);
  auto without = partitioner::ParseFleet(head, "f.yaml", *catalog);  // the key is optional
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(FleetToYaml(*without).find("group_optimizer_ns"), std::string::npos);
  auto short_list =
      partitioner::ParseFleet(head + "  group_optimizer_ns: [7]\n", "f.yaml", *catalog);
  ASSERT_FALSE(short_list.ok());
  EXPECT_THAT(std::string(short_list.status().message()), testing::HasSubstr("group_optimizer_ns"));
  auto negative =
      partitioner::ParseFleet(head + "  group_optimizer_ns: [7, -1]\n", "f.yaml", *catalog);
  EXPECT_FALSE(negative.ok());

  auto model = partitioner::ParseModel(kLayerModel, "m.yaml");
  ASSERT_TRUE(model.ok()) << model.status();
  partitioner::TrainingSpec training;
  training.precision = partitioner::Precision::kFp32;
  training.global_batch = 8;
  training.micro_batch = 2;
  training.zero_stage = 1;
  auto cost = partitioner::CostModel::Create(*fleet, *model, training);
  ASSERT_TRUE(cost.ok()) << cost.status();
  const int64_t layers = static_cast<int64_t>(cost->layers().size());
  const partitioner::MemoryBreakdown m = cost->StageMemory(1, 1, 0, layers, 0, 1);  // dp 1
  const double parameters = m.weights / 4;                                          // fp32
  EXPECT_NEAR(cost->OptimizerTime(0, m), parameters * 7e-9, 1e-15);
  EXPECT_NEAR(cost->OptimizerTime(1, m),
              (2 * m.optimizer + m.gradients + m.weights) /
                  (fleet->groups[1].device.memory_bandwidth_gbs * 1e9),
              1e-15);

  // The simulator's optimizer op: each cell's stage parameters × its group's figure.
  auto plan = partitioner::MakePlan(*cost, partitioner::StrategyKind::kUniform);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto step = simulator::Simulate(*cost, *plan, simulator::SimOptions{});
  ASSERT_TRUE(step.ok()) << step.status();
  int measured_cells = 0;
  for (const auto& cell : step->cells) {
    const auto& stage = plan->stages[cell.stage];
    const partitioner::MemoryBreakdown sm =
        cost->StageMemory(partitioner::StageTp(*plan, cell.stage), plan->dp, stage.layer_begin,
                          stage.layer_end, 0, 1);
    const bool on_group0 = cell.devices[0] < 2;  // devices 0-1: group 0
    if (on_group0) {
      // ZeRO-1: a device updates the 1/dp of its stage's parameters whose states it holds.
      EXPECT_NEAR(cell.optimizer_s, sm.weights / 4 / plan->dp * 7e-9, 1e-15);
      ++measured_cells;
    } else {
      EXPECT_NEAR(cell.optimizer_s, cost->OptimizerTime(1, sm), 1e-15);
    }
  }
  EXPECT_GT(measured_cells, 0);
}

// Layer times per kind and tensor-parallel degree (layer_time_probe.h) on the simulated
// transport: ranks are threads; degrees whose tp groups stay on one host and divide the model.

// The fleet of `fleet_text` and a job of the tensor-parallel test model at micro-batch 2.
struct LayerProbeCase {
  partitioner::Fleet fleet;
  JobConfig job;
};
absl::StatusOr<LayerProbeCase> LayerProbeCaseOf(const std::string& fleet_text) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  if (!catalog.ok()) return catalog.status();
  auto fleet = partitioner::ParseFleet(fleet_text, "f.yaml", *catalog);
  if (!fleet.ok()) return fleet.status();
  LayerProbeCase c{*std::move(fleet), JobConfig{}};
  auto model = partitioner::ParseModel(kLayerModel, "m.yaml");
  if (!model.ok()) return model.status();
  c.job.model = *model;
  c.job.training.micro_batch = 2;
  c.job.seed = 1;
  return c;
}

// `one_host`: every rank on one machine (as `mpirun` on one box), else each node its own.
absl::StatusOr<std::vector<partitioner::MeasuredLayerTime>> ProbeLayerTimesOn(
    const std::string& fleet_text, int ranks, std::vector<int>* degrees, bool one_host = false) {
  auto probe_case = LayerProbeCaseOf(fleet_text);
  if (!probe_case.ok()) return probe_case.status();
  const partitioner::Fleet* fleet = &probe_case->fleet;
  JobConfig& job = probe_case->job;
  std::vector<RankPlace> places;
  for (const std::string& h : SimHosts(*fleet)) places.push_back({one_host ? "box" : h, 0});
  places.resize(ranks);
  *degrees = CandidateTpDegrees(ranks, places, *fleet, job);
  SimOptions sim;
  sim.ranks = ranks;
  auto world = SimWorld::Create(sim);
  if (!world.ok()) return world.status();
  std::vector<std::vector<partitioner::MeasuredLayerTime>> results(ranks);
  LayerTimeProbeOptions options;
  options.warmup = 1;
  options.passes = 3;
  auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
    auto r = ProbeLayerTimes(comm, *fleet, job, places, options);
    if (!r.ok()) return r.status();
    results[comm.rank()] = r->times;
    return absl::OkStatus();
  });
  for (const auto& st : statuses) {
    if (!st.ok()) return st;
  }
  for (int r = 1; r < ranks; ++r) {
    if (results[r].size() != results[0].size()) return absl::InternalError("ranks disagree");
  }
  return results[0];
}

// Counts entries of `group` at `tp` (one per kind expected) and checks they are positive.
int EntriesAt(const std::vector<partitioner::MeasuredLayerTime>& times, int group, int tp) {
  int n = 0;
  for (const auto& t : times) {
    if (t.group != group || t.tp != tp) continue;
    EXPECT_GT(t.forward_ms, 0);
    EXPECT_TRUE(t.backward_ms.has_value());
    EXPECT_EQ(t.micro_batch, 2);
    ++n;
  }
  return n;
}

TEST(LayerTimeProbeTest, EveryKindAtEachDegreeEvenRanks) {
  std::vector<int> degrees;
  auto times = ProbeLayerTimesOn(
      "name: f\nnodes:\n  - device: cpu\n    devices_per_node: 4\n    count: 2\n", 8, &degrees);
  ASSERT_TRUE(times.ok()) << times.status();
  EXPECT_EQ(degrees, (std::vector<int>{2}));  // 6 heads: tp 4 does not divide the model
  EXPECT_EQ(EntriesAt(*times, 0, 1), 3);
  EXPECT_EQ(EntriesAt(*times, 0, 2), 3);
  EXPECT_EQ(times->size(), 6u);
}

TEST(LayerTimeProbeTest, OddRanksAndGroupsOfTheirOwn) {
  std::vector<int> degrees;
  // A node of three devices and two of one (one EMULATION-slowed): 5 ranks, which no degree
  // divides, so tp 1 per group; then a node of three alone: tp 3.
  auto times = ProbeLayerTimesOn(
      "name: f\nnodes:\n  - device: cpu\n    devices_per_node: 3\n    count: 1\n"
      "  - device: cpu\n    devices_per_node: 1\n    count: 2\n    emulate_slowdown: 2\n",
      5, &degrees);
  ASSERT_TRUE(times.ok()) << times.status();
  EXPECT_TRUE(degrees.empty());  // 5 ranks: no degree divides them
  EXPECT_EQ(EntriesAt(*times, 0, 1), 3);
  EXPECT_EQ(EntriesAt(*times, 1, 1), 3);
  auto three = ProbeLayerTimesOn(
      "name: f\nnodes:\n  - device: cpu\n    devices_per_node: 3\n    count: 1\n", 3, &degrees);
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(degrees, (std::vector<int>{3}));
  EXPECT_EQ(EntriesAt(*three, 0, 3), 3);
}

// Ranks on one machine can form a tp group of 1-device nodes; the fleet file cannot use (and
// refuses) a time at a degree its nodes cannot form, so the probe writes none: a node of two at tp
// 1 and 2, the two 1-device nodes at tp 1 only. They were written at tp 2 as well.
TEST(LayerTimeProbeTest, RanksOnOneHostWriteNoDegreeTheirNodesCannotForm) {
  const std::string text =
      "name: f\nnodes:\n  - device: cpu\n    devices_per_node: 2\n    count: 1\n"
      "  - device: cpu\n    devices_per_node: 1\n    count: 2\n";
  std::vector<int> degrees;
  auto times = ProbeLayerTimesOn(text, 4, &degrees, /*one_host=*/true);
  ASSERT_TRUE(times.ok()) << times.status();
  EXPECT_EQ(degrees, (std::vector<int>{2}));
  EXPECT_EQ(EntriesAt(*times, 0, 1), 3);
  EXPECT_EQ(EntriesAt(*times, 0, 2), 3);
  EXPECT_EQ(EntriesAt(*times, 1, 1), 3);
  EXPECT_EQ(EntriesAt(*times, 1, 2), 0);
  EXPECT_EQ(times->size(), 9u);
}

// The whole probe (compute, layer times, links) of `ranks` simulated ranks of `fleet_text`, on
// the tensor-parallel test model, with `budget`; every rank's result.
absl::StatusOr<std::vector<FleetProbeResult>> ProbeFleetOn(const std::string& fleet_text, int ranks,
                                                           absl::Duration budget) {
  auto probe_case = LayerProbeCaseOf(fleet_text);
  if (!probe_case.ok()) return probe_case.status();
  const partitioner::Fleet* fleet = &probe_case->fleet;
  JobConfig& job = probe_case->job;
  SimOptions sim;
  sim.ranks = ranks;
  auto links = SimLinks(*fleet, ranks);
  if (!links.ok()) return links.status();
  sim.links = *links;
  sim.timeout = absl::Seconds(120);
  auto world = SimWorld::Create(sim);
  if (!world.ok()) return world.status();
  FleetProbeOptions options;
  options.job = &job;
  options.hosts = SimHosts(*fleet);
  options.hosts.resize(ranks);
  options.budget = budget;
  std::vector<FleetProbeResult> results(ranks);
  auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
    auto r = ProbeFleet(comm, *fleet, options);
    if (!r.ok()) return r.status();
    results[comm.rank()] = *r;
    return absl::OkStatus();
  });
  for (const auto& st : statuses) {
    if (!st.ok()) return st;
  }
  return results;
}

constexpr char kTwoByTwo[] =
    "name: f\nnodes:\n  - device: cpu\n    devices_per_node: 2\n    count: 2\n";

// A budget no pass fits in: every part runs its minimum (the calibration one timed pass per layer
// in each of its 3 probes, the layer times 3 passes at tp 2), says so in `how:`, and the file
// still loads with every figure and plans' inputs in place. Without a budget: the full counts.
TEST(FleetProbeBudgetTest, TinyBudgetRunsTheMinimumPassesAndSaysSo) {
  auto cut = ProbeFleetOn(kTwoByTwo, 4, absl::Microseconds(1));
  ASSERT_TRUE(cut.ok()) << cut.status();
  const FleetProbeResult& r = (*cut)[0];
  for (const auto& report : r.reports) {
    EXPECT_EQ(report.calibration_passes, 1);
    EXPECT_TRUE(report.calibration_budget_hit);
    EXPECT_GT(report.optimizer_ns_per_parameter, 0);  // timed after each probe, budget or not
  }
  const std::string& how = r.measured.how;
  EXPECT_THAT(how, ::testing::HasSubstr("at least 1 on every rank"));
  EXPECT_THAT(how, ::testing::HasSubstr("reached on 4 of 4 ranks"));
  EXPECT_THAT(how, ::testing::HasSubstr("tp 1: each kind's median over the compute probe"));
  EXPECT_THAT(how, ::testing::HasSubstr("tp 2: a one-block copy, median of 3 timed passes"));
  EXPECT_EQ(how.find("not reached"), std::string::npos) << how;
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  auto back = partitioner::ParseFleet(FleetToYaml(r.fleet), "measured.yaml", *catalog);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->measured.has_value());
  EXPECT_GT(back->measured->group_tflops[0], 0);
  EXPECT_GT(back->groups[0].measured_optimizer_ns.value_or(0), 0);
  EXPECT_THAT(how, ::testing::HasSubstr("optimizer: one AdamW step of the whole model"));
  ASSERT_EQ(back->groups[0].layer_times.size(), 6u);  // 3 kinds at tp 1 and at tp 2
  for (const auto& t : back->groups[0].layer_times) EXPECT_GT(t.forward_ms, 0);
  EXPECT_NE(back->measured->Find(partitioner::LinkClass::kSameIsland), nullptr);

  auto full = ProbeFleetOn(kTwoByTwo, 4, absl::InfiniteDuration());
  ASSERT_TRUE(full.ok()) << full.status();
  for (const auto& report : (*full)[0].reports) {
    EXPECT_EQ(report.calibration_passes, 10);
    EXPECT_FALSE(report.calibration_budget_hit);
  }
  EXPECT_THAT((*full)[0].measured.how,
              ::testing::HasSubstr("all 10 on every rank; no time budget"));
  EXPECT_THAT((*full)[0].measured.how, ::testing::HasSubstr("median of 9 timed passes"));
}

// The whole probe of 64 simulated ranks (8 nodes of 8) with the default budget: every figure,
// and its wall time and its parts' printed against the issue's 30 s (no timed assertion: the
// machine is shared).
TEST(FleetProbeBudgetTest, SixtyFourRanks) {
  auto r = ProbeFleetOn("name: f\nnodes:\n  - device: cpu\n    devices_per_node: 8\n    count: 8\n",
                        64, absl::Seconds(kDefaultProbeBudgetSeconds));
  ASSERT_TRUE(r.ok()) << r.status();
  const FleetProbeResult& p = (*r)[0];
  EXPECT_GT(p.measured.group_tflops[0], 0);
  // Layer times: tp 1 (from the calibration) and tp 2 (6 heads: not 4 or 8), three kinds each.
  EXPECT_EQ(EntriesAt(p.measured.layer_times, 0, 1), 3);
  EXPECT_EQ(EntriesAt(p.measured.layer_times, 0, 2), 3);
  EXPECT_EQ(p.measured.layer_times.size(), 6u);
  std::printf(
      "whole probe of 64 simulated ranks: %.2f s wall (compute %.2f, layer times %.2f, links "
      "%.2f)\n  how: %s\n",
      p.seconds, p.compute_seconds, p.layer_time_seconds, p.link_seconds, p.measured.how.c_str());
}

TEST(LayerTimeProbeTest, DegreesNeedOneHostPerGroup) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  auto fleet = partitioner::ParseFleet(
      "name: f\nnodes:\n  - device: cpu\n    devices_per_node: 4\n    count: 2\n", "f.yaml",
      *catalog);
  ASSERT_TRUE(fleet.ok());
  JobConfig job;
  job.model = *partitioner::ParseModel(kLayerModel, "m.yaml");
  std::vector<RankPlace> places = {{"a", 0}, {"a", 0}, {"b", 0}, {"b", 0},
                                   {"c", 0}, {"c", 0}, {"d", 0}, {"d", 0}};
  EXPECT_EQ(CandidateTpDegrees(8, places, *fleet, job), (std::vector<int>{2}));
  places[1].host = "x";
  EXPECT_TRUE(CandidateTpDegrees(8, places, *fleet, job).empty());
}

// The layer_times entries: strict reading (file:line and field), and the file round trip.
TEST(MeasuredFleetTest, LayerTimesRoundTripAndAreStrict) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  const std::string base = std::string(kFleet) +
                           "measured:\n  when: \"x\"\n  how: \"y\"\n  tool_version: \"1\"\n"
                           "  ranks: 4\n  hosts: [a, b]\n  group_tflops: [0.5, 0]\n"
                           "  layer_times:\n";
  const std::string good = base +
                           "    - {group: 0, kind: block, tp: 1, micro_batch: 2, forward_ms: 3}\n"
                           "    - {group: 0, kind: block, tp: 2, micro_batch: 2, forward_ms: 2.5}\n"
                           "    - {group: 1, kind: head, tp: 1, micro_batch: 1, forward_ms: 1, "
                           "backward_ms: 2.5}\n";
  auto fleet = partitioner::ParseFleet(good, "f.yaml", *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_EQ(fleet->groups[0].layer_times.size(), 2u);
  ASSERT_EQ(fleet->groups[1].layer_times.size(), 1u);
  EXPECT_EQ(fleet->groups[1].layer_times[0].kind, partitioner::MeasuredLayerKind::kHead);
  EXPECT_EQ(fleet->groups[1].layer_times[0].backward_ms.value_or(0), 2.5);
  EXPECT_FALSE(fleet->groups[0].layer_times[0].backward_ms.has_value());
  auto back = partitioner::ParseFleet(FleetToYaml(*fleet), "back.yaml", *catalog);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << FleetToYaml(*fleet);
  ASSERT_EQ(back->measured->layer_times.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const auto& a = fleet->measured->layer_times[i];
    const auto& b = back->measured->layer_times[i];
    EXPECT_EQ(a.group, b.group);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.tp, b.tp);
    EXPECT_EQ(a.micro_batch, b.micro_batch);
    EXPECT_EQ(a.forward_ms, b.forward_ms);
    EXPECT_EQ(a.backward_ms, b.backward_ms);
  }
  struct Bad {
    const char* entry;
    const char* message;
  };
  const Bad bad[] = {
      {"{group: 2, kind: block, tp: 1, micro_batch: 1, forward_ms: 1}",
       "f.yaml:20:15: measured.layer_times[0].group"},
      {"{group: 0, kind: mlp, tp: 1, micro_batch: 1, forward_ms: 1}",
       "measured.layer_times[0].kind"},
      {"{group: 0, kind: block, tp: 0, micro_batch: 1, forward_ms: 1}",
       "measured.layer_times[0].tp"},
      {"{group: 0, kind: block, tp: 1, micro_batch: 1, forward_ms: 0}",
       "measured.layer_times[0].forward_ms"},
      {"{group: 0, kind: block, tp: 1, micro_batch: 1, forward_ms: 1, backward_ms: -1}",
       "measured.layer_times[0].backward_ms"},
      {"{group: 0, kind: block, tp: 1, forward_ms: 1}", "measured.layer_times[0].micro_batch"},
      {"{group: 0, kind: block, tp: 1, micro_batch: 1, forward_ms: 1, when: 3}",
       "measured.layer_times[0].when"},
  };
  for (const Bad& b : bad) {
    auto f = partitioner::ParseFleet(base + "    - " + b.entry + "\n", "f.yaml", *catalog);
    ASSERT_FALSE(f.ok()) << b.entry;
    EXPECT_THAT(std::string(f.status().message()), testing::HasSubstr(b.message)) << b.entry;
  }
  auto twice = partitioner::ParseFleet(
      base + "    - {group: 0, kind: block, tp: 2, micro_batch: 1, forward_ms: 1}\n" +
          "    - {group: 0, kind: block, tp: 2, micro_batch: 1, forward_ms: 2}\n",
      "f.yaml", *catalog);
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(std::string(twice.status().message()), testing::HasSubstr("measured twice"));
}

// A layer time at a degree no tp group of its nodes can have (one not dividing its devices per
// node) would never be used: refused where it is written. They loaded (session-12 CLI audit).
TEST(MeasuredFleetTest, LayerTimeDegreeTheNodesCannotFormIsRefused) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  const auto load = [&](int per_node, int tp) {
    const std::string text =
        absl::StrCat("name: f\nnodes:\n  - {device: H100, devices_per_node: ", per_node,
                     ", count: 2}\nmeasured:\n  when: \"x\"\n  how: \"y\"\n  tool_version: \"1\"\n"
                     "  ranks: 2\n  hosts: [a, b]\n  group_tflops: [0.5]\n  layer_times:\n"
                     "    - {group: 0, kind: block, tp: ",
                     tp, ", micro_batch: 1, forward_ms: 1}\n");
    auto f = partitioner::ParseFleet(text, "f.yaml", *catalog);
    return f.ok() ? std::string("ok") : std::string(f.status().message());
  };
  for (int tp : {1, 2, 4, 8}) EXPECT_EQ(load(8, tp), "ok") << tp;
  EXPECT_THAT(load(8, 3), testing::AllOf(testing::HasSubstr("f.yaml:12:35: measured.layer_times[0]"
                                                            ".tp: expected a tensor-parallel"),
                                         testing::HasSubstr("dividing 8 (1, 2, 4, 8)")));
  EXPECT_THAT(load(8, 16), testing::HasSubstr("measured.layer_times[0].tp"));
  EXPECT_THAT(load(2, 4), testing::HasSubstr("dividing 2 (1, 2)"));
  // A per-stage layout.tp takes any degree dividing a node's devices: tp 3 on 6-device nodes.
  EXPECT_EQ(load(6, 3), "ok");
  EXPECT_EQ(load(6, 6), "ok");
}

// measured.ranks and hosts against the fleet: what cannot be true is refused (more ranks than
// devices, a host twice, more hosts than ranks, a pool of ranks the probe did not have); a probe
// of fewer ranks than devices is not. They loaded (session-12 CLI audit).
TEST(MeasuredFleetTest, RanksAndHostsAreCheckedAgainstTheFleet) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  const auto load = [&](const std::string& ranks_and_hosts, const std::string& rest = "") {
    auto f = partitioner::ParseFleet(std::string(kFleet) +
                                         "measured:\n  when: \"x\"\n  how: \"y\"\n"
                                         "  tool_version: \"1\"\n" +
                                         ranks_and_hosts + "  group_tflops: [0.5, 0]\n" + rest,
                                     "f.yaml", *catalog);
    return f.ok() ? std::string("ok") : std::string(f.status().message());
  };
  EXPECT_EQ(load("  ranks: 4\n  hosts: [a, b]\n"), "ok");
  EXPECT_EQ(load("  ranks: 1\n  hosts: [a]\n"), "ok");  // fewer ranks than devices
  EXPECT_THAT(load("  ranks: 5\n  hosts: [a, b]\n"),
              testing::AllOf(testing::HasSubstr("f.yaml:16:10: measured.ranks"),
                             testing::HasSubstr("at most the fleet's 4 devices")));
  EXPECT_THAT(load("  ranks: 2\n  hosts: [a, b, c]\n"),
              testing::AllOf(testing::HasSubstr("f.yaml:17:10: measured.hosts"),
                             testing::HasSubstr("3 hosts for 2 ranks")));
  EXPECT_THAT(load("  ranks: 4\n  hosts: [a, b, a]\n"),
              testing::AllOf(testing::HasSubstr("f.yaml:17:17: measured.hosts[2]"),
                             testing::HasSubstr("host a is listed twice")));
  const std::string pool =
      "  cpu_pools:\n    - {machine: m, cores: 2, ranks: [1, 2], busy_tflops: 1, "
      "solo_tflops: 1}\n";
  EXPECT_EQ(load("  ranks: 3\n  hosts: [a, b]\n", pool), "ok");
  EXPECT_THAT(load("  ranks: 2\n  hosts: [a, b]\n", pool),
              testing::AllOf(testing::HasSubstr("measured.cpu_pools[0].ranks[1]"),
                             testing::HasSubstr("below measured.ranks (2)")));
}

// group_tflops and group_optimizer_ns had no upper bound: [1e300, 0] loaded and planned at an MFU
// of 22575 %, or left the group unused without a word. Their errors said no value either.
TEST(MeasuredFleetTest, GroupFiguresAreBoundedAndNamed) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  const auto load = [&](const std::string& figures) {
    auto f = partitioner::ParseFleet(std::string(kFleet) +
                                         "measured:\n  when: \"x\"\n  how: \"y\"\n"
                                         "  tool_version: \"1\"\n  ranks: 4\n  hosts: [a, b]\n" +
                                         figures,
                                     "f.yaml", *catalog);
    return f.ok() ? std::string("ok") : std::string(f.status().message());
  };
  EXPECT_EQ(load("  group_tflops: [1e6, 0]\n  group_optimizer_ns: [1e4, 0]\n"), "ok");
  EXPECT_EQ(load("  group_tflops: [1e300, 0]\n"),
            "f.yaml:18:18: measured.group_tflops[0]: expected a number >= 0 and <= 1e+06, found "
            "1e300");
  EXPECT_EQ(
      load("  group_tflops: [-5, 0]\n"),
      "f.yaml:18:18: measured.group_tflops[0]: expected a number >= 0 and <= 1e+06, found -5");
  EXPECT_THAT(load("  group_tflops: [1, 0]\n  group_optimizer_ns: [0, 1e300]\n"),
              testing::HasSubstr("measured.group_optimizer_ns[1]: expected a number >= 0 and <= "
                                 "10000, found 1e300"));
  EXPECT_THAT(load("  group_tflops: [[1], 0]\n"), testing::HasSubstr("found a collection"));
}

// A probe of more ranks than the fleet has devices would write a file that does not load.
TEST(MeasuredFleetTest, ProbeOfMoreRanksThanDevicesIsRefused) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  auto fleet = partitioner::ParseFleet(kFleet, "two-hosts.yaml", *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  SimOptions sim;
  sim.ranks = 5;
  auto world = SimWorld::Create(sim);
  ASSERT_TRUE(world.ok());
  FleetProbeOptions options;
  options.hosts = {"a", "a", "b", "b", "c"};
  auto statuses = (*world)->Run(
      [&](collectives::Communicator& comm) { return ProbeFleet(comm, *fleet, options).status(); });
  for (const auto& s : statuses) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()), testing::HasSubstr("5 ranks, but fleet two-hosts has 4"));
  }
}

TEST(MeasuredFleetTest, TokenBucketRoundTripsAndIsStrict) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  const std::string head = std::string(kFleet) +
                           "measured:\n  when: \"x\"\n  how: \"y\"\n  tool_version: \"1\"\n"
                           "  ranks: 4\n  hosts: [a, b]\n  group_tflops: [0.5, 0]\n  links:\n";
  const std::string text = head +
                           "    - {class: same_island, latency_us: 6, bandwidth_gbs: 0.00625, "
                           "burst_bytes: 62001, peak_gbs: 0.4}\n";
  auto fleet = partitioner::ParseFleet(text, "f.yaml", *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  const auto& island = fleet->network.measured_links[static_cast<int>(LinkClass::kSameIsland)];
  ASSERT_TRUE(island.has_value());
  EXPECT_EQ(island->burst_bytes, 62001);
  EXPECT_EQ(island->peak_gbs, 0.4);
  auto back = partitioner::ParseFleet(FleetToYaml(*fleet), "back.yaml", *catalog);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << FleetToYaml(*fleet);
  EXPECT_EQ(back->measured->links[0].burst_bytes.value_or(0), 62001);
  EXPECT_EQ(back->measured->links[0].peak_gbs.value_or(0), 0.4);
  // Without the fields the link has no bucket, and the file does not grow them.
  auto plain = partitioner::ParseFleet(
      head + "    - {class: same_island, latency_us: 6, bandwidth_gbs: 0.00625}\n", "f.yaml",
      *catalog);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->network.measured_links[1]->has_bucket());
  EXPECT_EQ(FleetToYaml(*plain).find("burst_bytes"), std::string::npos);

  auto error = [&](const std::string& fields) {
    auto f = partitioner::ParseFleet(
        head + "    - {class: same_island, latency_us: 6, bandwidth_gbs: 0.00625" + fields + "}\n",
        "f.yaml", *catalog);
    return f.ok() ? std::string("ok") : std::string(f.status().message());
  };
  EXPECT_THAT(error(", burst_bytes: 64000"),
              testing::AllOf(testing::HasSubstr("f.yaml:20:"),
                             testing::HasSubstr("measured.links[0].burst_bytes"),
                             testing::HasSubstr("peak_gbs is missing")));
  EXPECT_THAT(error(", peak_gbs: 0.4"), testing::HasSubstr("measured.links[0].peak_gbs"));
  EXPECT_THAT(error(", burst_bytes: 64000, peak_gbs: 0.005"),
              testing::AllOf(testing::HasSubstr("measured.links[0].peak_gbs"),
                             testing::HasSubstr("more than bandwidth_gbs")));
  EXPECT_THAT(error(", burst_bytes: -5, peak_gbs: 0.4"),
              testing::HasSubstr("measured.links[0].burst_bytes"));
  EXPECT_THAT(error(", burst_bytes: lots, peak_gbs: 0.4"),
              testing::HasSubstr("measured.links[0].burst_bytes"));
}

}  // namespace
}  // namespace tangram::orchestrator
