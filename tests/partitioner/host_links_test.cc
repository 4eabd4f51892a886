// A probe's host_links (measurements.h: MeasuredHostLink): one pair of hosts measured apart from
// its link class's representative pair. The fleet file's reading (clear errors), its writing
// (round trip), and what the communication model does with it: the pair's point-to-point rate
// scales, and so does a ring over a subset of the hosts against the ring the class's collective
// was timed on; the world's collectives and every other pair do not.
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "partitioner/comm_model.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/measurements.h"

namespace tangram::partitioner {
namespace {

// Three one-device hosts a, b, c in one island; the class figure is the a-b pair's 50 Mbit/s
// (6.25 MB/s), with a timed allreduce and a token bucket; `host_links` is appended.
std::string ThreeHosts(const std::string& host_links) {
  return "name: three-hosts\nnodes:\n"
         "  - {device: cpu, devices_per_node: 1, count: 1, host: a}\n"
         "  - {device: cpu, devices_per_node: 1, count: 1, host: b}\n"
         "  - {device: cpu, devices_per_node: 1, count: 1, host: c}\n"
         "measured:\n  when: \"x\"\n  how: \"y\"\n  tool_version: \"1\"\n  ranks: 3\n"
         "  hosts: [a, b, c]\n  group_tflops: [0.03, 0.03, 0.03]\n  links:\n"
         "    - {class: same_island, latency_us: 10, bandwidth_gbs: 0.00625, "
         "allreduce_gbs: 0.005, burst_bytes: 64000, peak_gbs: 1, pair: \"0-1\"}\n" +
         host_links;
}

absl::StatusOr<Fleet> Parse(const std::string& text) {
  auto catalog = DeviceCatalog::BuiltIn();
  if (!catalog.ok()) return catalog.status();
  return ParseFleet(text, "f.yaml", *catalog);
}

// Host c's NIC at 10 Mbit/s: its pairs carry a fifth of the class figure.
const char kSlowC[] =
    "  host_links:\n"
    "    - {hosts: [a, b], bandwidth_gbs: 0.00625}\n"
    "    - {hosts: [a, c], bandwidth_gbs: 0.00125}\n"
    "    - {hosts: [c, b], bandwidth_gbs: 0.00125}\n";

TEST(HostLinksTest, APairMeasuredApartScalesItsPointToPointRateOnly) {
  auto plain = Parse(ThreeHosts(""));
  auto slow_c = Parse(ThreeHosts(kSlowC));
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(slow_c.ok()) << slow_c.status();
  CommModel before(*plain, FlattenFleet(*plain));
  CommModel after(*slow_c, FlattenFleet(*slow_c));
  EXPECT_DOUBLE_EQ(after.PairScale(0, 1), 1.0);
  EXPECT_DOUBLE_EQ(after.PairScale(0, 2), 0.2);
  EXPECT_DOUBLE_EQ(after.PairScale(2, 1), 0.2);  // either order
  EXPECT_DOUBLE_EQ(after.LinkGbs(0, 1), before.LinkGbs(0, 1));
  EXPECT_DOUBLE_EQ(after.LinkGbs(0, 2), 0.2 * before.LinkGbs(0, 2));
  EXPECT_DOUBLE_EQ(after.LinkGbs(1, 2), 0.2 * before.LinkGbs(1, 2));
  EXPECT_DOUBLE_EQ(after.LinkLatency(0, 2), before.LinkLatency(0, 2));
  // The slow pair's shaper keeps its burst (it passes at the line rate); its sustained rate is
  // the pair's.
  const TokenBucket b = after.LinkBucket(0, 2), b0 = before.LinkBucket(0, 2);
  EXPECT_DOUBLE_EQ(b.burst_bytes, b0.burst_bytes);
  EXPECT_DOUBLE_EQ(b.peak_gbs, b0.peak_gbs);
  EXPECT_DOUBLE_EQ(b.gbs, 0.2 * b0.gbs);
  // A message well past the burst takes about five times as long.
  EXPECT_NEAR(after.P2pTime(0, 2, 4e6, 0) / before.P2pTime(0, 2, 4e6, 0), 5.0, 0.1);
  // Collectives keep the class's timed rate (measured over every pair, the slowest included).
  const std::vector<int64_t> world = {0, 1, 2};
  EXPECT_DOUBLE_EQ(after.AllreduceTime(after.Summarize(world), 1e6),
                   before.AllreduceTime(before.Summarize(world), 1e6));
}

// The class's representative pair on the slow host: the others' pairs are faster than its figure.
TEST(HostLinksTest, APairFasterThanTheClassFigureScalesUp) {
  auto fleet = Parse(ThreeHosts("  host_links:\n    - {hosts: [b, c], bandwidth_gbs: 0.03125}\n"));
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  CommModel comm(*fleet, FlattenFleet(*fleet));
  EXPECT_DOUBLE_EQ(comm.PairScale(1, 2), 5.0);
  EXPECT_DOUBLE_EQ(comm.PairScale(0, 2), 1.0);  // not measured apart: the class figure
}

// Four one-device hosts a, b, c, d; c's NIC at a fifth of the others' (its pairs 0.2). The world's
// collective was timed through c (allreduce_gbs); with `pair_allreduce`, the pairs' exchange on
// the representative pair a-b too.
absl::StatusOr<Fleet> FourHostsSlowC(bool pair_allreduce) {
  return Parse(
      "name: four-hosts\nnodes:\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: a}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: b}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: c}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: d}\n"
      "measured:\n  when: \"x\"\n  how: \"y\"\n  tool_version: \"1\"\n  ranks: 4\n"
      "  hosts: [a, b, c, d]\n  group_tflops: [0.03, 0.03, 0.03, 0.03]\n  links:\n"
      "    - {class: same_island, latency_us: 10, bandwidth_gbs: 0.00625, allreduce_gbs: 0.001" +
      std::string(pair_allreduce ? ", pair_allreduce_gbs: 0.005" : "") +
      ", pair: \"0-1\"}\n"
      "  host_links:\n"
      "    - {hosts: [a, b], bandwidth_gbs: 0.00625}\n"
      "    - {hosts: [a, c], bandwidth_gbs: 0.00125}\n"
      "    - {hosts: [a, d], bandwidth_gbs: 0.00625}\n"
      "    - {hosts: [b, c], bandwidth_gbs: 0.00125}\n"
      "    - {hosts: [b, d], bandwidth_gbs: 0.00625}\n"
      "    - {hosts: [c, d], bandwidth_gbs: 0.00125}\n");
}

// The bandwidth part of an allreduce of `bytes` over `members` (the α terms cancel: same count).
double Bandwidth(const CommModel& comm, std::vector<int64_t> members, double bytes) {
  const AllreduceGroup group = comm.Summarize(members);
  return comm.AllreduceTime(group, 2 * bytes) - comm.AllreduceTime(group, bytes);
}

// FourHostsSlowC's model without its host pairs (the class figures alone) and with them.
struct BeforeAndAfter {
  CommModel before, after;
};
std::optional<BeforeAndAfter> FourHostModels(bool pair_allreduce) {
  auto fleet = FourHostsSlowC(pair_allreduce);
  if (!fleet.ok()) {
    ADD_FAILURE() << fleet.status();
    return std::nullopt;
  }
  Fleet plain = *fleet;
  plain.network.node_pair_scale.clear();
  return BeforeAndAfter{CommModel(plain, FlattenFleet(plain)),
                        CommModel(*fleet, FlattenFleet(*fleet))};
}

TEST(HostLinksTest, ARingOverSomeHostsRunsAtItsSlowestHop) {
  const std::optional<BeforeAndAfter> models = FourHostModels(/*pair_allreduce=*/false);
  ASSERT_TRUE(models.has_value());
  const CommModel& before = models->before;
  const CommModel& after = models->after;
  const double n = 1e6;
  // The world's ring was timed through c: unchanged, and so is any ring through c.
  EXPECT_DOUBLE_EQ(Bandwidth(after, {0, 1, 2, 3}, n), Bandwidth(before, {0, 1, 2, 3}, n));
  EXPECT_DOUBLE_EQ(Bandwidth(after, {2, 3}, n), Bandwidth(before, {2, 3}, n));
  EXPECT_DOUBLE_EQ(Bandwidth(after, {0, 2, 3}, n), Bandwidth(before, {0, 2, 3}, n));
  // Rings that avoid c run five times as fast: two members and three.
  EXPECT_NEAR(Bandwidth(before, {0, 1}, n) / Bandwidth(after, {0, 1}, n), 5.0, 1e-9);
  EXPECT_NEAR(Bandwidth(before, {0, 1, 3}, n) / Bandwidth(after, {0, 1, 3}, n), 5.0, 1e-9);
  EXPECT_DOUBLE_EQ(after.Summarize(std::vector<int64_t>{1, 3}).host_scale, 5.0);
}

// With the pairs' exchange timed on the representative pair a-b (step 5b), a ring of two is
// scaled against that pair: a-b keeps the timed figure, c-d gets a fifth of it.
TEST(HostLinksTest, ARingOfTwoIsScaledAgainstTheTimedPair) {
  const std::optional<BeforeAndAfter> models = FourHostModels(/*pair_allreduce=*/true);
  ASSERT_TRUE(models.has_value());
  const CommModel& before = models->before;
  const CommModel& after = models->after;
  const double n = 1e6;
  EXPECT_DOUBLE_EQ(Bandwidth(after, {0, 1}, n), Bandwidth(before, {0, 1}, n));
  EXPECT_NEAR(Bandwidth(after, {2, 3}, n) / Bandwidth(before, {2, 3}, n), 5.0, 1e-9);
  EXPECT_NEAR(Bandwidth(after, {1, 2}, n) / Bandwidth(before, {1, 2}, n), 5.0, 1e-9);
  // Rings of three or more still take the world's collective as their reference.
  EXPECT_NEAR(Bandwidth(before, {0, 1, 3}, n) / Bandwidth(after, {0, 1, 3}, n), 5.0, 1e-9);
}

TEST(HostLinksTest, RoundTripsThroughTheFleetFile) {
  auto fleet = Parse(ThreeHosts(kSlowC));
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_TRUE(fleet->measured.has_value());
  const std::string yaml = MeasurementsToYaml(*fleet->measured);
  EXPECT_NE(yaml.find("host_links:"), std::string::npos) << yaml;
  const std::string head = ThreeHosts("");
  auto again = Parse(head.substr(0, head.find("measured:")) + yaml);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << yaml;
  ASSERT_EQ(again->measured->host_links.size(), 3u);
  EXPECT_EQ(again->measured->host_links[2].a, "c");
  EXPECT_EQ(again->measured->host_links[2].b, "b");
  EXPECT_DOUBLE_EQ(again->measured->host_links[2].bandwidth_gbs, 0.00125);
  EXPECT_DOUBLE_EQ(again->network.NodePairScale(1, 2), 0.2);
}

TEST(HostLinksTest, BadEntriesAreRefusedNamingTheField) {
  struct Case {
    std::string entry, expected;
  };
  const std::vector<Case> cases = {
      {"{hosts: [a, d], bandwidth_gbs: 0.001}", "host d is not in measured.hosts"},
      {"{hosts: [a, a], bandwidth_gbs: 0.001}", "two distinct host names"},
      {"{hosts: [a, b, c], bandwidth_gbs: 0.001}", "two distinct host names"},
      {"{hosts: a, bandwidth_gbs: 0.001}", "hosts"},
      {"{hosts: [a, b], bandwidth_gbs: 0}", "expected a number > 0"},
      {"{hosts: [a, b], bandwidth_gbs: -1}", "bandwidth_gbs"},
      {"{hosts: [a, b]}", "bandwidth_gbs"},
      {"{hosts: [a, b], bandwidth_gbs: 0.001, latency_us: 3}", "latency_us"},
  };
  for (const Case& c : cases) {
    auto fleet = Parse(ThreeHosts("  host_links:\n    - " + c.entry + "\n"));
    ASSERT_FALSE(fleet.ok()) << c.entry;
    const std::string message(fleet.status().message());
    EXPECT_NE(message.find("f.yaml:"), std::string::npos) << message;
    EXPECT_NE(message.find("host_links"), std::string::npos) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.entry << ": " << message;
  }
  auto twice =
      Parse(ThreeHosts("  host_links:\n    - {hosts: [a, c], bandwidth_gbs: 0.001}\n"
                       "    - {hosts: [c, a], bandwidth_gbs: 0.002}\n"));
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(std::string(twice.status().message()).find("measured twice"), std::string::npos)
      << twice.status();
}

// Nodes that do not match the hosts one to one (two groups on host a: two nodes?) — here three
// nodes but two hosts listed: the pairs cannot be placed, and nothing is scaled.
TEST(HostLinksTest, NodesThatAreNotTheHostsGetNoScale) {
  std::string text = ThreeHosts("  host_links:\n    - {hosts: [a, b], bandwidth_gbs: 0.001}\n");
  text.replace(text.find("hosts: [a, b, c]"), 16, "hosts: [a, b]");
  auto fleet = Parse(text);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  EXPECT_TRUE(fleet->network.node_pair_scale.empty());
}

}  // namespace
}  // namespace tangram::partitioner
