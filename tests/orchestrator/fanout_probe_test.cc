// Step 3c of the link probe (orchestrator/probe/fanout_probe.h): the links figure from three
// times, the trio it is timed on, the whole step on the simulated transport, and the measured
// section's `fanout:` line (read strictly, written back).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collectives/sim/sim_world.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/probe/fanout_probe.h"
#include "orchestrator/probe/fleet_probe.h"
#include "orchestrator/probe/link_probe.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"

namespace tangram::orchestrator {
namespace {

using collectives::LinkCost;
using collectives::LinkModel;

std::vector<RankPlace> Hosts(int n, int per_host = 1) {
  std::vector<RankPlace> places;
  for (int h = 0; h < n; ++h) {
    for (int k = 0; k < per_host; ++k) places.push_back({"h" + std::to_string(h), 0});
  }
  return places;
}

std::vector<partitioner::MeasuredHostLink> Pairs(const std::vector<double>& rates, int hosts) {
  std::vector<partitioner::MeasuredHostLink> out;
  size_t i = 0;
  for (int a = 0; a < hosts; ++a) {
    for (int b = a + 1; b < hosts; ++b) {
      out.push_back({"h" + std::to_string(a), "h" + std::to_string(b), rates.at(i++)});
    }
  }
  return out;
}

TEST(FanoutProbeTest, LinksRunFromOnePortToALinkEach) {
  EXPECT_DOUBLE_EQ(FanoutLinks(1, 1, 2), 1);  // in turn through one port
  EXPECT_DOUBLE_EQ(FanoutLinks(1, 1, 1), 2);  // side by side
  // Equal sends: 2a ÷ both, the links at which a port passing each at links ÷ 2 takes `both`.
  EXPECT_DOUBLE_EQ(FanoutLinks(1, 1, 1.5), 4.0 / 3);
  // Unequal sends: side by side takes the longer, in turn the sum.
  EXPECT_DOUBLE_EQ(FanoutLinks(1, 0.5, 1), 2);
  EXPECT_DOUBLE_EQ(FanoutLinks(1, 0.5, 1.5), 1);
  // Noise past either end is clamped; a send that was not timed gives the shared port.
  EXPECT_DOUBLE_EQ(FanoutLinks(1, 1, 0.8), 2);
  EXPECT_DOUBLE_EQ(FanoutLinks(1, 1, 3), 1);
  EXPECT_DOUBLE_EQ(FanoutLinks(0, 1, 1), 1);
}

TEST(FanoutProbeTest, TrioIsTheThreeHostsOfMostEvenRates) {
  // Pairs in order 0-1, 0-2, 0-3, 1-2, 1-3, 2-3: host 1 at a fifth of the others.
  auto trio = FanoutTrio(Hosts(4), Pairs({0.2, 1, 1, 0.2, 0.2, 1}, 4));
  ASSERT_TRUE(trio.has_value());
  EXPECT_EQ(*trio, (std::array<int, 3>{0, 2, 3}));
  // Two ranks a host: the trio is each host's first rank.
  trio = FanoutTrio(Hosts(3, 2), Pairs({1, 1, 0.9}, 3));
  ASSERT_TRUE(trio.has_value());
  EXPECT_EQ(*trio, (std::array<int, 3>{0, 2, 4}));
  // Every trio has a pair under half its fastest: none.
  EXPECT_FALSE(FanoutTrio(Hosts(3), Pairs({1, 0.3, 1}, 3)).has_value());
  // Two hosts, or no pair figures: none.
  EXPECT_FALSE(FanoutTrio(Hosts(2), Pairs({1}, 2)).has_value());
  EXPECT_FALSE(FanoutTrio(Hosts(3), {}).has_value());
  // Pairs of another class (a host in another island) do not make a trio with same-island ones.
  std::vector<RankPlace> islands = Hosts(3);
  islands[2].island = 1;
  EXPECT_FALSE(FanoutTrio(islands, Pairs({1, 1, 1}, 3)).has_value());
}

// The whole probe on the simulated transport, whose ranks send through one port per class (a
// send starts when the rank's previous one has arrived: collectives/sim/sim_transport.cc): a
// rank's sends to two hosts pass in turn, as through one NIC on a switch.
TEST(FanoutProbeTest, SimulatedTransportReadsOnePort) {
  for (int hosts : {3, 4}) {
    SCOPED_TRACE(testing::Message() << hosts << " hosts");
    std::vector<int> node, island(hosts, 0);
    for (int h = 0; h < hosts; ++h) node.push_back(h);
    auto links = LinkModel::Hierarchical(node, island, LinkCost{2e-6, 40e9}, LinkCost{10e-6, 3e9},
                                         LinkCost{50e-6, 0.5e9});
    ASSERT_TRUE(links.ok());
    collectives::SimOptions sim;
    sim.ranks = hosts;
    sim.links = *std::move(links);
    sim.timeout = absl::Seconds(60);
    auto world = collectives::SimWorld::Create(sim);
    ASSERT_TRUE(world.ok());
    std::vector<LinkProbeResult> results(hosts);
    const std::vector<RankPlace> places = Hosts(hosts);
    auto statuses = (*world)->Run([&](collectives::Communicator& comm) -> absl::Status {
      auto r = ProbeLinks(comm, places);
      if (!r.ok()) return r.status();
      results[comm.rank()] = *r;
      return absl::OkStatus();
    });
    for (const auto& s : statuses) ASSERT_TRUE(s.ok()) << s;
    for (const LinkProbeResult& r : results) {
      ASSERT_TRUE(r.fanout.has_value());
      EXPECT_EQ(r.fanout->node, "h0");
      EXPECT_EQ(r.fanout->peers, 2);
      EXPECT_NEAR(r.fanout->links, 1, 0.01);
    }
    const auto lines =
        DescribeLinks(results[0].links, results[0].nic, results[0].host_links, results[0].fanout);
    EXPECT_THAT(lines, testing::Contains(testing::HasSubstr("fanout: a rank of h0")));
  }
}

constexpr char kHead[] = R"(name: three
nodes:
  - {device: cpu, devices_per_node: 1, count: 1, host: a}
  - {device: cpu, devices_per_node: 1, count: 1, host: b}
  - {device: cpu, devices_per_node: 1, count: 1, host: c}
measured:
  when: "x"
  how: "y"
  tool_version: "1"
  ranks: 3
  hosts: [a, b, c]
  group_tflops: [0.5, 0.5, 0.5]
  links:
    - {class: same_island, latency_us: 6, bandwidth_gbs: 0.0125}
)";

TEST(FanoutProbeTest, MeasuredSectionRoundTripsAndIsStrict) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  auto fleet = partitioner::ParseFleet(
      std::string(kHead) + "  fanout: {node: a, peers: 2, links: 1.87}\n", "f.yaml", *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  EXPECT_EQ(fleet->network.fanout_links, 1.87);
  ASSERT_TRUE(fleet->measured->fanout.has_value());
  auto back = partitioner::ParseFleet(FleetToYaml(*fleet), "back.yaml", *catalog);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << FleetToYaml(*fleet);
  EXPECT_EQ(back->network.fanout_links, 1.87);
  EXPECT_EQ(back->measured->fanout->node, "a");

  auto error = [&](const std::string& line) {
    auto f = partitioner::ParseFleet(std::string(kHead) + "  fanout: " + line + "\n", "f.yaml",
                                     *catalog);
    return f.ok() ? std::string("ok") : std::string(f.status().message());
  };
  EXPECT_THAT(
      error("{node: a, peers: 2, links: 0.5}"),
      testing::AllOf(testing::HasSubstr("f.yaml:15:"), testing::HasSubstr("measured.fanout.links"),
                     testing::HasSubstr("at least 1")));
  EXPECT_THAT(error("{node: a, peers: 2, links: 3}"), testing::HasSubstr("measured.fanout.links"));
  EXPECT_THAT(error("{node: a, peers: 1, links: 1}"), testing::HasSubstr("measured.fanout.peers"));
  EXPECT_THAT(error("{node: a, peers: 2}"), testing::HasSubstr("links"));
  EXPECT_THAT(error("{node: a, peers: 2, links: 2, speed: 3}"), testing::HasSubstr("speed"));
  EXPECT_THAT(error("[1, 2]"), testing::HasSubstr("measured.fanout"));
}

}  // namespace
}  // namespace tangram::orchestrator
