#include "partitioner/cost_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace tangram::partitioner {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::vector<double> Prefix(const std::vector<Layer>& layers, double (*f)(const Layer&)) {
  std::vector<double> out(layers.size() + 1, 0.0);
  for (size_t i = 0; i < layers.size(); ++i) out[i + 1] = out[i] + f(layers[i]);
  return out;
}

}  // namespace

namespace {

// Maximum achievable matmul FLOPS (bf16, no sparsity) ÷ datasheet peak, as measured by
// mamf-finder and tabulated in S. Bekman, "Machine Learning Engineering",
// compute/accelerator/README.md: A100 SXM 267.9-271.2 of 312 (86-87 %), H100 SXM 792.1-794.5
// of 989 (80 %), GH200 821-829 of 989 (83-84 %), MI300X 781.9 of 1,300 (60 %). A800 is the
// A100 die, H800 and H200 the H100 die at the same 700 W (H200 gets H100's figure, not the
// 900 W GH200's). The A100-40G (SXM, the catalog's) is the same die at the same 400 W and peak
// as the measured 80 GB part: the figure is measured for it, not borrowed from its architecture.
struct Measured {
  const char* kind;
  double efficiency;
};
constexpr Measured kMeasured[] = {
    {"A100-80G", 0.86}, {"A100-40G", 0.86}, {"A800", 0.86},   {"H100", 0.80},
    {"H800", 0.80},     {"H200", 0.80},     {"MI300X", 0.60},
};
// An unmeasured kind takes the figure of its architecture's measured kind: the kernels (tensor
// core generation, library) set what a best-shaped matmul reaches more than the product does.
constexpr std::pair<const char*, double> kByArchitecture[] = {
    {"ampere", 0.86}, {"hopper", 0.80}, {"cdna3", 0.60}};
// Kinds with no measured architecture: 0.80, the median of the table.
constexpr double kMedianBest = 0.80;

double BestFor(const std::string& kind, const std::string& architecture, std::string* warning) {
  for (const Measured& e : kMeasured) {
    if (kind == e.kind) return e.efficiency;
  }
  for (const auto& [arch, e] : kByArchitecture) {
    if (architecture == arch) {
      if (warning != nullptr) {
        *warning = absl::StrFormat(
            "%s: no measured matmul efficiency; using its architecture's (%s, %.2f of peak)", kind,
            architecture, e);
      }
      return e;
    }
  }
  // DaVinci has no published best-shape figure, but its sustained rate (the product the cost
  // model uses) is calibrated on a published Ascend 910B run: no assumption for the 910B itself.
  if (architecture == "davinci") {
    if (warning != nullptr && kind != "Ascend910B") {
      *warning = absl::StrFormat(
          "%s: no published run; using the Ascend910B's calibrated matmul rate (davinci, %.3f of "
          "peak)",
          kind, kDavinciSustainedMatmul);
    }
    return kMedianBest;
  }
  if (warning != nullptr) {
    *warning = absl::StrFormat(
        "%s: no measured matmul efficiency for it or its architecture (%s); assuming %.2f of "
        "peak (median of the measured kinds); give the fleet a measured_tflops",
        kind, architecture.empty() ? "unknown" : architecture, kMedianBest);
  }
  return kMedianBest;
}

double SustainedFor(const std::string& architecture) {
  const double ampere = kAmpereSustainedMatmul / BestFor("A100-80G", "ampere", nullptr);
  if (architecture == "hopper") {
    return kAmpereSustainedMatmul * kHopperToAmpereMatmul / BestFor("H100", "hopper", nullptr);
  }
  if (architecture == "davinci") {
    return kDavinciSustainedMatmul / BestFor("Ascend910B", "davinci", nullptr);
  }
  return ampere;
}

}  // namespace

double BestMatmulEfficiency(const std::string& kind) {
  return BestFor(kind, KnownArchitecture(kind), nullptr);
}

double SustainedMatmulFraction(const std::string& kind) {
  return SustainedFor(KnownArchitecture(kind));
}

double MatmulEfficiency(const std::string& kind) {
  return BestMatmulEfficiency(kind) * SustainedMatmulFraction(kind);
}

double MatmulEfficiency(const DeviceSpec& device, std::string* warning) {
  return BestFor(device.kind, device.architecture, warning) * SustainedFor(device.architecture);
}

double MatmulPeakTflops(const DeviceSpec& device, const TrainingSpec& training,
                        std::string* warning) {
  auto say = [&](std::string text) {
    if (warning != nullptr) *warning = std::move(text);
  };
  switch (training.precision) {
    case Precision::kBf16:
      if (!device.has_bf16) {
        say(absl::StrFormat(
            "%s: no BF16 on %s; bf16 matmuls costed at its FP16 tensor peak (%.4g TFLOP/s), as "
            "if the job ran fp16 - a bf16 run there falls back to slower kernels; use precision "
            "fp16",
            device.kind, device.architecture, device.peak_tflops_bf16));
      }
      return device.peak_tflops_bf16;
    case Precision::kFp16:
      return device.peak_tflops_fp16.value_or(device.peak_tflops_bf16);
    case Precision::kFp32:
      break;
  }
  if (training.allow_tf32 && device.peak_tflops_tf32.has_value()) return *device.peak_tflops_tf32;
  if (device.peak_tflops_fp32.has_value()) {
    // Without TF32 tensor cores (pre-Ampere) allow_tf32 changes nothing, as in PyTorch.
    if (training.allow_tf32 && device.has_bf16) {
      say(absl::StrFormat(
          "%s: allow_tf32 but the catalog has no TF32 peak for it; fp32 matmuls costed at its "
          "FP32 peak (%.4g TFLOP/s)",
          device.kind, *device.peak_tflops_fp32));
    }
    return *device.peak_tflops_fp32;
  }
  say(absl::StrFormat(
      "%s: the catalog has no FP32 peak for it; fp32 matmuls costed at its BF16 tensor peak (%.4g "
      "TFLOP/s), an upper bound (2-30x the FP32 rate on the GPUs that list both); give the "
      "catalog peak_tflops_fp32 or the fleet a measured_tflops",
      device.kind, device.peak_tflops_bf16));
  return device.peak_tflops_bf16;
}

absl::StatusOr<CostModel> CostModel::Create(const Fleet& fleet, const ModelSpec& model,
                                            const TrainingSpec& training, CostOptions options) {
  if (fleet.groups.empty()) return absl::InvalidArgumentError("the fleet has no devices");
  if (!(options.gemm_efficiency >= 0 && options.gemm_efficiency <= 1) ||
      !(options.bandwidth_efficiency > 0 && options.bandwidth_efficiency <= 1)) {
    return absl::InvalidArgumentError(
        "gemm_efficiency must be in [0, 1] (0: per kind) and bandwidth_efficiency in (0, 1]");
  }
  if (training.global_batch < 1 || training.micro_batch < 1) {
    return absl::InvalidArgumentError("global_batch and micro_batch must be >= 1");
  }
  if (training.zero_stage < 0 || training.zero_stage > 3) {
    return absl::InvalidArgumentError("zero_stage must be 0, 1, 2 or 3");
  }
  CostModel c;
  c.fleet_ = fleet;
  c.model_ = model;
  c.training_ = training;
  c.options_ = options;
  c.layers_ = BuildLayers(model, training, options.layers);
  c.slots_ = FlattenFleet(fleet);
  c.comm_ = CommModel(fleet, c.slots_, options.islands_allreduce);
  c.fwd_flops_ = Prefix(c.layers_, [](const Layer& l) { return l.forward_flops_per_token; });
  c.bwd_flops_ = Prefix(c.layers_, [](const Layer& l) {
    return l.backward_flops_per_token + l.recompute_flops_per_token;
  });
  c.fwd_bytes_ = Prefix(c.layers_, [](const Layer& l) { return l.forward_bytes_per_token; });
  c.bwd_bytes_ = Prefix(c.layers_, [](const Layer& l) {
    return 2 * l.forward_bytes_per_token + l.recompute_bytes_per_token;
  });
  c.fwd_shared_bytes_ =
      Prefix(c.layers_, [](const Layer& l) { return l.forward_shared_bytes_per_token; });
  c.bwd_shared_bytes_ = Prefix(c.layers_, [](const Layer& l) {
    return 2 * l.forward_shared_bytes_per_token + l.recompute_shared_bytes_per_token;
  });
  c.RateGroups();
  // The split is of a stage's layers over its model chunks: with one chunk a stage there is none,
  // and a job that asked for one would plan as if it had not.
  if (training.layout.chunk_split == ChunkSplit::kAllLayers &&
      training.layout.virtual_stages.value_or(1) < 2) {
    c.warnings_.push_back(
        "layout.chunk_split: all_layers has no effect without virtual_stages >= 2 (the job's "
        "layout.virtual_stages, or simulate --virtual-stages): each pipeline stage is one chunk");
  }
  c.params_ = Prefix(c.layers_, [](const Layer& l) { return static_cast<double>(l.parameters); });
  c.stored_ = Prefix(c.layers_, [](const Layer& l) { return l.stored_activation_bytes_per_token; });
  c.stored_shared_ =
      Prefix(c.layers_, [](const Layer& l) { return l.stored_shared_bytes_per_token; });
  c.collectives_ = Prefix(c.layers_, [](const Layer& l) { return double(l.tp_collectives); });
  c.IndexTpShapes();
  c.BuildLayerTimeTables();
  return c;
}

void CostModel::WarnAbovePeak(const NodeGroup& g) {
  // A device without an accelerator's collective library is a host CPU: its catalog peak is a
  // nominal placeholder that calibration may exceed (configs/devices.yaml, kind cpu).
  if (g.device.collective_library == "none") return;
  const double peak = MatmulPeakTflops(g.device, training_, nullptr);
  if (!(*g.measured_tflops > peak)) return;
  const std::string w = absl::StrFormat(
      "%s: measured %.6g TFLOP/s per device, above its catalog peak at %s (%.6g): no "
      "measurement can be; check the figure's unit and the kind",
      g.device.kind, *g.measured_tflops, PrecisionName(training_.precision), peak);
  if (std::find(warnings_.begin(), warnings_.end(), w) == warnings_.end()) warnings_.push_back(w);
}

void CostModel::RateGroups() {
  // GroupTflops is the rate on one device (tp = 1), where shared and split bytes are alike, in
  // *model* FLOPs (forward + backward, as the bound and MFU count them): recompute and memory-bound
  // kernels cost the device time but are not model work, so a device's throughput on this job is
  // the model FLOPs per token ÷ its time per token. A measured figure (model FLOPs per second of
  // work without recompute, as the runtime's probe counts it) is scaled the same way.
  const double flops = fwd_flops_.back() + bwd_flops_.back();  // hardware: with recompute
  const double model_flops = 3 * fwd_flops_.back();
  const double bytes =
      fwd_bytes_.back() + bwd_bytes_.back() + fwd_shared_bytes_.back() + bwd_shared_bytes_.back();
  for (const NodeGroup& g : fleet_.groups) {
    double flop_rate, byte_rate, tflops;
    if (g.measured_tflops.has_value()) {
      WarnAbovePeak(g);
      flop_rate = *g.measured_tflops * 1e12;
      byte_rate = std::numeric_limits<double>::infinity();
      tflops = *g.measured_tflops * model_flops / flops;
    } else {
      std::string warning, peak_warning;
      const double gemm = options_.gemm_efficiency > 0 ? options_.gemm_efficiency
                                                       : MatmulEfficiency(g.device, &warning);
      const double peak = MatmulPeakTflops(g.device, training_, &peak_warning);
      for (const std::string& w : {warning, peak_warning}) {
        if (!w.empty() && std::find(warnings_.begin(), warnings_.end(), w) == warnings_.end()) {
          warnings_.push_back(w);
        }
      }
      flop_rate = peak * 1e12 * gemm / g.emulate_slowdown;
      byte_rate =
          g.device.memory_bandwidth_gbs * 1e9 * options_.bandwidth_efficiency / g.emulate_slowdown;
      tflops = model_flops / (flops / flop_rate + bytes / byte_rate) / 1e12;
    }
    flop_rate_.push_back(flop_rate);
    byte_rate_.push_back(byte_rate);
    group_tflops_.push_back(tflops);
    summed_tflops_ += tflops * static_cast<double>(g.num_devices());
  }
}

void CostModel::IndexTpShapes() {
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    auto it = std::find_if(tp_shapes_.begin(), tp_shapes_.end(), [&](const TpShape& t) {
      return t.collectives == l.tp_collectives && t.overlap_flops == l.tp_overlap_flops_per_token;
    });
    if (it == tp_shapes_.end()) {
      tp_shapes_.push_back({l.tp_collectives, l.tp_overlap_flops_per_token,
                            std::vector<double>(layers_.size() + 1, 0.0)});
      it = tp_shapes_.end() - 1;
    }
    for (TpShape& t : tp_shapes_) t.prefix[i + 1] = t.prefix[i] + (&t == &*it ? 1 : 0);
  }
  for (const Layer& l : layers_) {
    if (l.kind != LayerKind::kEmbedding && l.kind != LayerKind::kHead) {
      block_working_ = std::max(block_working_, l.working_activation_bytes_per_token);
      block_working_shared_ = std::max(block_working_shared_, l.working_shared_bytes_per_token);
    }
  }
}

double CostModel::ModelFlopsPerStep() const {
  return 3.0 * fwd_flops_.back() * static_cast<double>(training_.global_batch) *
         static_cast<double>(model_.seq_len);
}

double CostModel::ForwardTime(int group, int tp, int64_t begin, int64_t end,
                              double micro_batch) const {
  double tokens = micro_batch * static_cast<double>(model_.seq_len);
  if (!fleet_.groups[group].layer_times.empty()) {
    std::optional<LayerTimeTable> built;
    const LayerTimeTable* t = Table(group, tp);
    if (t == nullptr) t = &built.emplace(MakeTable(group, tp));
    return tokens * Sum(t->forward, begin, end) + Sum(t->forward_fixed, begin, end);
  }
  return tokens * ((Sum(fwd_flops_, begin, end) / flop_rate_[group] +
                    Sum(fwd_bytes_, begin, end) / byte_rate_[group]) /
                       tp +
                   Sum(fwd_shared_bytes_, begin, end) / byte_rate_[group]);
}

double CostModel::BackwardTime(int group, int tp, int64_t begin, int64_t end,
                               double micro_batch) const {
  double tokens = micro_batch * static_cast<double>(model_.seq_len);
  if (!fleet_.groups[group].layer_times.empty()) {
    std::optional<LayerTimeTable> built;
    const LayerTimeTable* t = Table(group, tp);
    if (t == nullptr) t = &built.emplace(MakeTable(group, tp));
    return tokens * Sum(t->backward, begin, end) + Sum(t->backward_fixed, begin, end);
  }
  return tokens * ((Sum(bwd_flops_, begin, end) / flop_rate_[group] +
                    Sum(bwd_bytes_, begin, end) / byte_rate_[group]) /
                       tp +
                   Sum(bwd_shared_bytes_, begin, end) / byte_rate_[group]);
}

double CostModel::TpCommTime(int group, int tp, int64_t begin, int64_t end,
                             double micro_batch) const {
  if (tp <= 1) return 0;
  const double tokens = micro_batch * static_cast<double>(model_.seq_len);
  const double bytes = tokens * model_.hidden * ActivationElementBytes(training_.precision);
  const double one = comm_.TpAllreduceTime(group, tp, bytes);
  // Layers measured at this tp degree ran their collectives inside the measured time.
  std::optional<LayerTimeTable> built;
  const LayerTimeTable* table = nullptr;
  if (!fleet_.groups[group].layer_times.empty()) {
    table = Table(group, tp);
    if (table == nullptr) table = &built.emplace(MakeTable(group, tp));
  }
  if (!training_.tp_comm_overlap) {
    return one * Sum(table != nullptr ? table->collectives : collectives_, begin, end);
  }
  double exposed = 0;
  for (size_t s = 0; s < tp_shapes_.size(); ++s) {
    const TpShape& t = tp_shapes_[s];
    const double layers = Sum(table != nullptr ? table->shape_prefix[s] : t.prefix, begin, end);
    if (layers == 0 || t.collectives == 0) continue;
    const double gemm = tokens * t.overlap_flops / t.collectives / (tp * flop_rate_[group]);
    exposed += layers * t.collectives * TpOverlapExposed(tp, one, gemm);
  }
  return exposed;
}

CostModel::CellCost CostModel::Cell(int group, int tp, int64_t begin, int64_t end,
                                    double micro_batch) const {
  const double comm = TpCommTime(group, tp, begin, end, micro_batch);
  // Half the collectives run forward, half backward; full recompute repeats the forward ones.
  const double fwd_share = training_.recompute == Recompute::kFull ? 1.0 / 3 : 0.5;
  return {ForwardTime(group, tp, begin, end, micro_batch) + comm * fwd_share,
          BackwardTime(group, tp, begin, end, micro_batch) + comm * (1 - fwd_share)};
}

double CostModel::BoundaryBytes(int tp, double micro_batch) const {
  // With sequence parallelism each tensor-parallel rank sends its 1/tp slice of the activations.
  return micro_batch * static_cast<double>(model_.seq_len) * model_.hidden *
         ActivationElementBytes(training_.precision) / tp;
}

double CostModel::LinkGbs(int64_t from, int64_t to) const { return comm_.LinkGbs(from, to); }
double CostModel::FlowGbs(int64_t from, int64_t to) const { return comm_.FlowGbs(from, to); }
TokenBucket CostModel::FlowBucket(int64_t from, int64_t to) const {
  return comm_.FlowBucket(from, to);
}

double CostModel::LinkLatency(int64_t from, int64_t to) const {
  return comm_.LinkLatency(from, to);
}

double CostModel::LinkTime(int64_t from, int64_t to, double bytes, double period_s) const {
  return comm_.P2pTime(from, to, bytes, period_s);
}

TokenBucket CostModel::LinkBucket(int64_t from, int64_t to) const {
  return comm_.LinkBucket(from, to);
}

double CostModel::GradientAllreduceBytes(int tp, int64_t begin, int64_t end) const {
  const double bytes = Sum(params_, begin, end) / tp * GradReduceElementBytes(training_);
  // ZeRO-2 and -3 reduce-scatter the gradients (half an allreduce); the weights come back after
  // the step (ZeRO-2) or per micro-batch (ZeRO-3).
  return training_.zero_stage >= 2 ? 0.5 * bytes : bytes;
}

double CostModel::ParameterGatherTime(const AllreduceGroup& group, int tp, int64_t begin,
                                      int64_t end) const {
  if (training_.zero_stage != 3 || group.size() <= 1) return 0;
  const double element = training_.precision == Precision::kFp32 ? 4 : 2;
  return comm_.AllgatherTime(group, Sum(params_, begin, end) / tp * element);
}

double CostModel::ParameterGatherAfterStepTime(const AllreduceGroup& group, int tp, int64_t begin,
                                               int64_t end) const {
  if (training_.zero_stage != 2 || training_.overlap_param_gather || group.size() <= 1) return 0;
  const double element = training_.precision == Precision::kFp32 ? 4 : 2;
  return comm_.AllgatherTime(group, Sum(params_, begin, end) / tp * element);
}

AllreduceGroup CostModel::SummarizeGroup(std::span<const int64_t> devices) const {
  return comm_.Summarize(devices);
}

double CostModel::AllreduceTime(const AllreduceGroup& group, double bytes,
                                AllreduceAlgorithm* algorithm) const {
  return comm_.AllreduceTime(group, bytes, AllreduceAlgorithm::kAuto, algorithm);
}

double CostModel::GradientAllreduceTime(const AllreduceGroup& group, double bytes,
                                        AllreduceAlgorithm* algorithm) const {
  return comm_.BucketedAllreduceTime(
      group, bytes, GradientBuckets(bytes, options_.bucket_mib, options_.max_buckets),
      AllreduceAlgorithm::kAuto, algorithm);
}

MemoryBreakdown CostModel::StageMemory(int tp, int dp, int64_t begin, int64_t end, double in_flight,
                                       double micro_batch) const {
  const bool fp32 = training_.precision == Precision::kFp32;
  const int z = training_.zero_stage;
  const double p = Sum(params_, begin, end) / tp;
  MemoryBreakdown m;
  m.weights = p * (fp32 ? 4 : 2) / (z >= 3 ? dp : 1);
  m.gradients = p * (fp32 ? 4 : 2) / (z >= 2 ? dp : 1);
  m.optimizer = p * OptimizerStateBytesPerParameter(training_.precision) / (z >= 1 ? dp : 1);
  const double tokens = micro_batch * static_cast<double>(model_.seq_len);
  m.activations =
      in_flight * tokens * (Sum(stored_, begin, end) / tp + Sum(stored_shared_, begin, end));
  if (training_.recompute == Recompute::kFull) {
    m.activations += tokens * (block_working_ / tp + block_working_shared_);
  }
  m.buffers = options_.comm_buffer_gib * kGiB;
  return m;
}

double CostModel::CapacityBytes(int group) const {
  return fleet_.groups[group].device.memory_gib * kGiB;
}

double CostModel::UsableBytes(int group) const {
  return CapacityBytes(group) - options_.reserved_gib * kGiB;
}

double CostModel::AdmissibleBytes(int group) const {
  return options_.ignore_memory ? std::numeric_limits<double>::infinity() : UsableBytes(group);
}

double CostModel::OptimizerTime(int group, const MemoryBreakdown& m) const {
  const NodeGroup& g = fleet_.groups[group];
  if (g.measured_optimizer_ns.has_value()) {
    // Measured per parameter updated: a device updates the parameters whose optimizer states it
    // holds (its ZeRO shard), StageMemory's optimizer bytes ÷ the state bytes per parameter.
    return m.optimizer / OptimizerStateBytesPerParameter(training_.precision) *
           *g.measured_optimizer_ns * 1e-9;
  }
  // Adam reads and writes its states and the master weights, reads the gradients, writes weights.
  double bytes = 2 * m.optimizer + m.gradients + m.weights;
  return bytes / (g.device.memory_bandwidth_gbs * 1e9);
}

}  // namespace tangram::partitioner
