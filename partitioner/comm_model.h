// The α-β communication model: the one description of links and collectives that the cost model,
// the grid search (grid.cc) and the simulator (orchestrator/simulator/workload.cc) all use, so the
// formulas exist once.
//
// Links come in three classes (LinkClass): two devices of one node (NVLink, HCCS, Infinity
// Fabric or PCIe: the kind's intra_node_link_gbs, overridable per node group in the fleet), two
// nodes of one island (the nodes' NICs), two islands (the inter-island link, through host memory).
// Each class has a latency α, the bandwidth one flow gets alone (flow_gbs: one NIC of the node,
// node NIC ÷ nics_per_node) and the bandwidth the whole node gets on it (node_gbs: all its NICs).
// The catalog and the fleet file give these; a fleet's measured figures (NetworkSpec::
// measured_links, written by `tangram probe`) replace them class by class.
//
// Sharing. A node's NICs are shared by its devices. When every device of a node talks across
// nodes at once (a pipeline's sends, the data-parallel rings of a grid layout), each device gets
// its share node_gbs ÷ devices_per_node, never more than one flow alone. A ring with k members on
// one node crosses that node's boundary once per direction, so it gets the k members' shares
// (k × node_gbs ÷ devices_per_node): plain data parallelism with eight GPUs of a node in one ring
// uses the whole NIC, not an eighth of it.
//
// Collectives (n bytes per member, q members, bandwidth bw GB/s per direction, latency α):
//   ring allreduce      2(q−1)α + 2(q−1)/q · n/bw  (q = 2 across nodes: bw at the link's
//                       pair_duplex where measured — an exchange on one connection; bw ×
//                       AllreduceGroup::host_scale where hosts were measured apart)
//   hierarchical        ring inside each island (reduce-scatter + allgather, one allreduce's
//                       cost), then a ring across islands over the shards of the smallest island
//   bucketed            b buckets of n/b bytes, each a full collective: b × T(n/b), so every
//                       bucket pays its α terms (PyTorch DDP and Megatron-LM reduce in buckets)
//   reduce-scatter, allgather   one phase of the allreduce each, half its time (ZeRO-2's gradient
//                       reduction and parameter gather, ZeRO-3's per-micro-batch gathers)
//   tensor-parallel collective overlapped with its GEMM (tp_comm_overlap): see TpOverlapExposed.
// Immutable after construction; safe to share between threads.
#ifndef TANGRAM_PARTITIONER_COMM_MODEL_H_
#define TANGRAM_PARTITIONER_COMM_MODEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/fleet.h"
#include "partitioner/kinds.h"

namespace tangram::partitioner {

// Ring allreduce of `bytes` per member over `q` members: 2(q−1)α + 2(q−1)/q · bytes / bw.
double RingAllreduceTime(int64_t q, double bytes, double gbs, double alpha_s);

// What stays exposed of one tensor-parallel collective pair (an allgather before a
// column-parallel GEMM and a reduce-scatter after a row-parallel one; `collective_s` together, the
// time of one allreduce of the activations, c/2 each) when it is pipelined with `gemm_s` of the
// GEMMs beside it (g/2 each), as TransformerEngine's userbuffers overlap does (Megatron-Core
// --tp-comm-overlap; Wang et al., "Overlap Communication with Dependent Computation via
// Decomposition", ASPLOS'23, the scheme TE implements): the activations go in tp chunks.
//   allgather (ring exchange): the GEMM starts on the local chunk while chunk i+1 arrives behind
//     chunk i's GEMM; exposed max(0, c/2 − (tp−1)/tp · g/2).
//   reduce-scatter (pipelined): chunk i's reduce-scatter runs behind chunk i+1's GEMM; the last
//     chunk's waits for the GEMM's end: c/(2·tp) + (tp−1)/tp · max(0, c/2 − g/2).
// A GEMM-bound layer keeps 1/(2·tp) of its communication exposed, one without GEMMs all of it.
// No fitted constant. Left out: the compute units the communication kernels take from the GEMM
// (TransformerEngine's reduce-scatter: 16 of an H100's 132 SMs by default; Ascend A2's MC2: none,
// its communication runs on the AI CPU). A term for it, tried with those figures, moved the
// overlapped H100 validation runs the wrong way and the Ascend ones not at all (docs/simulator.md).
double TpOverlapExposed(int tp, double collective_s, double gemm_s);

// A token bucket on one direction of a link (LinkSpec::burst_bytes: a traffic shaper such as tc
// tbf, measured by the probe): it holds up to `burst_bytes` of tokens, refilled at the sustained
// rate `gbs` (GB/s); while it holds tokens the link passes bytes at `peak_gbs`, so the tokens
// drain at peak − sustained; empty, it passes `gbs`. An inactive bucket (no burst, or a peak not
// above the sustained rate) sends every byte at `gbs`, exactly bytes ÷ gbs.
struct TokenBucket {
  double burst_bytes = 0;
  double peak_gbs = 0;
  double gbs = 0;
  bool active() const { return burst_bytes > 0 && peak_gbs > gbs && gbs > 0; }
  // Seconds to send `bytes` starting with `tokens` in the bucket.
  double SendTime(double bytes, double tokens) const;
  // Tokens left after sending `bytes` from `tokens`.
  double TokensAfter(double bytes, double tokens) const;
  // Tokens after `idle_s` seconds without traffic (never above burst_bytes).
  double Refill(double tokens, double idle_s) const;
  // Seconds per message of `bytes` when one starts every `period_s` (a pipeline's steady state:
  // the bucket refills between messages for period − send time), from a full bucket to the fixed
  // point. A period no longer than the send time gives the sustained rate.
  double SteadySendTime(double bytes, double period_s) const;
};

// The members of one allreduce, summarised per island (all that the α-β formulas need).
struct AllreduceGroup {
  struct Part {
    int island = 0;
    int64_t members = 0;
    int64_t nodes = 0;     // distinct nodes among the members
    double share_gbs = 0;  // slowest member's share of its node's NICs (node_gbs ÷ devices)
    double flow_gbs = 0;   // slowest member's one-flow bandwidth across nodes
    double intra_gbs = 0;  // slowest member's intra-node link, GB/s
    // A ring of two members across nodes is an exchange (both directions on one connection):
    // its rate ÷ a longer ring's, where the link class measured both (LinkSpec::pair_duplex).
    double pair_scale = 1;
    // GB/s per direction of a ring over this part that leaves its nodes: the k = members ÷ nodes
    // members of a node together use k shares of its NICs, bounded by the intra-node link the
    // ring also takes inside each node.
    double CrossingGbs() const;
    // A ring inside the part: the intra-node link when it holds one node, else CrossingGbs.
    double RingGbs() const;
  };
  std::vector<Part> parts;
  double inter_island_gbs = 0;  // per member across islands
  // A ring inside one island over hosts measured apart (NetworkSpec::node_pair_scale): the
  // slowest hop of this group's ring ÷ the slowest hop of the ring its class's collective figure
  // was timed on (the probe's: the whole world's ring, or for a ring of two members the
  // representative pair's exchange). A data-parallel group that avoids a slow host runs at the
  // fast hosts' rate; one through it at the slow host's, whatever the representative pair. 1
  // without host pairs (and for groups built from pools: grid.cc). CommModel::Summarize sets it.
  double host_scale = 1;
  int64_t size() const;
  // Adds `count` members of fleet group `group` on `nodes` distinct nodes of `island` (merging
  // into that island's part).
  void Add(const Fleet& fleet, int group, int island, int64_t count, int64_t nodes);
};

// The allreduce of `bytes` per member over a group that spans islands, as the runtime runs it
// (the composed islands allreduce: segments pipelined between the islands' rings and the bridge,
// each segment paying its rings' α). The partitioner does not know the collectives library, so the
// orchestrator, which does, supplies it (orchestrator/islands_cost.h); empty: the closed form
// (AllreduceTime's hierarchical: the islands' rings then the bridge, each α once).
using IslandsAllreduceFn =
    std::function<double(const AllreduceGroup& group, double bytes, const NetworkSpec& network)>;

class CommModel {
 public:
  CommModel() = default;
  CommModel(const Fleet& fleet, std::vector<DeviceSlot> slots,
            IslandsAllreduceFn islands_allreduce = nullptr);

  // Catalog- or measurement-derived figures of the class joining group `a` and group `b`.
  LinkSpec Link(LinkClass cls, int a, int b) const;
  LinkClass ClassOf(int64_t from, int64_t to) const;
  // One device's transfer to another when every device of their nodes sends at once (a
  // pipeline's steady state): GB/s per direction and latency in seconds. Across nodes, × the
  // pair of nodes' measured scale (PairScale).
  double LinkGbs(int64_t from, int64_t to) const;
  // The same transfer alone on its nodes' NICs (min of the class's one-flow and node figures, ×
  // PairScale): for a caller that shares a node's NICs among the flows that run at once itself —
  // the simulator where a probe measured how many NICs a node has (Workload::cell_nic). LinkGbs's
  // static share on top of that sharing would count the other devices' sends twice.
  double FlowGbs(int64_t from, int64_t to) const;
  // The two devices' nodes' measured point-to-point rate ÷ their class's figure
  // (NetworkSpec::node_pair_scale; 1 unless a probe measured that pair of hosts apart).
  double PairScale(int64_t from, int64_t to) const;
  double LinkLatency(int64_t from, int64_t to) const;
  // The token bucket on the link from `from` to `to` at the rate LinkGbs gives (inactive unless
  // the link's class was measured with one; never inside a node).
  TokenBucket LinkBucket(int64_t from, int64_t to) const;
  // The same bucket at the rate FlowGbs gives (the whole NIC's shaper).
  TokenBucket FlowBucket(int64_t from, int64_t to) const;
  // One pipeline message of `bytes`: latency + its transfer, through the link's token bucket in
  // the steady state of one message every `period_s` (LinkBucket). Without a bucket:
  // LinkLatency + bytes ÷ LinkGbs.
  double P2pTime(int64_t from, int64_t to, double bytes, double period_s) const;

  AllreduceGroup Summarize(std::span<const int64_t> devices) const;
  // Allreduce of `bytes` per member over `group`. kAuto takes the faster of ring and
  // hierarchical; `chosen` (optional) receives kNone, kIntraNode, kRing or kHierarchical. With an
  // IslandsAllreduceFn, a group spanning islands is costed by it unless kRing is pinned (the
  // runtime runs the composed allreduce there, never a flat ring): kHierarchical.
  double AllreduceTime(const AllreduceGroup& group, double bytes,
                       AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto,
                       AllreduceAlgorithm* chosen = nullptr) const;
  // `buckets` allreduces of bytes ÷ buckets each, one after the other.
  double BucketedAllreduceTime(const AllreduceGroup& group, double bytes, int64_t buckets,
                               AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto,
                               AllreduceAlgorithm* chosen = nullptr) const;
  // One phase of the allreduce of `bytes` per member (ring: (q−1)α + (q−1)/q · n/bw): half its
  // time, by the same algorithm.
  double ReduceScatterTime(const AllreduceGroup& group, double bytes,
                           AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto) const;
  double AllgatherTime(const AllreduceGroup& group, double bytes,
                       AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto) const;
  // Tensor-parallel allreduce of `bytes` over `tp` devices of one node of group `group`.
  double TpAllreduceTime(int group, int tp, double bytes) const;

 private:
  Fleet fleet_;
  // The slowest hop, in node_pair_scale, of a ring through `nodes` in order (back to the first).
  double RingPairScale(const std::vector<int64_t>& nodes) const;
  // LinkGbs (`node_shares`: the node's devices share its NICs) and FlowGbs (one transfer alone).
  double OneWayGbs(int64_t from, int64_t to, bool node_shares) const;
  // The link's token bucket scaled to a transfer at `gbs` (LinkBucket, FlowBucket).
  TokenBucket Bucket(int64_t from, int64_t to, double gbs) const;

  std::vector<DeviceSlot> slots_;
  std::map<int64_t, int> node_devices_;  // devices per node id (groups sharing a host share one)
  double world_ring_scale_ = 1;          // RingPairScale over every node in fleet order
  IslandsAllreduceFn islands_allreduce_;
};

// The bucket count for `bytes` of gradients: ceil(bytes ÷ bucket), clamped to [1, max_buckets].
int64_t GradientBuckets(double bytes, double bucket_mib, int max_buckets);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_COMM_MODEL_H_
