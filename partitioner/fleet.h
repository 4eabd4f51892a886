// A fleet: the machines a job runs on, as groups of identical nodes (configs/fleets/*.yaml).
//
// A fleet names device kinds from the catalog; a node group may carry a *measured* per-device
// throughput that overrides the catalog's peak, and (for CPU ranks on one machine) an emulated
// slowdown, which is emulation and is always labelled so. Plain data; thread-compatible.
#ifndef TANGRAM_PARTITIONER_FLEET_H_
#define TANGRAM_PARTITIONER_FLEET_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "partitioner/device_catalog.h"
#include "partitioner/measurements.h"

namespace tangram::partitioner {

// The most devices a fleet may hold (a million: far past any fleet we plan); a fleet file above it
// is refused, and so is a design space whose fleets could be.
inline constexpr int64_t kMaxFleetDevices = 1 << 20;

// `count` nodes of one shape.
struct NodeGroup {
  DeviceSpec device;  // resolved from the catalog
  int devices_per_node = 1;
  int64_t count = 1;    // nodes of this shape
  double nic_gbps = 0;  // per node; default catalog nic_gbps × devices_per_node
  // NICs the node's devices share: devices_per_node (one per device, DGX/HGX) by default when the
  // NIC figure is the catalog's; 1 when the fleet gives a per-node nic_gbps without it (a PCIe
  // server with one NIC). One flow gets nic_gbps ÷ nics_per_node alone.
  int nics_per_node = 1;
  // device.intra_node_link_gbs is the catalog's unless the node group overrides it
  // (intra_node_link_gbs in the fleet: PCIe-only boxes of an NVLink-capable kind, no P2P).
  std::optional<double> measured_tflops;  // measured per-device throughput; overrides the catalog
  // Measured optimizer step per parameter a device updates, in nanoseconds (the measured:
  // section's group_optimizer_ns); overrides the catalog's memory-bandwidth estimate of the
  // optimizer step (CostModel::OptimizerTime).
  std::optional<double> measured_optimizer_ns;
  // Measured times of single layers by kind and tp degree (the `measured:` section's
  // layer_times for this group): they override measured_tflops and the catalog for the layers
  // and tp degrees they cover (cost_model.h).
  std::vector<MeasuredLayerTime> layer_times;
  std::string island;             // network island; default the collective library
  std::string host;               // machine name (count 1 only); "" = own machine
  double emulate_slowdown = 1.0;  // EMULATION for one-machine demos; 1 = none

  int64_t num_devices() const { return count * devices_per_node; }
  // Per-device throughput the fleet file states: measured if given, else the catalog peak.
  double stated_tflops() const { return measured_tflops.value_or(device.peak_tflops_bf16); }
};

// α-β figures of one link class (per direction).
struct LinkSpec {
  double latency_us = 0;
  double flow_gbs = 0;  // GB/s one device-to-device flow gets alone
  double node_gbs = 0;  // GB/s all devices of a node get together on this class (0: no limit)
  // Measured cost of one small collective among a node's ranks in training conditions
  // (orchestrator/probe/collective_probe.h); 0 = not measured, the α-β ring's latency terms.
  double collective_us = 0;
  // A token bucket on the link (a traffic shaper: tc tbf, a policer), measured by the probe
  // (link_probe.h): after an idle gap the first burst_bytes pass at peak_gbs, then the link
  // carries flow_gbs, refilling the bucket at that rate while idle. 0 = no bucket (real NICs, the
  // catalog): every byte at flow_gbs.
  double burst_bytes = 0;
  double peak_gbs = 0;
  // Each direction's rate while both carry long streams ÷ one direction's alone (measured: the
  // probe's bidirectional exchange; 1 = full duplex, the catalog). flow_gbs and node_gbs include
  // it: collectives (a ring sends and receives on every NIC at once, for the whole collective)
  // see it. A pipeline's sends are single messages, mostly one way at a time; they get the
  // one-way rate (CommModel::LinkGbs divides it out).
  double duplex = 1;
  // The same ratio for a ring of two members (an exchange: both directions on one connection),
  // where it was measured apart (the probe's pair_allreduce_gbs); 0 = as `duplex`.
  double pair_duplex = 0;
  bool has_bucket() const { return burst_bytes > 0 && peak_gbs > flow_gbs / duplex; }
};

// Latencies and cross-island bandwidth; intra-node and NIC bandwidths come from the devices.
struct NetworkSpec {
  double intra_node_latency_us = 2;
  double inter_node_latency_us = 5;
  double inter_island_gbps = 100;  // per node, Gbit/s, across islands (through host memory)
  double inter_island_latency_us = 20;
  // Measured figures per link class (indexed by LinkClass), from a probe (`measured:` in the
  // fleet file); each present one replaces the catalog-derived figures of its class for every
  // pair of groups.
  std::array<std::optional<LinkSpec>, kLinkClasses> measured_links;
  // A pair of nodes' measured point-to-point rate ÷ its class's measured figure (from a probe's
  // host_links; absent = 1), keyed by (smaller node id, larger): a host with a slower NIC than the
  // class's representative pair (or a faster one) where the class figure is one pair's.
  std::map<std::pair<int64_t, int64_t>, double> node_pair_scale;
  double NodePairScale(int64_t a, int64_t b) const;
  // How many transfers from one device to devices on distinct other nodes pass at full rate
  // together (a probe's fanout, MeasuredFanout::links): 1 = one NIC port they share (a switched
  // network; the catalog), more = a port per peer (a mesh of links). The simulator's contention
  // model reads it; the closed-form cost model has no contention.
  double fanout_links = 1;
  // NICs per node as a probe measured them (its nic step: the node's ranks sending at once
  // together ÷ one pair's rate, rounded); 0 = not measured. The simulator deals a node's pipeline
  // cells to that many network ports; unmeasured, every cell has its own.
  int measured_nics = 0;
};

struct Fleet {
  std::string name;
  std::vector<NodeGroup> groups;
  NetworkSpec network;
  // The file's `measured:` section (tangram probe), already applied to the groups and network.
  std::optional<Measurements> measured;

  int64_t num_devices() const;
  int64_t num_nodes() const;
  // Sum over devices of the catalog peak (TFLOP/s) and of memory (GiB).
  double total_peak_tflops() const;
  double total_memory_gib() const;
  // Distinct device kinds, in order of first appearance.
  std::vector<std::string> kinds() const;
};

// One device of a fleet, in fleet order (group by group, node by node).
struct DeviceSlot {
  int64_t index = 0;  // position in the fleet, 0..num_devices-1
  int group = 0;      // index into Fleet::groups
  int64_t node = 0;   // global node id; entries sharing a `host` share a node id
  int local = 0;      // index inside the node
  int island = 0;     // island id (distinct island names numbered in order of appearance)
};

// Flattens `fleet` into one slot per device. O(num_devices).
std::vector<DeviceSlot> FlattenFleet(const Fleet& fleet);

// Reads a fleet's (or a design space's) `network:` mapping; unknown keys are errors.
absl::StatusOr<NetworkSpec> ReadNetwork(YamlMap& m);

// Loads and validates a fleet file against `catalog`; errors name file:line:col and field.
absl::StatusOr<Fleet> LoadFleet(const std::string& path, const DeviceCatalog& catalog);
absl::StatusOr<Fleet> ParseFleet(absl::string_view text, const std::string& name,
                                 const DeviceCatalog& catalog);
absl::StatusOr<Fleet> FleetFromDocument(const YamlDocument& doc, const DeviceCatalog& catalog);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_FLEET_H_
