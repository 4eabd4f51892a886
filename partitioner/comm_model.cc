#include "partitioner/comm_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"

namespace tangram::partitioner {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

double RingAllreduceTime(int64_t q, double bytes, double gbs, double alpha_s) {
  if (q <= 1) return 0;
  return 2.0 * (q - 1) * alpha_s + 2.0 * (q - 1) / q * bytes / (gbs * 1e9);
}

double TpOverlapExposed(int tp, double collective_s, double gemm_s) {
  if (tp <= 1 || !(collective_s > 0)) return 0;
  const double hidden = (static_cast<double>(tp) - 1) / tp;  // the steps with a GEMM beside them
  const double c = collective_s / 2, g = gemm_s / 2;         // per direction
  const double allgather = std::max(0.0, c - hidden * g);
  const double reduce_scatter = c / tp + hidden * std::max(0.0, c - g);
  return allgather + reduce_scatter;
}

double TokenBucket::SendTime(double bytes, double tokens) const {
  if (!active()) return bytes / (gbs * 1e9);
  // Peak phase: until the tokens run out (they drain at peak − sustained) or the message ends.
  const double drain = (peak_gbs - gbs) * 1e9;
  const double peak_s = std::max(0.0, tokens) / drain;
  const double peak_bytes = peak_s * peak_gbs * 1e9;
  if (bytes <= peak_bytes) return bytes / (peak_gbs * 1e9);
  return peak_s + (bytes - peak_bytes) / (gbs * 1e9);
}

double TokenBucket::TokensAfter(double bytes, double tokens) const {
  if (!active()) return 0;
  const double left = std::max(0.0, tokens) - bytes * (1 - gbs / peak_gbs);
  return std::max(0.0, left);
}

double TokenBucket::Refill(double tokens, double idle_s) const {
  if (!active()) return 0;
  return std::min(burst_bytes, std::max(0.0, tokens) + std::max(0.0, idle_s) * gbs * 1e9);
}

double TokenBucket::SteadySendTime(double bytes, double period_s) const {
  if (!active()) return bytes / (gbs * 1e9);
  // The tokens before each message form a monotone sequence from a full bucket; it settles
  // within a few messages (each either refills the bucket or drains it).
  double tokens = burst_bytes, t = SendTime(bytes, tokens);
  for (int i = 0; i < 64; ++i) {
    const double next = Refill(TokensAfter(bytes, tokens), period_s - t);
    if (std::abs(next - tokens) <= 1e-9 * burst_bytes) break;
    tokens = next;
    t = SendTime(bytes, tokens);
  }
  return t;
}

int64_t GradientBuckets(double bytes, double bucket_mib, int max_buckets) {
  if (!(bytes > 0) || !(bucket_mib > 0)) return 1;
  return static_cast<int64_t>(
      std::clamp<double>(std::ceil(bytes / (bucket_mib * 1024 * 1024)), 1, max_buckets));
}

double AllreduceGroup::Part::CrossingGbs() const {
  const double k =
      std::ceil(static_cast<double>(members) / static_cast<double>(std::max<int64_t>(1, nodes)));
  return std::min({intra_gbs, flow_gbs * k, share_gbs * k});
}

double AllreduceGroup::Part::RingGbs() const { return nodes <= 1 ? intra_gbs : CrossingGbs(); }

int64_t AllreduceGroup::size() const {
  int64_t n = 0;
  for (const Part& p : parts) n += p.members;
  return n;
}

void AllreduceGroup::Add(const Fleet& fleet, int group, int island, int64_t count, int64_t nodes) {
  const NodeGroup& g = fleet.groups[group];
  auto it =
      std::find_if(parts.begin(), parts.end(), [&](const Part& p) { return p.island == island; });
  if (it == parts.end()) {
    if (parts.empty()) inter_island_gbs = kInf;
    parts.push_back({island, 0, 0, kInf, kInf, kInf, 1});
    it = parts.end() - 1;
  }
  // Measured figures (a probe's) replace the per-group catalog ones, as in CommModel::Link.
  const auto& measured = fleet.network.measured_links;
  const auto& inter = measured[static_cast<int>(LinkClass::kSameIsland)];
  const auto& same = measured[static_cast<int>(LinkClass::kSameNode)];
  const auto& cross = measured[static_cast<int>(LinkClass::kCrossIsland)];
  const double dpn = g.devices_per_node;
  double node_gbs = g.nic_gbps / 8, flow = g.nic_gbps / 8 / g.nics_per_node;
  if (inter) {
    flow = inter->flow_gbs;
    node_gbs = inter->node_gbs > 0 ? inter->node_gbs : inter->flow_gbs * g.nics_per_node;
    if (inter->pair_duplex > 0 && inter->duplex > 0) {
      it->pair_scale = inter->pair_duplex / inter->duplex;
    }
  }
  it->members += count;
  it->nodes += nodes;
  it->share_gbs = std::min(it->share_gbs, node_gbs / dpn);
  it->flow_gbs = std::min(it->flow_gbs, flow);
  it->intra_gbs = std::min(it->intra_gbs, same ? same->flow_gbs : g.device.intra_node_link_gbs);
  double island_gbs = fleet.network.inter_island_gbps / 8;
  if (cross) island_gbs = cross->node_gbs > 0 ? cross->node_gbs : cross->flow_gbs * dpn;
  inter_island_gbs = std::min(inter_island_gbs, island_gbs / dpn);
}

CommModel::CommModel(const Fleet& fleet, std::vector<DeviceSlot> slots,
                     IslandsAllreduceFn islands_allreduce)
    : fleet_(fleet), slots_(std::move(slots)), islands_allreduce_(std::move(islands_allreduce)) {
  std::vector<int64_t> nodes;
  for (const DeviceSlot& s : slots_) {
    ++node_devices_[s.node];
    if (std::find(nodes.begin(), nodes.end(), s.node) == nodes.end()) nodes.push_back(s.node);
  }
  world_ring_scale_ = RingPairScale(nodes);
}

double CommModel::RingPairScale(const std::vector<int64_t>& nodes) const {
  if (nodes.size() < 2 || fleet_.network.node_pair_scale.empty()) return 1.0;
  double slowest = kInf;
  for (size_t i = 0; i < nodes.size(); ++i) {
    slowest =
        std::min(slowest, fleet_.network.NodePairScale(nodes[i], nodes[(i + 1) % nodes.size()]));
  }
  return slowest;
}

LinkSpec CommModel::Link(LinkClass cls, int a, int b) const {
  const auto& measured = fleet_.network.measured_links[static_cast<int>(cls)];
  if (measured) return *measured;
  const NodeGroup& ga = fleet_.groups[a];
  const NodeGroup& gb = fleet_.groups[b];
  const NetworkSpec& n = fleet_.network;
  LinkSpec s;
  switch (cls) {
    case LinkClass::kSameNode:
      s.latency_us = n.intra_node_latency_us;
      s.flow_gbs = std::min(ga.device.intra_node_link_gbs, gb.device.intra_node_link_gbs);
      s.node_gbs = 0;  // each device has its own link into the node's fabric
      break;
    case LinkClass::kSameIsland:
      s.latency_us = n.inter_node_latency_us;
      s.flow_gbs = std::min(ga.nic_gbps / ga.nics_per_node, gb.nic_gbps / gb.nics_per_node) / 8;
      s.node_gbs = std::min(ga.nic_gbps, gb.nic_gbps) / 8;
      break;
    case LinkClass::kCrossIsland:
      s.latency_us = n.inter_island_latency_us;
      s.flow_gbs = std::min(ga.nic_gbps / ga.nics_per_node, gb.nic_gbps / gb.nics_per_node) / 8;
      s.node_gbs = std::min({ga.nic_gbps, gb.nic_gbps, n.inter_island_gbps}) / 8;
      s.flow_gbs = std::min(s.flow_gbs, s.node_gbs);
      break;
  }
  return s;
}

LinkClass CommModel::ClassOf(int64_t from, int64_t to) const {
  const DeviceSlot& a = slots_[from];
  const DeviceSlot& b = slots_[to];
  if (a.node == b.node) return LinkClass::kSameNode;
  return a.island == b.island ? LinkClass::kSameIsland : LinkClass::kCrossIsland;
}

double CommModel::LinkGbs(int64_t from, int64_t to) const { return OneWayGbs(from, to, true); }

double CommModel::FlowGbs(int64_t from, int64_t to) const { return OneWayGbs(from, to, false); }

double CommModel::OneWayGbs(int64_t from, int64_t to, bool node_shares) const {
  const LinkClass cls = ClassOf(from, to);
  const int ga = slots_[from].group, gb = slots_[to].group;
  const LinkSpec s = Link(cls, ga, gb);
  // A pipeline's message goes one way: the one-way rate, not the bidirectional (LinkSpec::duplex).
  const double duplex = s.duplex > 0 && s.duplex < 1 ? s.duplex : 1.0;
  if (cls == LinkClass::kSameNode || !(s.node_gbs > 0)) return s.flow_gbs / duplex;
  // Every device of the busier node sends at once: each gets its share of the node's NICs. A
  // node's devices are its slots: several one-rank groups naming one `host` (a measured fleet)
  // share its NIC as a group's devices_per_node do.
  const auto devices = [&](int64_t slot) {
    auto it = node_devices_.find(slots_[slot].node);
    return it == node_devices_.end() ? 1 : it->second;
  };
  const int dpn = node_shares
                      ? std::max({fleet_.groups[ga].devices_per_node,
                                  fleet_.groups[gb].devices_per_node, devices(from), devices(to)})
                      : 1;
  return std::min(s.flow_gbs, s.node_gbs / dpn) / duplex * PairScale(from, to);
}

double CommModel::PairScale(int64_t from, int64_t to) const {
  return fleet_.network.NodePairScale(slots_[from].node, slots_[to].node);
}

double CommModel::LinkLatency(int64_t from, int64_t to) const {
  const LinkClass cls = ClassOf(from, to);
  return Link(cls, slots_[from].group, slots_[to].group).latency_us * 1e-6;
}

TokenBucket CommModel::LinkBucket(int64_t from, int64_t to) const {
  return Bucket(from, to, LinkGbs(from, to));
}

TokenBucket CommModel::FlowBucket(int64_t from, int64_t to) const {
  return Bucket(from, to, FlowGbs(from, to));
}

TokenBucket CommModel::Bucket(int64_t from, int64_t to, double gbs) const {
  const LinkClass cls = ClassOf(from, to);
  TokenBucket b;
  if (cls == LinkClass::kSameNode) return b;
  const LinkSpec s = Link(cls, slots_[from].group, slots_[to].group);
  if (!s.has_bucket()) return b;
  // A node's devices share its NIC's shaper as they share the NIC: each its share of the bucket.
  // The share is of the class's figures; a pair of hosts measured apart (PairScale) moves the
  // sustained rate only — its shaper's burst passes at the line rate whatever the shaped rate.
  const double scale = PairScale(from, to);
  b.gbs = gbs;
  const double share =
      std::min(1.0, b.gbs / scale / (s.flow_gbs / (s.duplex > 0 ? s.duplex : 1.0)));
  b.burst_bytes = s.burst_bytes * share;
  b.peak_gbs = s.peak_gbs * share;
  return b;
}

double CommModel::P2pTime(int64_t from, int64_t to, double bytes, double period_s) const {
  const TokenBucket b = LinkBucket(from, to);
  if (!b.active()) return LinkLatency(from, to) + bytes / (LinkGbs(from, to) * 1e9);
  return LinkLatency(from, to) + b.SteadySendTime(bytes, period_s);
}

AllreduceGroup CommModel::Summarize(std::span<const int64_t> devices) const {
  AllreduceGroup out;
  std::map<std::pair<int, int>, int64_t> members;  // (island, group) -> members
  std::map<std::pair<int, int>, std::vector<int64_t>> nodes;
  std::vector<std::pair<int, int>> order;
  for (int64_t d : devices) {
    const DeviceSlot& s = slots_[d];
    const std::pair<int, int> key{s.island, s.group};
    if (members[key]++ == 0) order.push_back(key);
    std::vector<int64_t>& n = nodes[key];
    if (std::find(n.begin(), n.end(), s.node) == n.end()) n.push_back(s.node);
  }
  // Members of several groups on one node (groups sharing a named `host`, as a measured fleet's
  // one-rank groups do) reduce inside it: count that node once, not once per group.
  std::vector<int64_t> all_nodes;
  for (const auto& [key, n] : nodes) all_nodes.insert(all_nodes.end(), n.begin(), n.end());
  const bool one_node = std::all_of(all_nodes.begin(), all_nodes.end(),
                                    [&](int64_t n) { return n == all_nodes.front(); });
  for (const auto& key : order) {
    const int64_t n =
        one_node ? (key == order.front() ? 1 : 0) : static_cast<int64_t>(nodes[key].size());
    out.Add(fleet_, key.second, key.first, members[key], n);
  }
  if (out.parts.size() == 1 && !one_node && !fleet_.network.node_pair_scale.empty()) {
    // The ring visits the members' nodes in member order (a communicator's rank order).
    std::vector<int64_t> ring;
    for (int64_t d : devices) {
      if (std::find(ring.begin(), ring.end(), slots_[d].node) == ring.end()) {
        ring.push_back(slots_[d].node);
      }
    }
    // A ring of two members takes the pairs' exchange where the probe timed it (step 5b, on the
    // representative pair, scale 1); any other ring the world's collective (step 5).
    const auto& link = fleet_.network.measured_links[static_cast<int>(LinkClass::kSameIsland)];
    const bool pair_timed = devices.size() == 2 && link && link->pair_duplex > 0;
    const double reference = pair_timed ? 1.0 : world_ring_scale_;
    if (reference > 0) out.host_scale = RingPairScale(ring) / reference;
  }
  return out;
}

double CommModel::AllreduceTime(const AllreduceGroup& group, double bytes,
                                AllreduceAlgorithm algorithm, AllreduceAlgorithm* chosen) const {
  const NetworkSpec& net = fleet_.network;
  const auto alpha = [&](LinkClass c) {
    const auto& m = net.measured_links[static_cast<int>(c)];
    if (m) return m->latency_us * 1e-6;
    return (c == LinkClass::kSameNode     ? net.intra_node_latency_us
            : c == LinkClass::kSameIsland ? net.inter_node_latency_us
                                          : net.inter_island_latency_us) *
           1e-6;
  };
  const int64_t q = group.size();
  auto set = [&](AllreduceAlgorithm used) {
    if (chosen != nullptr) *chosen = used;
  };
  if (q <= 1 || bytes <= 0) {
    set(AllreduceAlgorithm::kNone);
    return 0;
  }
  if (group.parts.size() == 1 && group.parts[0].nodes == 1) {
    set(AllreduceAlgorithm::kIntraNode);
    return RingAllreduceTime(q, bytes, group.parts[0].intra_gbs, alpha(LinkClass::kSameNode));
  }
  if (group.parts.size() == 1) {
    set(AllreduceAlgorithm::kRing);
    const AllreduceGroup::Part& p = group.parts[0];
    const double gbs = p.RingGbs() * (q == 2 ? p.pair_scale : 1.0) * group.host_scale;
    return RingAllreduceTime(q, bytes, gbs, alpha(LinkClass::kSameIsland));
  }
  if (islands_allreduce_ && algorithm != AllreduceAlgorithm::kRing) {
    set(AllreduceAlgorithm::kHierarchical);
    return islands_allreduce_(group, bytes, net);
  }
  // Flat ring across islands: every step waits for the slowest hop.
  double slowest = kInf;
  for (const auto& p : group.parts) slowest = std::min(slowest, p.CrossingGbs());
  const double ring = RingAllreduceTime(q, bytes, std::min(slowest, group.inter_island_gbs),
                                        alpha(LinkClass::kCrossIsland));
  // Hierarchical: reduce-scatter inside each island, allreduce the shards across islands,
  // allgather inside each island.
  double inside = 0;
  int64_t smallest = q;
  for (const auto& p : group.parts) {
    const double a = alpha(p.nodes > 1 ? LinkClass::kSameIsland : LinkClass::kSameNode);
    inside = std::max(inside, RingAllreduceTime(p.members, bytes, p.RingGbs(), a));
    smallest = std::min(smallest, p.members);
  }
  const double across =
      RingAllreduceTime(static_cast<int64_t>(group.parts.size()), bytes / smallest,
                        group.inter_island_gbs, alpha(LinkClass::kCrossIsland));
  const double hierarchical = inside + across;
  if (algorithm == AllreduceAlgorithm::kRing ||
      (algorithm == AllreduceAlgorithm::kAuto && ring <= hierarchical)) {
    set(AllreduceAlgorithm::kRing);
    return ring;
  }
  set(AllreduceAlgorithm::kHierarchical);
  return hierarchical;
}

double CommModel::BucketedAllreduceTime(const AllreduceGroup& group, double bytes, int64_t buckets,
                                        AllreduceAlgorithm algorithm,
                                        AllreduceAlgorithm* chosen) const {
  buckets = std::max<int64_t>(1, buckets);
  return static_cast<double>(buckets) *
         AllreduceTime(group, bytes / static_cast<double>(buckets), algorithm, chosen);
}

double CommModel::ReduceScatterTime(const AllreduceGroup& group, double bytes,
                                    AllreduceAlgorithm algorithm) const {
  return 0.5 * AllreduceTime(group, bytes, algorithm);
}

double CommModel::AllgatherTime(const AllreduceGroup& group, double bytes,
                                AllreduceAlgorithm algorithm) const {
  return 0.5 * AllreduceTime(group, bytes, algorithm);
}

double CommModel::TpAllreduceTime(int group, int tp, double bytes) const {
  const LinkSpec s = Link(LinkClass::kSameNode, group, group);
  // A measured small-collective cost (collective_probe.h) replaces the ring's latency terms.
  if (s.collective_us > 0)
    return s.collective_us * 1e-6 + RingAllreduceTime(tp, bytes, s.flow_gbs, 0);
  return RingAllreduceTime(tp, bytes, s.flow_gbs, s.latency_us * 1e-6);
}

}  // namespace tangram::partitioner
