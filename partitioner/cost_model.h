// The cost model: one closed-form description of compute, memory and communication that every
// strategy plans with, and that the simulator reuses so that the two agree when nothing contends.
//
// Compute (kernel level). A device's speed is given for the kernels themselves, never as an
// end-to-end utilisation (bubbles, communication and the optimizer are modelled separately and
// would otherwise be counted twice). A layer range's time on a tensor-parallel group of a kind
// without a measured figure is
//   matmul FLOPs ÷ (tp × peak × matmul efficiency)   (peak: the job precision's, MatmulPeakTflops)
//   + memory-bound bytes ÷ (HBM bandwidth × bandwidth_efficiency), split bytes ÷ tp, shared not,
// all divided by any emulated slowdown. The bytes are counted from the layer shapes (layers.h).
// The matmul efficiency of a kind is what its best-shaped matmuls reach on an idle device
// (BestMatmulEfficiency: measured per kind) × SustainedMatmulFraction(kind), the share of that
// which a training step's matmuls sustain (fixed shapes, transposed backward layouts, a node's
// power budget shared by eight loaded devices, launch gaps). Ampere's (A100, A800) is solved
// from one published single-node run re-simulated by this model: Megatron-LM's 22B GPT on one DGX
// A100 (Korthikanti et al. 2022, Table 5: 1.42 s per iteration). Hopper's (H100, H800, H200, H20)
// is Ampere's × the Hopper-to-Ampere ratio measured on one software stack: MosaicML's MPT-7B on
// 8 H100 and on 8 A100 (llm-foundry benchmarks), each solved the same way.
// tests/simulator/fidelity_test.cc re-derives all three. Other kinds take
// the A100's (see SustainedMatmulFraction). bandwidth_efficiency (0.80) is the fraction of HBM
// bandwidth that element-wise kernels reach (an assumption; STREAM-style copies reach 85–90 %).
// A fleet's measured_tflops replaces both terms: a measured figure
// is an achieved rate on the real work, so a range then takes FLOPs ÷ (tp × measured).
// A group's measured layer times (NodeGroup::layer_times) replace that again for the layers they
// cover: a layer of a measured kind at a measured tp degree takes per micro-batch + per sample ×
// micro_batch from its measurements (several micro-batches: least squares; one at tp 1: in
// proportion; one at tp t > 1 beside tp 1: the tp-1 work ÷ t plus its collectives' bandwidth term
// per sample, the rest per micro-batch), and its tensor-parallel collectives (measured with it)
// are not added again; at a degree not measured, the per-sample time at the largest measured
// degree t' dividing it × t' ÷ tp (the rate rule), collectives added by the model. Kinds without
// a time keep the rate.
// docs/simulator.md (fidelity) and docs/partitioner.md state the sources.
//
// Memory per device (bytes), for a stage of layers [b, e) at pipeline position i of p:
//   weights + gradients + optimizer states, per parameter 2 + 2 + 12 bytes in bf16/fp16 (fp32
//   master, Adam m and v; ZeRO, Rajbhandari et al. 2020) or 4 + 4 + 8 in fp32, divided by tp, and
//   by dp for the optimizer (ZeRO ≥ 1), gradients (≥ 2) and weights (3);
//   + activations of the micro-batches in flight: 1F1B keeps min(p − i, m) of them at position i,
//   each micro_batch × seq_len × Σ stored bytes per token ÷ tp (sequence parallelism with tp > 1);
//   under full recompute, plus one layer's full activations for one micro-batch;
//   + communication buffers + a fixed reserve (runtime context, allocator slack).
//
// Communication (α-β): pipeline activations between stages on the link that joins the two
// devices (NVLink-class inside a node, the node's NIC share across nodes, the inter-island link
// across islands); tensor-parallel collectives inside a node (ring, 2(t−1)α + 2(t−1)/t·n·β); the
// data-parallel gradient allreduce, the faster of a flat ring (bounded by the slowest link) and a
// hierarchical reduce (ring inside each island, then across islands). What overlaps: the gradient
// allreduce of a stage runs behind the backward pass of its last micro-batch; only the excess is
// exposed. Pipeline p2p, tensor-parallel collectives and ZeRO-3's per-micro-batch parameter
// gathers (one allgather in the forward, one in the backward) are not overlapped (conservative).
//
// Step time of a plan = max over replicas of the 1F1B time Σ_s c_s + (m − 1)·max_s c_s (c_s: one
// micro-batch's forward + backward + p2p at stage s; m may be fractional, the last micro-batch
// being partial) + the largest exposed allreduce + the optimizer step (memory-bound).
//
// Immutable after Create(); safe to share between threads.
#ifndef TANGRAM_PARTITIONER_COST_MODEL_H_
#define TANGRAM_PARTITIONER_COST_MODEL_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "partitioner/comm_model.h"
#include "partitioner/fleet.h"
#include "partitioner/layers.h"
#include "partitioner/model.h"
#include "partitioner/plan.h"
#include "partitioner/training.h"

namespace tangram::partitioner {

struct CostOptions {
  // Fraction of catalog peak that a training step's matmuls reach, for every kind; 0 = per kind
  // (MatmulEfficiency). Only for kinds without measured_tflops.
  double gemm_efficiency = 0;
  // Fraction of catalog memory bandwidth that memory-bound kernels reach.
  double bandwidth_efficiency = 0.8;
  LayerOptions layers;
  double comm_buffer_gib = 0.5;  // gradient buckets and collective-library buffers, per device
  // Gradient buckets (PyTorch DDP's and the simulator's defaults): a stage's gradients are
  // reduced in ceil(bytes ÷ bucket) allreduces, at most max_buckets, each paying its α terms.
  double bucket_mib = 25;
  int max_buckets = 64;
  double reserved_gib = 1.0;  // runtime context and allocator fragmentation, per device
  // A what-if (`plan|simulate|compare --ignore-memory`): strategies plan as if every device's
  // memory were unlimited, and Evaluate notes a plan that does not fit instead of refusing it.
  // Memory is still computed and reported against the real capacity; such a plan cannot run.
  bool ignore_memory = false;
  // How a data-parallel group spanning islands is costed (comm_model.h): the orchestrator sets
  // the runtime's composed islands allreduce (orchestrator/islands_cost.h), so that plans are
  // ranked by what runs; empty (the partitioner alone: its tests): the closed form.
  IslandsAllreduceFn islands_allreduce;
};

struct MemoryBreakdown {  // bytes per device
  double weights = 0, gradients = 0, optimizer = 0, activations = 0, buffers = 0;
  double total() const { return weights + gradients + optimizer + activations + buffers; }
};

// Adam's optimizer state per parameter: the two moments in fp32 (8 bytes), plus an fp32 master
// copy of the weights when they train in a 16-bit precision (12).
inline double OptimizerStateBytesPerParameter(Precision precision) {
  return precision == Precision::kFp32 ? 8 : 12;
}

// The fraction of `kind`'s catalog bf16 peak that its best-shaped matmuls achieve on an idle
// device (measured; see the file comment).
double BestMatmulEfficiency(const std::string& kind);

// Matmul efficiencies (÷ peak) solved from the calibration runs (see the file comment): the A100
// in Megatron-LM (Korthikanti 22B, 8 A100), and the ratio of the H100's to the A100's on one stack
// (MosaicML MPT-7B on 8 H100: 0.5295; on 8 A100: 0.6997).
inline constexpr double kAmpereSustainedMatmul = 0.715;
inline constexpr double kHopperToAmpereMatmul = 0.5295 / 0.6997;
// DaVinci (Ascend 910B): solved from MindFormers' Llama 2 7B on one Atlas 800T A2 (8 NPUs, 4160
// tokens/s per NPU; mindspore-lab/mindformers docs/model_cards/llama2.md), as a fraction of the
// catalog peak (313 TFLOP/s): nobody has published the 910B's best-shape matmul rate, so the
// product is what the run fixes (best-shape 0.80, the median, × the sustained share).
inline constexpr double kDavinciSustainedMatmul = 0.662;

// The share of `kind`'s best-shape matmul rate that a training step's matmuls sustain: Ampere's
// (A100-80G, A800: 0.715 ÷ 0.86 = 0.83) or Hopper's (H100, H800, H200, H20: 0.715 × 0.757 ÷ 0.80
// = 0.68) or DaVinci's (Ascend 910B/910C: 0.662 ÷ 0.80 = 0.83), from the calibration runs. The
// fraction follows the architecture (its kernels and their software), not the product: the H20 is
// a Hopper die. Other kinds, which have no published run here, take Ampere's; the measured
// architectures differ, so for them it is an assumption, and a fleet's measured_tflops replaces
// it.
double SustainedMatmulFraction(const std::string& kind);

// BestMatmulEfficiency(kind) × SustainedMatmulFraction(kind): the cost model's matmul rate ÷ peak.
double MatmulEfficiency(const std::string& kind);
// The same for a catalog entry: an unmeasured kind takes its architecture's figures (the fraction
// sustained follows the architecture too); `warning` (optional) says so, or that neither the
// kind nor its architecture was measured (then the median, 0.80 best-shape).
double MatmulEfficiency(const DeviceSpec& device, std::string* warning);

// The catalog peak (dense TFLOP/s) that `training`'s matmuls run at on `device`, by precision:
// bf16 peak_tflops_bf16; fp16 peak_tflops_fp16, else peak_tflops_bf16; fp32 peak_tflops_tf32 when
// training.allow_tf32 and the kind has TF32 tensor cores, else peak_tflops_fp32. The matmul
// efficiency (MatmulEfficiency) multiplies whichever it is: it was measured on BF16 tensor-core
// GEMMs, and its use for TF32 and FP32 GEMMs is ASSUMED (docs/partitioner.md). `warning`
// (optional) receives the fallback taken: a bf16 job on a kind without BF16 keeps its FP16 peak;
// an fp32 job on a kind without an FP32 figure gets its BF16 peak, an upper bound.
double MatmulPeakTflops(const DeviceSpec& device, const TrainingSpec& training,
                        std::string* warning);

class CostModel;

// When the model's weights, gradients and optimizer state alone exceed the usable memory of the
// whole fleet (no layout can fit): says so with both sizes, naming first any kind whose memory is
// not above the per-device reserve; "" otherwise.
std::string FleetMemoryShortfall(const CostModel& cost);

class CostModel {
 public:
  static absl::StatusOr<CostModel> Create(const Fleet& fleet, const ModelSpec& model,
                                          const TrainingSpec& training, CostOptions options = {});

  const Fleet& fleet() const { return fleet_; }
  const ModelSpec& model() const { return model_; }
  const TrainingSpec& training() const { return training_; }
  const CostOptions& options() const { return options_; }
  const std::vector<Layer>& layers() const { return layers_; }
  const std::vector<DeviceSlot>& slots() const { return slots_; }
  // What the model had to assume (an unmeasured kind's matmul efficiency), once each; the CLI
  // prints them.
  const std::vector<std::string>& warnings() const { return warnings_; }
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }

  // Effective throughput of one device of `group` on this job, in model TFLOP/s: the model's
  // FLOPs per token (forward + backward, no recompute) ÷ the time one device takes per token
  // (recompute and memory-bound kernels included; from the measured figure when the fleet has
  // one). Used to rank and share work between kinds, and for the bound, which is then reachable:
  // model FLOPs per step ÷ the summed throughput is the step of a perfect split.
  double GroupTflops(int group) const { return group_tflops_[group]; }
  double SummedTflops() const { return summed_tflops_; }
  // Model FLOPs of one optimizer step (3 × forward, no recompute) and the bound: those FLOPs ÷ the
  // fleet's summed throughput.
  double ModelFlopsPerStep() const;
  double BoundStepTime() const { return ModelFlopsPerStep() / (summed_tflops_ * 1e12); }

  // Per micro-batch of `micro_batch` sequences on one tp group of `group`, layers [begin, end):
  double ForwardTime(int group, int tp, int64_t begin, int64_t end, double micro_batch) const;
  double BackwardTime(int group, int tp, int64_t begin, int64_t end, double micro_batch) const;
  // Forward and backward time of one micro-batch on one tp group, tensor-parallel collectives
  // included (the backward carries recompute and its share of the collectives).
  struct CellCost {
    double forward_s = 0, backward_s = 0;
  };
  CellCost Cell(int group, int tp, int64_t begin, int64_t end, double micro_batch) const;
  // Tensor-parallel collectives of those layers on the critical path, forward + backward (0 when
  // tp = 1): all of them, or with tp_comm_overlap what TpOverlapExposed leaves of each beside the
  // GEMMs it feeds (comm_model.h).
  double TpCommTime(int group, int tp, int64_t begin, int64_t end, double micro_batch) const;
  // Bytes each device sends to the next stage per micro-batch (one direction). Between stages of
  // different tensor-parallel sizes the activations are resharded on the way: with a → b ranks,
  // a ≥ b, sending rank i sends its 1/a slice to receiving rank ⌊i·b/a⌋, which takes a/b
  // slices; with a < b, sending rank i splits its 1/a slice into b/a pieces for ranks i·b/a to
  // (i+1)·b/a − 1. The busiest rank (the smaller side's) moves 1/min(a, b) of the activations:
  // callers pass tp = min(a, b), and the send is modelled as those bytes over the link between
  // the two cells' first devices (Evaluate and the simulator's workload alike).
  double BoundaryBytes(int tp, double micro_batch) const;
  // α + bytes / bandwidth on the link joining two devices; through the link's token bucket, when
  // it was measured with one, in the steady state of one message every `period_s`
  // (CommModel::P2pTime; period 0: the sustained rate).
  double LinkTime(int64_t from, int64_t to, double bytes, double period_s = 0) const;
  // The link's token bucket (CommModel::LinkBucket).
  TokenBucket LinkBucket(int64_t from, int64_t to) const;
  // Link bandwidth (GB/s) and latency (s) between two devices.
  double LinkGbs(int64_t from, int64_t to) const;
  // One transfer alone on its nodes' NICs, and its bucket (CommModel::FlowGbs, FlowBucket).
  double FlowGbs(int64_t from, int64_t to) const;
  TokenBucket FlowBucket(int64_t from, int64_t to) const;
  double LinkLatency(int64_t from, int64_t to) const;

  // Gradient bytes a device of a stage allreduces per step, in allreduce-equivalent volume: its
  // gradients (ZeRO-2 and ZeRO-3: a reduce-scatter, half of that, in buckets during the backward
  // as the gradients shard; the parameters come back by ParameterGatherAfterStepTime (ZeRO-2) or
  // ParameterGatherTime (ZeRO-3, per micro-batch)).
  double GradientAllreduceBytes(int tp, int64_t begin, int64_t end) const;
  // ZeRO-3 only (else 0): one allgather of the stage's parameters over its data-parallel group,
  // which the forward and the backward pass of every micro-batch each need once. Counted on the
  // critical path: gathers prefetched a layer ahead still contend with the compute for SMs and
  // memory bandwidth, and published FSDP runs at small micro-batches show them exposed
  // (docs/simulator.md, fidelity on other stacks).
  double ParameterGatherTime(const AllreduceGroup& group, int tp, int64_t begin, int64_t end) const;
  // ZeRO-2 only (else 0): after the optimizer step each device holds updated weights for its
  // shard only; one allgather of the stage's parameters over its data-parallel group follows the
  // step on the critical path (DeepSpeed ZeRO-2), unless overlap_param_gather hides it behind
  // the next step's forward (Megatron-Core's distributed optimizer).
  double ParameterGatherAfterStepTime(const AllreduceGroup& group, int tp, int64_t begin,
                                      int64_t end) const;
  AllreduceGroup SummarizeGroup(std::span<const int64_t> devices) const;
  // The faster of ring and hierarchical; `algorithm` (optional) receives which.
  double AllreduceTime(const AllreduceGroup& group, double bytes,
                       AllreduceAlgorithm* algorithm = nullptr) const;
  // The gradient reduction of `bytes` in buckets (CostOptions::bucket_mib), α per bucket.
  double GradientAllreduceTime(const AllreduceGroup& group, double bytes,
                               AllreduceAlgorithm* algorithm = nullptr) const;
  // The shared α-β model (comm_model.h) this cost model uses.
  const CommModel& comm() const { return comm_; }

  // Memory of one device of a stage (see the file comment). `in_flight` micro-batches.
  MemoryBreakdown StageMemory(int tp, int dp, int64_t begin, int64_t end, double in_flight,
                              double micro_batch) const;
  // Device memory a plan may use on `group` (capacity − reserve), bytes.
  double UsableBytes(int group) const;
  double CapacityBytes(int group) const;
  // What strategies may fill on `group`: UsableBytes, or unlimited with ignore_memory.
  double AdmissibleBytes(int group) const;
  // Optimizer step time of one device: the parameters it updates × the group's measured time per
  // parameter (NodeGroup::measured_optimizer_ns) where measured, else its optimizer states,
  // weights and gradients read and written at the catalog's memory bandwidth.
  double OptimizerTime(int group, const MemoryBreakdown& memory) const;

  // Validates `plan` (ValidatePlan) and fills its predictions: per-cell times and memory,
  // per-stage allreduce, per-replica pipeline time, step time, tokens/s, MFU, bottleneck, bound
  // and efficiency. kFailedPrecondition when a device's memory does not fit, naming the stage,
  // the device kind, how much it needs against its capacity, and what would help; with
  // CostOptions::ignore_memory that message becomes one of the plan's notes instead.
  absl::Status Evaluate(Plan* plan) const;

 private:
  CostModel() = default;
  // Create's parts, in its order: the per-group device rates (from the layer prefix sums), then
  // the per-layer tensor-parallel shapes and the largest block working set.
  void RateGroups();
  // Adds a warning when `g`'s measured_tflops exceeds its kind's catalog peak at the job's
  // precision: no measurement can, so it is a unit slip or the wrong kind.
  void WarnAbovePeak(const NodeGroup& g);
  void IndexTpShapes();
  // Per-layer time tables for groups with measured layer times (cost_model_layer_times.cc).
  void BuildLayerTimeTables();
  struct LayerTimeTable;
  const LayerTimeTable* Table(int group, int tp) const;
  LayerTimeTable MakeTable(int group, int tp) const;
  // Prefix sums over the layer list make every range query O(1).
  double Sum(const std::vector<double>& prefix, int64_t begin, int64_t end) const {
    return prefix[end] - prefix[begin];
  }

  Fleet fleet_;
  ModelSpec model_;
  TrainingSpec training_;
  CostOptions options_;
  std::vector<Layer> layers_;
  std::vector<DeviceSlot> slots_;
  CommModel comm_;
  std::vector<std::string> warnings_;
  std::vector<double> group_tflops_;
  double summed_tflops_ = 0;
  // Per group: FLOP/s of matmuls and bytes/s of memory-bound kernels (bytes/s is infinite when
  // the group is measured: its figure already contains them).
  std::vector<double> flop_rate_, byte_rate_;
  std::vector<double> fwd_bytes_, bwd_bytes_;
  // The h-sized traffic that every tensor-parallel rank moves whole (no sequence parallelism).
  std::vector<double> fwd_shared_bytes_, bwd_shared_bytes_, stored_shared_;
  std::vector<double> fwd_flops_, bwd_flops_, params_, stored_, collectives_;
  // Layers of one shape (collectives, overlappable FLOPs) share what tp_comm_overlap leaves
  // exposed; per shape, the count of its layers before each index (prefix), so that a range's
  // TpCommTime stays O(shapes).
  struct TpShape {
    int collectives = 0;
    double overlap_flops = 0;  // per token
    std::vector<double> prefix;
  };
  std::vector<TpShape> tp_shapes_;
  // For a (group, tp) with measured layer times: prefix sums of seconds per token of every layer
  // (measured or at the rate), and of the tensor-parallel collectives the measurements do not
  // already include (overall and per TpShape). Built for tp 1 … the group's devices per node;
  // other degrees are built on demand per query (O(layers)).
  struct LayerTimeTable {
    int group = 0, tp = 1;
    std::vector<double> forward, backward, collectives;  // per token; count
    std::vector<double> forward_fixed, backward_fixed;   // per micro-batch (measured, tp > 1)
    std::vector<std::vector<double>> shape_prefix;       // per tp_shapes_ entry
  };
  std::vector<LayerTimeTable> layer_tables_;
  // One block's full activations per token (full recompute): split by tp, and whole.
  double block_working_ = 0;
  double block_working_shared_ = 0;
};

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_COST_MODEL_H_
