// A fleet file's `measured:` section: what `tangram probe` (or the start of `tangram train`)
// measured on the machines themselves, and how, so that a team can commit it beside the fleet.
//
//   measured:
//     when: "2026-11-30T05:01:02Z"        # UTC, when the probe ran
//     how: "..."                          # the method, in words
//     tool_version: "0.9.0"
//     ranks: 4
//     hosts: [pn0, pn1]                   # distinct host names, in rank order of first appearance
//     group_tflops: [0.012, 0.011, 0, 0]  # per nodes[] entry, model TFLOP/s; 0 = not measured
//     group_optimizer_ns: [6.5, 6.6, 0, 0] # optional, per nodes[] entry: the optimizer step per
//                                         # parameter updated, ns; 0 = not measured
//     links:                              # one entry per link class present
//       - {class: same_node, latency_us: 3.1, bandwidth_gbs: 2.4, pair: "0-1",
//       bidirectional_gbs: 3.9}
//       # collective_us (same_node): one small tensor-parallel allreduce as training pays it
//       # burst_bytes, peak_gbs: a shaper's token bucket (see MeasuredLink), when one was seen
//       - {class: same_island, latency_us: 90, bandwidth_gbs: 0.024, pair: "0-2",
//          allreduce_gbs: 0.012}  # the collective training runs, timed (see MeasuredLink)
//     nic: {node: pn0, senders: 2, aggregate_gbs: 0.024}   # concurrent sends from one node
//     fanout: {node: pn0, peers: 2, links: 1.96}  # one rank's sends to two other hosts at once
//     host_links:                         # optional: pairs of hosts, one way, in their class's
//       - {hosts: [pn1, pn2], bandwidth_gbs: 0.0012}   # units (MeasuredHostLink)
//     allreduce: [{bytes: 65536, seconds: 0.004}, {bytes: 1048576, seconds: 0.09}]
//     cpu_pools:                          # ranks that share one machine's cores (see below)
//       - {machine: "3f2a9c1e", cores: 2, ranks: [0, 1, 2, 3], busy_tflops: 0.004,
//          solo_tflops: 0.011, demand: [1, 1, 1, 0.5]}
//     layer_times:                        # optional: per group, layer kind and tp degree
//       - {group: 0, kind: block, tp: 1, micro_batch: 1, forward_ms: 3.92}
//       - {group: 0, kind: block, tp: 2, micro_batch: 1, forward_ms: 5.24}
//       - {group: 0, kind: head, tp: 1, micro_batch: 1, forward_ms: 3.51, backward_ms: 7.0}
//
// A layer time is the wall time of ONE layer of that kind (embedding, block, head: the layer list
// of partitioner/layers.h) in one forward pass of `micro_batch` sequences on one rank of a
// tensor-parallel group of `tp` ranks of the group, its tensor-parallel collectives included (as
// the training runtime runs them); `tp` divides the group's devices per node (a tp group sits
// inside one node, so another degree could never be used). backward_ms defaults to forward_ms × the
// layer's backward ÷ forward FLOPs (2, plus any recompute). Several micro-batches of one (group,
// kind, tp) may be given; the same one twice is an error. Layer times replace group_tflops for the
// layers they cover, at their tp degree (and, by the rate rule, at its multiples): a stack whose
// small layers are bound by kernel launches does not run 2× faster at tp 2, and its head (one large
// GEMM) runs far faster than its blocks; one rate per group knows neither. How the cost model
// scales them with the micro-batch: partitioner/cost_model.h and docs/probe.md.
//
// A CPU pool is a set of ranks whose compute runs on one machine's cores (same boot id): ranks of
// the CPU runtime oversubscribing a host, or, on this project's development machine, every
// namespace host of the netns harness (EMULATION of hosts: they all share its cores). busy_tflops
// is a rank's rate while every rank of the pool computes (what calibration measures), solo_tflops
// the rate of one rank computing while the others wait in the training wait loop; `demand` is each
// rank's share of a core while it computes (1 ÷ its EMULATION slowdown, which idles the rest).
// The simulator runs a pool's compute as processor sharing (orchestrator/simulator/cpu_pool.h).
// GPU fleets have no pools, and nothing changes for them.
//
// Applied to a fleet (ApplyMeasurements), the figures replace the catalog's: group_tflops become
// the groups' measured_tflops; group_optimizer_ns their measured_optimizer_ns (in place of the
// catalog memory bandwidth the optimizer step is otherwise costed at); same_node sets every group's
// intra-node link and the intra-node latency; same_island sets the inter-node latency and each
// node's NIC (the larger of one pair's bandwidth and the node's aggregate under concurrent sends: a
// shared NIC shows the same figure for both, per-device NICs a multiple); across_islands sets the
// inter-island bandwidth and latency; host_links scale their class's figures for the point-to-
// point transfers between those two hosts' nodes (NetworkSpec::node_pair_scale; a pipeline's
// sends), not the collectives, whose measured rates (allreduce_gbs) already ran over the slowest
// pair; fanout sets NetworkSpec::fanout_links, and nic ÷ same_island's bandwidth (rounded)
// NetworkSpec::measured_nics. The allreduce samples are kept as evidence (the
// probe reports them against the cost model's prediction) and do not change the model. Plain data;
// thread-compatible.
#ifndef TANGRAM_PARTITIONER_MEASUREMENTS_H_
#define TANGRAM_PARTITIONER_MEASUREMENTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tangram::partitioner {

struct Fleet;
class YamlMap;

// The three classes of link between two devices (comm_model.h models each with α-β figures).
enum class LinkClass : int8_t { kSameNode = 0, kSameIsland = 1, kCrossIsland = 2 };
inline constexpr int kLinkClasses = 3;
inline constexpr LinkClass kAllLinkClasses[] = {LinkClass::kSameNode, LinkClass::kSameIsland,
                                                LinkClass::kCrossIsland};
// "same_node", "same_island", "across_islands".
const char* LinkClassName(LinkClass c);

struct MeasuredLink {
  LinkClass link_class = LinkClass::kSameNode;
  double latency_us = 0;                    // α of the least-squares fit, one way
  double bandwidth_gbs = 0;                 // 1/β of the fit, GB/s (10^9 bytes/s), one way
  std::optional<double> bidirectional_gbs;  // each direction while both send at once
  // Each direction's rate in the data-parallel allreduce training runs: the collective itself
  // (the Communicator's in-place sum at the gradient's size, all ranks at once) timed, and the
  // rate at which a ring allreduce over those ranks would take that time (link_probe.h, step 5).
  // On the slowest class the ranks span; where present it replaces bidirectional_gbs for
  // collectives.
  std::optional<double> allreduce_gbs;
  // The same collective over pairs of ranks of two hosts, all pairs at once (link_probe.h, step
  // 5b): a ring of two is an exchange, both directions on one connection. The pairs' per-direction
  // rates together, what a host's NIC carries. Where present it replaces allreduce_gbs for
  // data-parallel groups of two across nodes.
  std::optional<double> pair_allreduce_gbs;
  // same_node only: one small allreduce among a tensor-parallel group while every rank computes
  // between collectives (orchestrator/probe/collective_probe.h), µs per collective.
  std::optional<double> collective_us;
  // A token bucket seen on the link (a shaper): after an idle gap the first burst_bytes of a
  // message pass at peak_gbs, the rest at bandwidth_gbs (FitBurst in link_probe.h). Both or
  // neither; absent = no bucket (real NICs), and the link model has no burst term.
  std::optional<double> burst_bytes;
  std::optional<double> peak_gbs;
  std::string pair;  // "a-b": the ranks that measured it
};

struct MeasuredNic {
  std::string node;  // the host whose ranks sent at once
  int senders = 0;
  double aggregate_gbs = 0;  // their summed bandwidth
};

// One rank's sends to `peers` ranks on as many other hosts, at once, against the same sends one at
// a time (link_probe.h, step 3c): `links` is how many of them pass at full rate together, in
// [1, peers]. 1: they share one port (a NIC on a switch, the usual cluster); `peers`: each has
// its own (a mesh of point-to-point links, or a host with a NIC per peer). A pipeline stage sends
// its activations forward and its gradients back at once, to two hosts.
struct MeasuredFanout {
  std::string node;  // the sending rank's host
  int peers = 2;
  double links = 1;
};

// One pair of hosts' one-way bandwidth, in the units of its link class's bandwidth_gbs: the
// class figure × this pair's one-way send rate ÷ the class's representative pair's, both timed
// the same way (link_probe.h, step 2b). A class's figure is one pair's; a host whose NIC (or, in
// a mesh of point-to-point links, whose link) is slower or faster than that pair's shows here.
struct MeasuredHostLink {
  std::string a, b;  // host names, as in Measurements::hosts, a != b
  double bandwidth_gbs = 0;
};

struct AllreduceSample {
  double bytes = 0;
  double seconds = 0;
};

struct MeasuredCpuPool {
  std::string machine;         // its boot id (a prefix): the ranks share a kernel, hence cores
  int cores = 0;               // CPUs the ranks may run on (union of their sched_getaffinity)
  std::vector<int64_t> ranks;  // fleet devices (= ranks), ascending
  double busy_tflops = 0;      // per rank, every rank of the pool computing (EMULATION undone)
  double solo_tflops = 0;      // one rank computing, the others waiting
  std::vector<double> demand;  // per rank of `ranks`: cores it uses while computing; empty = 1s

  // The rate of one rank computing alone, as the simulator uses it: `solo_tflops`, but never below
  // what a core delivered per rank with every rank computing (busy × ranks ÷ cores) — a rank alone
  // on a core is not slower than the same rank sharing it, so a lower reading is noise in the one
  // timed rank (2 cores, 4 ranks: solo read 0.0097–0.0168 TFLOP/s against busy × 2 = 0.0146–
  // 0.0159 in one afternoon's runs). Not with EMULATION (`demand` given: a slowed rank's busy rate
  // reads high, see EffectiveCores) nor with unknown `cores`: then `solo_tflops` as measured.
  double SoloTflops() const;
  // Cores the pool delivers, in units of one rank computing alone: the summed demand of its ranks
  // × busy ÷ SoloTflops(), so that with every rank computing each runs at the measured busy rate.
  // Never more than the summed demand (solo below busy, noise, counts as equal); when the rates
  // show sharing, never more than `cores` (a rank alone runs on one core).
  double EffectiveCores() const;
  double Demand(size_t i) const { return i < demand.size() ? demand[i] : 1.0; }
};

// The layer kinds a layer time names (LayerKind's; a half-block layer takes its share of the
// block's time in proportion to its FLOPs).
enum class MeasuredLayerKind : int8_t { kEmbedding = 0, kBlock = 1, kHead = 2 };
// "embedding", "block", "head".
const char* MeasuredLayerKindName(MeasuredLayerKind k);

struct MeasuredLayerTime {
  int group = 0;  // Fleet::groups index
  MeasuredLayerKind kind = MeasuredLayerKind::kBlock;
  int tp = 1;
  int micro_batch = 1;
  double forward_ms = 0;              // one layer, one forward pass, tp collectives included
  std::optional<double> backward_ms;  // default: forward × backward ÷ forward FLOPs
};

struct Measurements {
  std::string when, how, tool_version;
  int64_t ranks = 0;
  std::vector<std::string> hosts;
  std::vector<double> group_tflops;  // per Fleet::groups entry; 0 = not measured
  // Per Fleet::groups entry, the optimizer step per parameter updated (ns); empty or 0 = not
  // measured.
  std::vector<double> group_optimizer_ns;
  std::vector<MeasuredLink> links;
  std::optional<MeasuredNic> nic;
  std::optional<MeasuredFanout> fanout;
  std::vector<MeasuredHostLink> host_links;  // empty: every pair of a class at its figure
  std::vector<AllreduceSample> allreduce;
  std::vector<MeasuredCpuPool> cpu_pools;
  std::vector<MeasuredLayerTime> layer_times;  // empty: every layer at the group's rate

  const MeasuredLink* Find(LinkClass c) const;
};

// Reads a `measured:` mapping against `fleet`, whose nodes[] are read: group_tflops has one figure
// per nodes[] entry; ranks are at most the fleet's devices, hosts distinct and at most one per
// rank, cpu_pools' ranks below `ranks`; a layer time's tp divides its group's devices per node (a
// degree no tp group there can have would never be used). Unknown keys, bad values and figures
// that cannot be true of the fleet are errors naming file:line:col and the field.
absl::StatusOr<Measurements> ReadMeasurements(YamlMap& m, const Fleet& fleet);

// Replaces the catalog figures of `fleet` by the measured ones (see the file comment); layer
// times go to their groups' NodeGroup::layer_times.
void ApplyMeasurements(const Measurements& measured, Fleet* fleet);

// The section as YAML text, indented under a `measured:` key (ends with a newline).
std::string MeasurementsToYaml(const Measurements& measured);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_MEASUREMENTS_H_
