#include "partitioner/fleet.h"

#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "partitioner/yaml_reader.h"

namespace tangram::partitioner {
namespace {

// Reads every field of one node group, adding each failure to `errors` (so that all are reported).
NodeGroup ReadGroup(YamlMap& m, const DeviceCatalog& catalog, ErrorList* errors) {
  NodeGroup g;
  std::string kind = Collect(errors, m.String("device"));
  const DeviceSpec* spec = catalog.Find(kind);
  if (spec == nullptr && !kind.empty()) {
    std::vector<std::string> kinds;
    for (const DeviceSpec& d : catalog.devices()) kinds.push_back(d.kind);
    const std::string hint = SuggestName(kind, kinds);
    errors->Add(m.Error("device", absl::StrCat("unknown device kind \"", kind, "\" (known: ",
                                               catalog.KnownKinds(), ")", hint.empty() ? "" : "; ",
                                               absl::StripTrailingAsciiWhitespace(hint))));
  }
  if (spec != nullptr) g.device = *spec;
  g.devices_per_node =
      static_cast<int>(Collect<int64_t>(errors, m.Int("devices_per_node", 1, 64), 1));
  g.count = Collect<int64_t>(errors, m.Int("count", 1, kMaxFleetDevices), 1);
  auto nic = Collect(errors, m.OptionalNumber("nic_gbps", 0, 1e6));
  g.nic_gbps = nic.value_or(g.device.nic_gbps * g.devices_per_node);
  auto nics = Collect(errors, m.OptionalInt("nics_per_node", 1, 64));
  g.nics_per_node = static_cast<int>(nics.value_or(nic ? 1 : g.devices_per_node));
  if (g.nics_per_node > g.devices_per_node) {
    errors->Add(m.Error("nics_per_node",
                        absl::StrCat("more NICs (", g.nics_per_node, ") than devices per node (",
                                     g.devices_per_node, "): NICs no device uses add nothing")));
  }
  auto intra = Collect(errors, m.OptionalNumber("intra_node_link_gbs", 0, 1e6));
  if (intra) {
    if (!(*intra > 0)) {
      errors->Add(m.Error("intra_node_link_gbs", "expected a bandwidth > 0 GB/s"));
    } else {
      g.device.intra_node_link_gbs = *intra;
    }
  }
  g.measured_tflops = Collect(errors, m.OptionalNumber("measured_tflops", 0, 1e6));
  auto island = Collect(errors, m.OptionalString("island"));
  g.island =
      island.value_or(g.device.collective_library == "none" ? "host" : g.device.collective_library);
  g.host = Collect(errors, m.OptionalString("host")).value_or("");
  if (!g.host.empty() && g.count != 1) {
    errors->Add(m.Error("host", "a named host is one machine: use it only with count: 1"));
  }
  auto slowdown = Collect(errors, m.OptionalNumber("emulate_slowdown", 0, 1000));
  if (slowdown) {
    if (*slowdown < 1) {
      errors->Add(m.Error("emulate_slowdown", "expected a factor >= 1 (1 = no slowdown)"));
    } else if (spec != nullptr && spec->vendor != "generic") {
      errors->Add(m.Error("emulate_slowdown",
                          "emulated slowdown is for CPU ranks only (a real "
                          "accelerator is measured)"));
    }
    g.emulate_slowdown = *slowdown;
  }
  errors->Add(m.RejectUnknownKeys());
  return g;
}

}  // namespace

absl::StatusOr<NetworkSpec> ReadNetwork(YamlMap& m) {
  NetworkSpec n;
  ErrorList errors;  // every key is read, so that all errors are reported at once
  constexpr double kMaxLatencyUs = 1e6;  // latencies may be 0 (configs.md: >= 0)
  n.intra_node_latency_us =
      Collect(&errors, m.OptionalNonNegative("intra_node_latency_us", kMaxLatencyUs))
          .value_or(n.intra_node_latency_us);
  n.inter_node_latency_us =
      Collect(&errors, m.OptionalNonNegative("inter_node_latency_us", kMaxLatencyUs))
          .value_or(n.inter_node_latency_us);
  n.inter_island_gbps =
      Collect(&errors, m.OptionalNumber("inter_island_gbps", 0, 1e6)).value_or(n.inter_island_gbps);
  n.inter_island_latency_us =
      Collect(&errors, m.OptionalNonNegative("inter_island_latency_us", kMaxLatencyUs))
          .value_or(n.inter_island_latency_us);
  errors.Add(m.RejectUnknownKeys());
  TANGRAM_RETURN_IF_ERROR(errors.ToStatus());
  return n;
}

int64_t Fleet::num_devices() const {
  int64_t n = 0;
  for (const auto& g : groups) n += g.num_devices();
  return n;
}

int64_t Fleet::num_nodes() const {
  int64_t n = 0;
  std::map<std::string, int> hosts;
  for (const auto& g : groups) {
    if (g.host.empty()) {
      n += g.count;
    } else if (hosts[g.host]++ == 0) {
      n += 1;
    }
  }
  return n;
}

double Fleet::total_peak_tflops() const {
  double t = 0;
  for (const auto& g : groups) t += g.device.peak_tflops_bf16 * g.num_devices();
  return t;
}

double Fleet::total_memory_gib() const {
  double t = 0;
  for (const auto& g : groups) t += g.device.memory_gib * g.num_devices();
  return t;
}

std::vector<std::string> Fleet::kinds() const {
  std::vector<std::string> out;
  for (const auto& g : groups) {
    if (std::find(out.begin(), out.end(), g.device.kind) == out.end()) out.push_back(g.device.kind);
  }
  return out;
}

double NetworkSpec::NodePairScale(int64_t a, int64_t b) const {
  if (node_pair_scale.empty() || a == b) return 1.0;
  auto it = node_pair_scale.find({std::min(a, b), std::max(a, b)});
  return it == node_pair_scale.end() ? 1.0 : it->second;
}

std::vector<DeviceSlot> FlattenFleet(const Fleet& fleet) {
  std::vector<DeviceSlot> slots;
  slots.reserve(fleet.num_devices());
  std::map<std::string, int64_t> host_node;    // named host -> node id
  std::map<std::string, int> host_next_local;  // named host -> next local index
  std::map<std::string, int> island_id;
  int64_t next_node = 0;
  for (size_t gi = 0; gi < fleet.groups.size(); ++gi) {
    const NodeGroup& g = fleet.groups[gi];
    int island = island_id.emplace(g.island, static_cast<int>(island_id.size())).first->second;
    for (int64_t n = 0; n < g.count; ++n) {
      int64_t node = next_node;
      int first_local = 0;
      if (!g.host.empty()) {
        auto [it, fresh] = host_node.emplace(g.host, next_node);
        node = it->second;
        first_local = host_next_local[g.host];
        host_next_local[g.host] += g.devices_per_node;
        if (fresh) ++next_node;
      } else {
        ++next_node;
      }
      for (int d = 0; d < g.devices_per_node; ++d) {
        slots.push_back({static_cast<int64_t>(slots.size()), static_cast<int>(gi), node,
                         first_local + d, island});
      }
    }
  }
  return slots;
}

absl::StatusOr<Fleet> FleetFromDocument(const YamlDocument& doc, const DeviceCatalog& catalog) {
  TANGRAM_ASSIGN_OR_RETURN(
      YamlMap root,
      YamlMap::Of(doc.name, doc.root, "", {"name", "description", "nodes", "network", "measured"}));
  Fleet fleet;
  ErrorList errors;  // every field is read, so that all errors are reported at once
  fleet.name = Collect(&errors, root.String("name"));
  Collect(&errors, root.OptionalString("description", kMaxPathLength));
  YAML::Node nodes = Collect(&errors, root.Sequence("nodes"));
  std::optional<YamlMap> network = Collect(&errors, root.OptionalMap("network"));
  std::optional<YamlMap> measured = Collect(&errors, root.OptionalMap("measured"));
  errors.Add(root.RejectUnknownKeys());
  int64_t total = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    absl::StatusOr<YamlMap> m = YamlMap::Of(
        doc.name, nodes[i], ElementPath(root, "nodes", i),
        {"device", "devices_per_node", "count", "nic_gbps", "nics_per_node", "intra_node_link_gbs",
         "measured_tflops", "island", "host", "emulate_slowdown"});
    if (!errors.Add(m.status())) continue;
    NodeGroup g = ReadGroup(*m, catalog, &errors);
    total += g.num_devices();
    if (total > kMaxFleetDevices) {
      errors.Add(
          m->Error("count", absl::StrCat("the fleet exceeds ", kMaxFleetDevices, " devices")));
      break;
    }
    fleet.groups.push_back(std::move(g));
  }
  if (network) fleet.network = Collect(&errors, ReadNetwork(*network));
  TANGRAM_RETURN_IF_ERROR(errors.ToStatus());
  if (measured) {
    // Measured figures win over the catalog's and the network section's (they are what the
    // machines did); emulated slowdowns stay in the nodes, labelled as EMULATION.
    TANGRAM_ASSIGN_OR_RETURN(fleet.measured, ReadMeasurements(*measured, fleet));
    ApplyMeasurements(*fleet.measured, &fleet);
  }
  return fleet;
}

absl::StatusOr<Fleet> ParseFleet(absl::string_view text, const std::string& name,
                                 const DeviceCatalog& catalog) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::Parse(text, name));
  return FleetFromDocument(doc, catalog);
}

absl::StatusOr<Fleet> LoadFleet(const std::string& path, const DeviceCatalog& catalog) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::LoadFile(path));
  return FleetFromDocument(doc, catalog);
}

}  // namespace tangram::partitioner
