#include "partitioner/measurements.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "partitioner/fleet.h"
#include "partitioner/yaml_reader.h"

namespace tangram::partitioner {
namespace {

constexpr double kMaxGbs = 1e6;        // 1 PB/s: past any link
constexpr double kMaxLatencyUs = 1e7;  // 10 s

// A list element in [min_inclusive, max]. The upper bound matters: group_tflops: [1e300] loaded
// and planned (MFU 22575 %), group_optimizer_ns: [1e300] silently left its group unused.
absl::StatusOr<double> NumberAt(const YamlMap& m, const YAML::Node& node, const std::string& field,
                                double min_inclusive, double max) {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value) ||
      value < min_inclusive || value > max) {
    return ConfigError(m.file(), node, field,
                       absl::StrCat("expected a number >= ", min_inclusive, " and <= ", max,
                                    ", found ", node.IsScalar() ? node.Scalar() : "a collection"));
  }
  return value;
}

// Per-device TFLOP/s: as a fleet's nodes[].measured_tflops.
constexpr double kMaxTflops = 1e6;
// The optimizer step per parameter, ns: a CPU's AdamW takes ~7 (the probe's figures); 10 us is a
// thousand times that, past any device.
constexpr double kMaxOptimizerNs = 1e4;

absl::StatusOr<MeasuredLink> ReadLink(YamlMap& m) {
  MeasuredLink link;
  TANGRAM_ASSIGN_OR_RETURN(std::string name,
                           m.Enum("class", {"same_node", "same_island", "across_islands"}));
  for (LinkClass c : kAllLinkClasses) {
    if (name == LinkClassName(c)) link.link_class = c;
  }
  TANGRAM_ASSIGN_OR_RETURN(link.latency_us, m.Number("latency_us", 0, kMaxLatencyUs));
  TANGRAM_ASSIGN_OR_RETURN(link.bandwidth_gbs, m.Number("bandwidth_gbs", 0, kMaxGbs));
  TANGRAM_ASSIGN_OR_RETURN(link.bidirectional_gbs,
                           m.OptionalNumber("bidirectional_gbs", 0, kMaxGbs));
  TANGRAM_ASSIGN_OR_RETURN(link.allreduce_gbs, m.OptionalNumber("allreduce_gbs", 0, kMaxGbs));
  TANGRAM_ASSIGN_OR_RETURN(link.pair_allreduce_gbs,
                           m.OptionalNumber("pair_allreduce_gbs", 0, kMaxGbs));
  TANGRAM_ASSIGN_OR_RETURN(link.collective_us, m.OptionalNumber("collective_us", 0, kMaxLatencyUs));
  TANGRAM_ASSIGN_OR_RETURN(link.burst_bytes, m.OptionalNumber("burst_bytes", 1, 1e15));
  TANGRAM_ASSIGN_OR_RETURN(link.peak_gbs, m.OptionalNumber("peak_gbs", 0, kMaxGbs));
  if (link.burst_bytes.has_value() != link.peak_gbs.has_value()) {
    const char* given = link.burst_bytes ? "burst_bytes" : "peak_gbs";
    const char* missing = link.burst_bytes ? "peak_gbs" : "burst_bytes";
    return m.Error(given, absl::StrCat("a token bucket needs both burst_bytes and peak_gbs; ",
                                       missing, " is missing"));
  }
  if (link.peak_gbs && !(*link.peak_gbs > link.bandwidth_gbs)) {
    return m.Error("peak_gbs",
                   absl::StrCat("expected more than bandwidth_gbs (", link.bandwidth_gbs,
                                "): a bucket passes its burst faster than the sustained rate"));
  }
  TANGRAM_ASSIGN_OR_RETURN(auto pair, m.OptionalString("pair"));
  link.pair = pair.value_or("");
  TANGRAM_RETURN_IF_ERROR(m.RejectUnknownKeys());
  return link;
}

absl::StatusOr<MeasuredCpuPool> ReadCpuPool(YamlMap& m, int64_t probed_ranks) {
  MeasuredCpuPool pool;
  TANGRAM_ASSIGN_OR_RETURN(pool.machine, m.String("machine"));
  TANGRAM_ASSIGN_OR_RETURN(int64_t cores, m.Int("cores", 1, 1 << 20));
  pool.cores = static_cast<int>(cores);
  TANGRAM_ASSIGN_OR_RETURN(YAML::Node ranks, m.Sequence("ranks"));
  for (size_t i = 0; i < ranks.size(); ++i) {
    TANGRAM_ASSIGN_OR_RETURN(double r,
                             NumberAt(m, ranks[i], ElementPath(m, "ranks", i), 0, 1 << 20));
    if (r != std::floor(r) || (!pool.ranks.empty() && r <= pool.ranks.back())) {
      return ConfigError(m.file(), ranks[i], ElementPath(m, "ranks", i),
                         "expected rank numbers, ascending");
    }
    if (r >= static_cast<double>(probed_ranks)) {
      return ConfigError(m.file(), ranks[i], ElementPath(m, "ranks", i),
                         absl::StrCat("expected a rank below measured.ranks (", probed_ranks,
                                      "): the pool's ranks are ranks of the probe"));
    }
    pool.ranks.push_back(static_cast<int64_t>(r));
  }
  if (pool.ranks.empty()) return m.Error("ranks", "expected at least one rank");
  TANGRAM_ASSIGN_OR_RETURN(pool.busy_tflops, m.Number("busy_tflops", 0, 1e6));
  TANGRAM_ASSIGN_OR_RETURN(pool.solo_tflops, m.Number("solo_tflops", 0, 1e6));
  if (m.Has("demand")) {
    TANGRAM_ASSIGN_OR_RETURN(YAML::Node demand, m.Sequence("demand"));
    if (demand.size() != pool.ranks.size()) {
      return m.Error("demand", "expected one figure per rank");
    }
    for (size_t i = 0; i < demand.size(); ++i) {
      TANGRAM_ASSIGN_OR_RETURN(double d,
                               NumberAt(m, demand[i], ElementPath(m, "demand", i), 1e-6, 1e6));
      pool.demand.push_back(std::min(d, 1.0));
    }
  }
  TANGRAM_RETURN_IF_ERROR(m.RejectUnknownKeys());
  return pool;
}

// The tp degrees a tensor-parallel group of `g` can have: those dividing its devices per node (a
// tp group sits inside one node; a per-stage layout.tp takes any of them, the planner's own search
// 1, 2, 4 and 8 among them). "1, 2, 4, 8".
std::string DegreesOf(const NodeGroup& g) {
  std::vector<int> out;
  for (int t = 1; t <= g.devices_per_node; ++t) {
    if (g.devices_per_node % t == 0) out.push_back(t);
  }
  return absl::StrJoin(out, ", ");
}

absl::StatusOr<MeasuredLayerTime> ReadLayerTime(YamlMap& m, const Fleet& fleet) {
  MeasuredLayerTime t;
  const size_t groups = fleet.groups.size();
  TANGRAM_ASSIGN_OR_RETURN(int64_t group, m.Int("group", 0, 1 << 20));
  if (static_cast<size_t>(group) >= groups) {
    return m.Error("group", absl::StrCat("expected a nodes[] index below ", groups));
  }
  t.group = static_cast<int>(group);
  TANGRAM_ASSIGN_OR_RETURN(std::string kind, m.Enum("kind", {"embedding", "block", "head"}));
  for (MeasuredLayerKind k :
       {MeasuredLayerKind::kEmbedding, MeasuredLayerKind::kBlock, MeasuredLayerKind::kHead}) {
    if (kind == MeasuredLayerKindName(k)) t.kind = k;
  }
  TANGRAM_ASSIGN_OR_RETURN(int64_t tp, m.Int("tp", 1, 1024));
  t.tp = static_cast<int>(tp);
  // The cost model uses a time at its degree and that degree's multiples (cost_model_layer_times
  // .cc): one that no tp group of the group's nodes can have divides none of theirs, and would be
  // kept without ever being used.
  const NodeGroup& g = fleet.groups[t.group];
  if (g.devices_per_node % t.tp != 0) {
    return m.Error(
        "tp", absl::StrCat("expected a tensor-parallel degree that nodes[", t.group, "] (",
                           g.devices_per_node, " ", g.device.kind,
                           " devices per node) can form: one dividing ", g.devices_per_node, " (",
                           DegreesOf(g), "); a tp group sits inside one node"));
  }
  TANGRAM_ASSIGN_OR_RETURN(int64_t mb, m.Int("micro_batch", 1, 1 << 20));
  t.micro_batch = static_cast<int>(mb);
  TANGRAM_ASSIGN_OR_RETURN(t.forward_ms, m.Number("forward_ms", 0, 1e9));
  if (!(t.forward_ms > 0)) return m.Error("forward_ms", "expected a time > 0 ms");
  TANGRAM_ASSIGN_OR_RETURN(t.backward_ms, m.OptionalNumber("backward_ms", 0, 1e9));
  if (t.backward_ms && !(*t.backward_ms > 0)) {
    return m.Error("backward_ms", "expected a time > 0 ms");
  }
  TANGRAM_RETURN_IF_ERROR(m.RejectUnknownKeys());
  return t;
}

absl::Status ReadLayerTimes(YamlMap& m, const Fleet& fleet, Measurements* out) {
  TANGRAM_ASSIGN_OR_RETURN(YAML::Node times, m.Sequence("layer_times"));
  for (size_t i = 0; i < times.size(); ++i) {
    TANGRAM_ASSIGN_OR_RETURN(
        YamlMap tm,
        YamlMap::Of(m.file(), times[i], ElementPath(m, "layer_times", i),
                    {"group", "kind", "tp", "micro_batch", "forward_ms", "backward_ms"}));
    TANGRAM_ASSIGN_OR_RETURN(MeasuredLayerTime t, ReadLayerTime(tm, fleet));
    for (const MeasuredLayerTime& o : out->layer_times) {
      if (o.group == t.group && o.kind == t.kind && o.tp == t.tp &&
          o.micro_batch == t.micro_batch) {
        return tm.Error(
            "micro_batch",
            absl::StrCat("group ", t.group, "'s ", MeasuredLayerKindName(t.kind), " at tp ", t.tp,
                         " and micro-batch ", t.micro_batch, " is measured twice"));
      }
    }
    out->layer_times.push_back(t);
  }
  return absl::OkStatus();
}

}  // namespace

const char* MeasuredLayerKindName(MeasuredLayerKind k) {
  switch (k) {
    case MeasuredLayerKind::kEmbedding:
      return "embedding";
    case MeasuredLayerKind::kBlock:
      return "block";
    case MeasuredLayerKind::kHead:
      return "head";
  }
  return "?";
}

double MeasuredCpuPool::SoloTflops() const {
  if (!demand.empty() || cores <= 0 || !(busy_tflops > 0)) return solo_tflops;
  const double per_core = busy_tflops * static_cast<double>(ranks.size()) / cores;
  return std::max(solo_tflops, per_core);
}

double MeasuredCpuPool::EffectiveCores() const {
  double total = 0;
  for (size_t i = 0; i < ranks.size(); ++i) total += Demand(i);
  const double solo = SoloTflops();
  if (!(busy_tflops > 0) || !(solo > busy_tflops)) return total;
  const double shared = total * busy_tflops / solo;
  // A rank alone (solo) computes on one core, so the pool delivers at most `cores` of it. The
  // busy rate can read above that bound: a slowed rank (EMULATION) calibrates longer than the
  // others and finishes alone, so its undone rate, and the mean, come out high (uneven4: 2.04–2.3
  // effective cores measured on 2 CPUs).
  return cores > 0 ? std::min(shared, static_cast<double>(cores)) : shared;
}

const char* LinkClassName(LinkClass c) {
  switch (c) {
    case LinkClass::kSameNode:
      return "same_node";
    case LinkClass::kSameIsland:
      return "same_island";
    case LinkClass::kCrossIsland:
      return "across_islands";
  }
  return "?";
}

const MeasuredLink* Measurements::Find(LinkClass c) const {
  for (const auto& l : links) {
    if (l.link_class == c) return &l;
  }
  return nullptr;
}

// One non-negative figure per nodes[] entry under `key`.
static absl::StatusOr<std::vector<double>> ReadGroupFigures(YamlMap& m, const char* key,
                                                            size_t groups, double max) {
  TANGRAM_ASSIGN_OR_RETURN(YAML::Node figures, m.Sequence(key));
  if (figures.size() != groups) {
    return m.Error(key, absl::StrCat("expected one figure per nodes[] entry (", groups, "), found ",
                                     figures.size()));
  }
  std::vector<double> out;
  for (size_t i = 0; i < figures.size(); ++i) {
    TANGRAM_ASSIGN_OR_RETURN(double t, NumberAt(m, figures[i], ElementPath(m, key, i), 0, max));
    out.push_back(t);
  }
  return out;
}

// `ranks` and `hosts` against the fleet: one rank per fleet device at most (a probe may run on
// fewer: the groups no rank ran on keep their catalog figures), and the hosts distinct, each with
// a rank of its own. More hosts than nodes is not refused: ranks launched other than by
// `tangram hostfile` can land on more machines than the fleet file lists, and the record says so.
static absl::Status ReadRanksAndHosts(YamlMap& m, const Fleet& fleet, Measurements* out) {
  TANGRAM_ASSIGN_OR_RETURN(out->ranks, m.Int("ranks", 1, 1 << 20));
  if (out->ranks > fleet.num_devices()) {
    return m.Error("ranks",
                   absl::StrCat("expected at most the fleet's ", fleet.num_devices(),
                                " devices (a rank is a fleet device), found ", out->ranks));
  }
  TANGRAM_ASSIGN_OR_RETURN(YAML::Node hosts, m.Sequence("hosts"));
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (!hosts[i].IsScalar()) {
      return ConfigError(m.file(), hosts[i], ElementPath(m, "hosts", i), "expected a host name");
    }
    if (std::find(out->hosts.begin(), out->hosts.end(), hosts[i].Scalar()) != out->hosts.end()) {
      return ConfigError(m.file(), hosts[i], ElementPath(m, "hosts", i),
                         absl::StrCat("host ", hosts[i].Scalar(),
                                      " is listed twice (hosts are distinct, in rank order of "
                                      "first appearance)"));
    }
    out->hosts.push_back(hosts[i].Scalar());
  }
  if (static_cast<int64_t>(out->hosts.size()) > out->ranks) {
    return m.Error(
        "hosts", absl::StrCat("expected at most one host per rank: ", out->hosts.size(),
                              " hosts for ", out->ranks, " ranks (every host listed ran a rank)"));
  }
  return absl::OkStatus();
}

namespace {

// `host_links:` (after `hosts:`): two distinct listed hosts per entry, each pair once.
absl::Status ReadHostLinks(YamlMap& m, Measurements* out) {
  TANGRAM_ASSIGN_OR_RETURN(YAML::Node links, m.Sequence("host_links"));
  for (size_t i = 0; i < links.size(); ++i) {
    const std::string path = ElementPath(m, "host_links", i);
    TANGRAM_ASSIGN_OR_RETURN(YamlMap lm,
                             YamlMap::Of(m.file(), links[i], path, {"hosts", "bandwidth_gbs"}));
    TANGRAM_ASSIGN_OR_RETURN(YAML::Node hosts, lm.Sequence("hosts"));
    if (hosts.size() != 2 || !hosts[0].IsScalar() || !hosts[1].IsScalar() ||
        hosts[0].Scalar() == hosts[1].Scalar()) {
      return lm.Error("hosts", "expected two distinct host names, e.g. [pn1, pn2]");
    }
    MeasuredHostLink link{hosts[0].Scalar(), hosts[1].Scalar(), 0};
    for (const std::string* h : {&link.a, &link.b}) {
      if (std::find(out->hosts.begin(), out->hosts.end(), *h) == out->hosts.end()) {
        return lm.Error("hosts", absl::StrCat("host ", *h, " is not in measured.hosts [",
                                              absl::StrJoin(out->hosts, ", "), "]"));
      }
    }
    for (const MeasuredHostLink& seen : out->host_links) {
      if ((seen.a == link.a && seen.b == link.b) || (seen.a == link.b && seen.b == link.a)) {
        return lm.Error("hosts",
                        absl::StrCat("the pair ", link.a, "-", link.b, " is measured twice"));
      }
    }
    TANGRAM_ASSIGN_OR_RETURN(link.bandwidth_gbs, lm.Number("bandwidth_gbs", 0, kMaxGbs));
    TANGRAM_RETURN_IF_ERROR(lm.RejectUnknownKeys());
    out->host_links.push_back(std::move(link));
  }
  return absl::OkStatus();
}

// `fanout:` (MeasuredFanout): `links` between 1 (one shared port) and `peers` (one port each).
absl::StatusOr<MeasuredFanout> ReadFanout(YamlMap& m) {
  MeasuredFanout out;
  TANGRAM_RETURN_IF_ERROR(
      YamlMap::Of(m.file(), m.node(), m.path(), {"node", "peers", "links"}).status());
  TANGRAM_ASSIGN_OR_RETURN(out.node, m.String("node"));
  TANGRAM_ASSIGN_OR_RETURN(int64_t peers, m.Int("peers", 2, 1 << 16));
  out.peers = static_cast<int>(peers);
  TANGRAM_ASSIGN_OR_RETURN(out.links, m.Number("links", 0, static_cast<double>(peers)));
  if (out.links < 1) {
    return m.Error("links", absl::StrFormat("expected at least 1 (the sends sharing one port), "
                                            "got %g",
                                            out.links));
  }
  TANGRAM_RETURN_IF_ERROR(m.RejectUnknownKeys());
  return out;
}

}  // namespace

absl::StatusOr<Measurements> ReadMeasurements(YamlMap& m, const Fleet& fleet) {
  Measurements out;
  const size_t groups = fleet.groups.size();
  TANGRAM_ASSIGN_OR_RETURN(out.when, m.String("when"));
  TANGRAM_ASSIGN_OR_RETURN(out.how, m.String("how", kMaxPathLength));  // a sentence or two
  TANGRAM_ASSIGN_OR_RETURN(out.tool_version, m.String("tool_version"));
  TANGRAM_RETURN_IF_ERROR(ReadRanksAndHosts(m, fleet, &out));
  TANGRAM_ASSIGN_OR_RETURN(out.group_tflops,
                           ReadGroupFigures(m, "group_tflops", groups, kMaxTflops));
  if (m.Has("group_optimizer_ns")) {
    TANGRAM_ASSIGN_OR_RETURN(out.group_optimizer_ns,
                             ReadGroupFigures(m, "group_optimizer_ns", groups, kMaxOptimizerNs));
  }
  if (m.Has("links")) {
    TANGRAM_ASSIGN_OR_RETURN(YAML::Node links, m.Sequence("links"));
    for (size_t i = 0; i < links.size(); ++i) {
      TANGRAM_ASSIGN_OR_RETURN(
          YamlMap lm,
          YamlMap::Of(m.file(), links[i], ElementPath(m, "links", i),
                      {"class", "latency_us", "bandwidth_gbs", "bidirectional_gbs", "allreduce_gbs",
                       "pair_allreduce_gbs", "collective_us", "burst_bytes", "peak_gbs", "pair"}));
      TANGRAM_ASSIGN_OR_RETURN(MeasuredLink link, ReadLink(lm));
      if (out.Find(link.link_class) != nullptr) {
        return lm.Error("class", absl::StrCat("link class ", LinkClassName(link.link_class),
                                              " is measured twice"));
      }
      out.links.push_back(std::move(link));
    }
  }
  TANGRAM_ASSIGN_OR_RETURN(auto nic, m.OptionalMap("nic"));
  if (nic) {
    MeasuredNic n;
    TANGRAM_RETURN_IF_ERROR(
        YamlMap::Of(m.file(), nic->node(), nic->path(), {"node", "senders", "aggregate_gbs"})
            .status());
    TANGRAM_ASSIGN_OR_RETURN(n.node, nic->String("node"));
    TANGRAM_ASSIGN_OR_RETURN(int64_t senders, nic->Int("senders", 2, 1 << 16));
    n.senders = static_cast<int>(senders);
    TANGRAM_ASSIGN_OR_RETURN(n.aggregate_gbs, nic->Number("aggregate_gbs", 0, kMaxGbs));
    TANGRAM_RETURN_IF_ERROR(nic->RejectUnknownKeys());
    out.nic = n;
  }
  TANGRAM_ASSIGN_OR_RETURN(auto fanout, m.OptionalMap("fanout"));
  if (fanout) {
    TANGRAM_ASSIGN_OR_RETURN(out.fanout, ReadFanout(*fanout));
  }
  if (m.Has("host_links")) TANGRAM_RETURN_IF_ERROR(ReadHostLinks(m, &out));
  if (m.Has("allreduce")) {
    TANGRAM_ASSIGN_OR_RETURN(YAML::Node samples, m.Sequence("allreduce"));
    for (size_t i = 0; i < samples.size(); ++i) {
      TANGRAM_ASSIGN_OR_RETURN(
          YamlMap sm,
          YamlMap::Of(m.file(), samples[i], ElementPath(m, "allreduce", i), {"bytes", "seconds"}));
      AllreduceSample s;
      TANGRAM_ASSIGN_OR_RETURN(s.bytes, sm.Number("bytes", 0, 1e15));
      TANGRAM_ASSIGN_OR_RETURN(s.seconds, sm.Number("seconds", 0, 1e6));
      TANGRAM_RETURN_IF_ERROR(sm.RejectUnknownKeys());
      out.allreduce.push_back(s);
    }
  }
  if (m.Has("cpu_pools")) {
    TANGRAM_ASSIGN_OR_RETURN(YAML::Node pools, m.Sequence("cpu_pools"));
    for (size_t i = 0; i < pools.size(); ++i) {
      TANGRAM_ASSIGN_OR_RETURN(
          YamlMap pm,
          YamlMap::Of(m.file(), pools[i], ElementPath(m, "cpu_pools", i),
                      {"machine", "cores", "ranks", "busy_tflops", "solo_tflops", "demand"}));
      TANGRAM_ASSIGN_OR_RETURN(MeasuredCpuPool pool, ReadCpuPool(pm, out.ranks));
      out.cpu_pools.push_back(std::move(pool));
    }
  }
  if (m.Has("layer_times")) TANGRAM_RETURN_IF_ERROR(ReadLayerTimes(m, fleet, &out));
  TANGRAM_RETURN_IF_ERROR(m.RejectUnknownKeys());
  return out;
}

namespace {

// A measured token bucket goes with the link's figures as measured (its burst and peak rate);
// none, and the spec is as before.
LinkSpec WithBucket(const MeasuredLink& l, LinkSpec spec) {
  if (l.burst_bytes && l.peak_gbs) {
    spec.burst_bytes = *l.burst_bytes;
    spec.peak_gbs = *l.peak_gbs;
  }
  return spec;
}

// Each direction's rate in a collective ÷ one direction's alone (LinkSpec::duplex), at most 1:
// the timed allreduce training runs where the probe had one (allreduce_gbs), else the pair's
// bidirectional exchange, else 1 (full duplex).
double CollectiveFactor(const MeasuredLink& l) {
  if (!(l.bandwidth_gbs > 0)) return 1.0;
  if (l.allreduce_gbs) return std::min(1.0, *l.allreduce_gbs / l.bandwidth_gbs);
  if (l.bidirectional_gbs) return std::min(1.0, *l.bidirectional_gbs / l.bandwidth_gbs);
  return 1.0;
}

}  // namespace

namespace {

// host_links → NetworkSpec::node_pair_scale. The k-th distinct node in device order is the k-th
// host of `hosts` (both in rank order of first appearance; `train` refuses ranks that are not
// where the fleet places them); a fleet whose nodes do not match the hosts one to one gets none.
void ApplyHostLinks(const Measurements& measured, Fleet* fleet) {
  if (measured.host_links.empty()) return;
  std::map<std::string, std::pair<int64_t, int>> node_of;  // host → {node id, island}
  std::vector<int64_t> nodes;
  for (const DeviceSlot& s : FlattenFleet(*fleet)) {
    if (std::find(nodes.begin(), nodes.end(), s.node) != nodes.end()) continue;
    if (nodes.size() >= measured.hosts.size()) return;  // more nodes than hosts
    node_of[measured.hosts[nodes.size()]] = {s.node, s.island};
    nodes.push_back(s.node);
  }
  if (nodes.size() != measured.hosts.size()) return;
  for (const MeasuredHostLink& l : measured.host_links) {
    auto a = node_of.find(l.a), b = node_of.find(l.b);
    if (a == node_of.end() || b == node_of.end() || a->second.first == b->second.first) continue;
    const MeasuredLink* cls = measured.Find(
        a->second.second == b->second.second ? LinkClass::kSameIsland : LinkClass::kCrossIsland);
    if (cls == nullptr || !(cls->bandwidth_gbs > 0)) continue;
    const int64_t x = a->second.first, y = b->second.first;
    fleet->network.node_pair_scale[{std::min(x, y), std::max(x, y)}] =
        l.bandwidth_gbs / cls->bandwidth_gbs;
  }
}

}  // namespace

void ApplyMeasurements(const Measurements& measured, Fleet* fleet) {
  for (size_t g = 0; g < fleet->groups.size() && g < measured.group_tflops.size(); ++g) {
    if (measured.group_tflops[g] > 0) fleet->groups[g].measured_tflops = measured.group_tflops[g];
  }
  for (size_t g = 0; g < fleet->groups.size() && g < measured.group_optimizer_ns.size(); ++g) {
    if (measured.group_optimizer_ns[g] > 0) {
      fleet->groups[g].measured_optimizer_ns = measured.group_optimizer_ns[g];
    }
  }
  for (const MeasuredLayerTime& t : measured.layer_times) {
    if (t.group >= 0 && static_cast<size_t>(t.group) < fleet->groups.size()) {
      fleet->groups[t.group].layer_times.push_back(t);
    }
  }
  NetworkSpec& net = fleet->network;
  if (const MeasuredLink* l = measured.Find(LinkClass::kSameNode)) {
    net.intra_node_latency_us = l->latency_us;
    for (NodeGroup& g : fleet->groups) g.device.intra_node_link_gbs = l->bandwidth_gbs;
    net.measured_links[static_cast<int>(LinkClass::kSameNode)] =
        LinkSpec{l->latency_us, l->bandwidth_gbs, 0, l->collective_us.value_or(0)};
  }
  if (const MeasuredLink* l = measured.Find(LinkClass::kSameIsland)) {
    net.inter_node_latency_us = l->latency_us;
    // A node's NIC: what its devices reach together (one pair's figure when they share it), in
    // each direction while both are busy: a ring allreduce sends and receives on every NIC at
    // once, and a link that is not full duplex (shared medium, a shaper's queue delaying the
    // reverse flow's ACKs) gives each direction less than one-way traffic gets.
    // The collective training runs, timed, says that directly (allreduce_gbs); the pair's
    // two-way exchange only where it was not timed.
    const double factor = CollectiveFactor(*l);
    double node_gbs = l->bandwidth_gbs;
    if (measured.nic) node_gbs = std::max(node_gbs, measured.nic->aggregate_gbs);
    const double node_one_way = node_gbs;
    node_gbs *= factor;
    for (NodeGroup& g : fleet->groups) g.nic_gbps = node_gbs * 8;
    // The communication model (comm_model.h) reads a class's measured figures as they are: one
    // flow alone gets the pair's figure, the node all of its NICs together.
    LinkSpec spec{l->latency_us, l->bandwidth_gbs * factor, node_gbs};
    spec.duplex = factor;
    // The pairs' figure is a NIC's: against the node's one-way rate, not one flow's.
    if (l->pair_allreduce_gbs && node_one_way > 0) {
      spec.pair_duplex = std::min(1.0, *l->pair_allreduce_gbs / node_one_way);
    }
    net.measured_links[static_cast<int>(LinkClass::kSameIsland)] = WithBucket(*l, spec);
  }
  if (measured.fanout) net.fanout_links = measured.fanout->links;
  const MeasuredLink* island = measured.Find(LinkClass::kSameIsland);
  if (measured.nic && island != nullptr && island->bandwidth_gbs > 0) {
    const double nics = std::round(measured.nic->aggregate_gbs / island->bandwidth_gbs);
    net.measured_nics =
        static_cast<int>(std::clamp(nics, 1.0, static_cast<double>(measured.nic->senders)));
  }
  if (const MeasuredLink* l = measured.Find(LinkClass::kCrossIsland)) {
    net.inter_island_latency_us = l->latency_us;
    net.inter_island_gbps = l->bandwidth_gbs * CollectiveFactor(*l) * 8;
    const double island_gbs = net.inter_island_gbps / 8;
    LinkSpec spec{l->latency_us, island_gbs, island_gbs};
    if (l->bandwidth_gbs > 0) spec.duplex = std::min(1.0, island_gbs / l->bandwidth_gbs);
    net.measured_links[static_cast<int>(LinkClass::kCrossIsland)] = WithBucket(*l, spec);
    // Islands joined only by the inter-island link: nodes' NICs are at least that fast.
    if (measured.Find(LinkClass::kSameIsland) == nullptr) {
      for (NodeGroup& g : fleet->groups) g.nic_gbps = std::max(g.nic_gbps, l->bandwidth_gbs * 8);
    }
  }
  ApplyHostLinks(measured, fleet);
}

// One `links:` entry, its optional figures only when measured.
static std::string LinkToYaml(const MeasuredLink& l) {
  std::string out = absl::StrFormat("    - {class: %s, latency_us: %.6g, bandwidth_gbs: %.6g",
                                    LinkClassName(l.link_class), l.latency_us, l.bandwidth_gbs);
  if (l.bidirectional_gbs) {
    absl::StrAppend(&out, absl::StrFormat(", bidirectional_gbs: %.6g", *l.bidirectional_gbs));
  }
  if (l.allreduce_gbs)
    absl::StrAppend(&out, absl::StrFormat(", allreduce_gbs: %.6g", *l.allreduce_gbs));
  if (l.pair_allreduce_gbs) {
    absl::StrAppend(&out, absl::StrFormat(", pair_allreduce_gbs: %.6g", *l.pair_allreduce_gbs));
  }
  if (l.collective_us)
    absl::StrAppend(&out, absl::StrFormat(", collective_us: %.6g", *l.collective_us));
  if (l.burst_bytes && l.peak_gbs) {
    absl::StrAppend(
        &out, absl::StrFormat(", burst_bytes: %.0f, peak_gbs: %.6g", *l.burst_bytes, *l.peak_gbs));
  }
  if (!l.pair.empty()) absl::StrAppend(&out, ", pair: \"", l.pair, "\"");
  absl::StrAppend(&out, "}\n");
  return out;
}

std::string MeasurementsToYaml(const Measurements& m) {
  std::string out = "measured:\n";
  absl::StrAppend(&out, "  when: \"", m.when, "\"\n");
  absl::StrAppend(&out, "  how: \"", m.how, "\"\n");
  absl::StrAppend(&out, "  tool_version: \"", m.tool_version, "\"\n");
  absl::StrAppend(&out, "  ranks: ", m.ranks, "\n");
  absl::StrAppend(&out, "  hosts: [", absl::StrJoin(m.hosts, ", "), "]\n");
  std::vector<std::string> t;
  for (double x : m.group_tflops) t.push_back(absl::StrFormat("%.6g", x));
  absl::StrAppend(&out, "  group_tflops: [", absl::StrJoin(t, ", "),
                  "]   # per nodes[] entry, measured on the job's layers; 0 = not measured\n");
  if (std::any_of(m.group_optimizer_ns.begin(), m.group_optimizer_ns.end(),
                  [](double x) { return x > 0; })) {
    std::vector<std::string> ns;
    for (double x : m.group_optimizer_ns) ns.push_back(absl::StrFormat("%.6g", x));
    absl::StrAppend(&out, "  group_optimizer_ns: [", absl::StrJoin(ns, ", "),
                    "]   # per nodes[] entry: optimizer step per parameter updated\n");
  }
  if (!m.links.empty()) {
    absl::StrAppend(&out, "  links:\n");
    for (const auto& l : m.links) absl::StrAppend(&out, LinkToYaml(l));
  }
  if (m.nic) {
    absl::StrAppend(&out, absl::StrFormat("  nic: {node: %s, senders: %d, aggregate_gbs: %.6g}\n",
                                          m.nic->node, m.nic->senders, m.nic->aggregate_gbs));
  }
  if (m.fanout) {
    absl::StrAppend(&out, absl::StrFormat("  fanout: {node: %s, peers: %d, links: %.4g}\n",
                                          m.fanout->node, m.fanout->peers, m.fanout->links));
  }
  if (!m.host_links.empty()) {
    absl::StrAppend(&out, "  host_links:   # one way, per pair of hosts, in the class's units\n");
    for (const auto& l : m.host_links) {
      absl::StrAppend(&out, absl::StrFormat("    - {hosts: [%s, %s], bandwidth_gbs: %.6g}\n", l.a,
                                            l.b, l.bandwidth_gbs));
    }
  }
  if (!m.allreduce.empty()) {
    absl::StrAppend(&out, "  allreduce:\n");
    for (const auto& s : m.allreduce) {
      absl::StrAppend(&out,
                      absl::StrFormat("    - {bytes: %.0f, seconds: %.6g}\n", s.bytes, s.seconds));
    }
  }
  if (!m.cpu_pools.empty()) {
    absl::StrAppend(&out, "  cpu_pools:   # ranks sharing one machine's cores\n");
    for (const auto& p : m.cpu_pools) {
      absl::StrAppend(&out, absl::StrFormat("    - {machine: \"%s\", cores: %d, ranks: [%s], "
                                            "busy_tflops: %.6g, solo_tflops: %.6g",
                                            p.machine, p.cores, absl::StrJoin(p.ranks, ", "),
                                            p.busy_tflops, p.solo_tflops));
      if (!p.demand.empty()) {
        std::vector<std::string> d;
        for (double x : p.demand) d.push_back(absl::StrFormat("%.4g", x));
        absl::StrAppend(&out, ", demand: [", absl::StrJoin(d, ", "), "]");
      }
      absl::StrAppend(&out, "}\n");
    }
  }
  if (!m.layer_times.empty()) {
    absl::StrAppend(&out,
                    "  layer_times:   # one layer's forward (and backward) wall time on one rank "
                    "of a tp group, collectives included\n");
    for (const auto& t : m.layer_times) {
      absl::StrAppend(&out, absl::StrFormat("    - {group: %d, kind: %s, tp: %d, micro_batch: %d, "
                                            "forward_ms: %.6g",
                                            t.group, MeasuredLayerKindName(t.kind), t.tp,
                                            t.micro_batch, t.forward_ms));
      if (t.backward_ms)
        absl::StrAppend(&out, absl::StrFormat(", backward_ms: %.6g", *t.backward_ms));
      absl::StrAppend(&out, "}\n");
    }
  }
  return out;
}

}  // namespace tangram::partitioner
