// CostModel::Evaluate: a whole plan's step time, memory and bottleneck from the per-stage pieces.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "partitioner/chunks.h"
#include "partitioner/cost_model.h"

namespace tangram::partitioner {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// "enable full recompute, ZeRO-3, or use more pipeline stages", for what the job does not use.
std::string MemoryAdvice(const TrainingSpec& t, int pp, int64_t micro_batch) {
  std::vector<std::string> help;
  if (t.recompute != Recompute::kFull) help.push_back("enable full recompute");
  if (t.zero_stage < 3) help.push_back("use ZeRO-3");
  if (micro_batch > 1) help.push_back("use a smaller micro-batch");
  help.push_back(absl::StrCat("use >= ", pp + 1, " pipeline stages"));
  std::string out;
  for (size_t i = 0; i < help.size(); ++i) {
    if (i > 0) out += (i + 1 == help.size()) ? ", or " : ", ";
    out += help[i];
  }
  return out;
}

}  // namespace

absl::Status CostModel::Evaluate(Plan* plan) const {
  TANGRAM_RETURN_IF_ERROR(ValidatePlan(*plan, static_cast<int64_t>(slots_.size()), num_layers()));
  const int pp = plan->pp;
  const int dp = plan->dp;
  const int tp = plan->tp;
  // Interleaved 1F1B (a pinned layout's virtual_stages v > 1; Narayanan et al. SC'21 §2.2.2): each
  // rank runs v chunks of 1/v of its layers, so fill and drain shrink by v while every
  // micro-batch crosses v times as many stage boundaries.
  const int v = pp > 1 ? std::max(1, training_.layout.virtual_stages.value_or(1)) : 1;
  // ZeRO-3's parameter gather per stage (its data-parallel group), once forward, once backward.
  std::vector<double> gather(pp, 0);
  if (training_.zero_stage == 3 && dp > 1) {
    std::vector<int64_t> members(dp);
    for (int s = 0; s < pp; ++s) {
      for (int r = 0; r < dp; ++r) members[r] = plan->stages[s].cells[r].devices[0];
      gather[s] = ParameterGatherTime(SummarizeGroup(members), tp, plan->stages[s].layer_begin,
                                      plan->stages[s].layer_end);
    }
  }
  // Interleaved: the activations a rank holds at its peak depend on its chunks (chunks.h), the
  // same figure the simulator reaches; equal chunks when the stages cannot be split as pinned
  // (the simulator then refuses the plan and says why).
  std::vector<std::pair<int64_t, int64_t>> chunk_ranges;
  if (v > 1) {
    auto ranges = ChunkRanges(*plan, v, training_.layout.chunk_split);
    if (ranges.ok()) chunk_ranges = *std::move(ranges);
  }
  std::vector<double> sum_c(dp, 0), max_c(dp, 0);
  std::vector<int> max_stage(dp, 0);
  double optimizer = 0;
  double worst_over = 0;
  std::string memory_error;
  for (int s = 0; s < pp; ++s) {
    PlanStage& stage = plan->stages[s];
    for (int r = 0; r < dp; ++r) {
      PlanCell& cell = stage.cells[r];
      const PlanReplica& rep = plan->replicas[r];
      const int64_t first = cell.devices[0];
      const int group = slots_[first].group;
      for (int64_t d : cell.devices) {
        if (slots_[d].node != slots_[first].node) {
          return absl::InvalidArgumentError(absl::StrCat(
              "stage ", s, " replica ", r, ": a tensor-parallel group must sit inside one node"));
        }
      }
      const double b = static_cast<double>(rep.micro_batch_size);
      const CellCost cc = Cell(group, tp, stage.layer_begin, stage.layer_end, b);
      cell.kind = fleet_.groups[group].device.kind;
      cell.forward_s = cc.forward_s + gather[s];
      cell.backward_s = cc.backward_s + gather[s];
      const double bytes = BoundaryBytes(tp, b);
      cell.send_s = 0;
      if (s + 1 < pp)
        cell.send_s += LinkTime(first, plan->stages[s + 1].cells[r].devices[0], bytes);
      if (s > 0) cell.send_s += LinkTime(first, plan->stages[s - 1].cells[r].devices[0], bytes);
      std::vector<double> chunk_bytes(v, 1.0);
      for (int c = 0; c < v && !chunk_ranges.empty(); ++c) {
        const auto [lb, le] = chunk_ranges[c * pp + s];
        chunk_bytes[c] = StageMemory(tp, dp, lb, le, 1, b).activations -
                         StageMemory(tp, dp, lb, le, 0, b).activations;
      }
      const double in_flight = PeakInFlight(s, pp, rep.micro_batches, chunk_bytes);
      MemoryBreakdown m = StageMemory(tp, dp, stage.layer_begin, stage.layer_end, in_flight, b);
      cell.memory_gib = m.total() / kGiB;
      cell.capacity_gib = CapacityBytes(group) / kGiB;
      const double over = m.total() - UsableBytes(group);
      if (over > worst_over) {
        worst_over = over;
        memory_error = absl::StrFormat(
            "stage %d (layers %d-%d) needs %.1f GiB per device on %s (%.1f GiB, %.1f reserved): "
            "%.1f GiB too much; %s",
            s, stage.layer_begin, stage.layer_end - 1, cell.memory_gib, cell.kind,
            cell.capacity_gib, options_.reserved_gib, over / kGiB,
            MemoryAdvice(training_, pp, rep.micro_batch_size));
      }
      optimizer = std::max(optimizer, OptimizerTime(group, m));
      const double c = cell.forward_s + cell.backward_s + v * cell.send_s;
      sum_c[r] += c;
      if (c > max_c[r]) {
        max_c[r] = c;
        max_stage[r] = s;
      }
    }
  }
  if (!memory_error.empty()) return absl::FailedPreconditionError(memory_error);

  // 1F1B per replica; the slowest replica sets the pace.
  double pipeline = 0;
  int slowest = 0;
  for (int r = 0; r < dp; ++r) {
    PlanReplica& rep = plan->replicas[r];
    double m = std::max(1.0, static_cast<double>(rep.samples) / rep.micro_batch_size);
    // Σ c/v + (m·v − 1)·max c/v: for equal stages (m + (p − 1)/v)·c; v = 1 is plain 1F1B.
    rep.pipeline_s = (sum_c[r] + (m * v - 1) * max_c[r]) / v;
    if (rep.pipeline_s > pipeline) {
      pipeline = rep.pipeline_s;
      slowest = r;
    }
  }
  // Data-parallel allreduce per stage, hidden behind the last micro-batch's backward pass (when
  // the job overlaps it).
  double exposed = 0;
  int exposed_stage = 0;
  std::vector<int64_t> members(dp);
  for (int s = 0; s < pp; ++s) {
    PlanStage& stage = plan->stages[s];
    double window = std::numeric_limits<double>::infinity();
    for (int r = 0; r < dp; ++r) {
      members[r] = stage.cells[r].devices[0];
      window = std::min(window, stage.cells[r].backward_s / v);  // the last chunk's backward
    }
    stage.allreduce_s = GradientAllreduceTime(
        SummarizeGroup(members), GradientAllreduceBytes(tp, stage.layer_begin, stage.layer_end),
        &stage.allreduce_algorithm);
    if (!training_.overlap_grad_reduce) window = 0;  // the reduction starts after the backward
    double e = std::max(0.0, stage.allreduce_s - window);
    if (e > exposed) {
      exposed = e;
      exposed_stage = s;
    }
  }

  Prediction& p = plan->predicted;
  p = Prediction{};
  p.pipeline_s = pipeline;
  p.bubble_s = (sum_c[slowest] - max_c[slowest]) / v;
  p.exposed_allreduce_s = exposed;
  p.optimizer_s = optimizer;
  p.step_time_s = pipeline + exposed + optimizer;
  const double flops = ModelFlopsPerStep();
  p.tokens_per_s = static_cast<double>(plan->global_batch * model_.seq_len) / p.step_time_s;
  // MFU, one definition for plan and simulate (docs/partitioner.md): model FLOPs per second ÷ the
  // summed catalog peak of the devices the plan uses; devices it leaves idle (unused_devices)
  // are listed, not counted.
  double used_peak = 0;
  for (const PlanStage& st : plan->stages) {
    for (const PlanCell& c : st.cells) {
      for (int64_t d : c.devices)
        used_peak += fleet_.groups[slots_[d].group].device.peak_tflops_bf16;
    }
  }
  p.mfu = flops / p.step_time_s / (used_peak * 1e12);
  p.tflops_per_device = flops / p.step_time_s / 1e12 / (static_cast<double>(dp) * pp * tp);
  const PlanCell& hot = plan->stages[max_stage[slowest]].cells[slowest];
  if (exposed > 0.15 * p.step_time_s) {
    p.bottleneck = absl::StrFormat(
        "data-parallel allreduce of stage %d (%.3f s exposed, %s)", exposed_stage, exposed,
        AllreduceAlgorithmName(plan->stages[exposed_stage].allreduce_algorithm));
  } else if (p.bubble_s > 0.15 * p.step_time_s) {
    p.bottleneck = absl::StrFormat("pipeline bubble (%.0f%% of the step, %d stages)",
                                   100 * p.bubble_s / p.step_time_s, pp);
  } else if (hot.send_s > 0.3 * (hot.forward_s + hot.backward_s)) {
    p.bottleneck = absl::StrFormat("pipeline p2p at stage %d (%s)", max_stage[slowest], hot.kind);
  } else {
    p.bottleneck = absl::StrFormat("compute: stage %d of replica %d (%s), %.3f s per micro-batch",
                                   max_stage[slowest], slowest, hot.kind,
                                   hot.forward_s + hot.backward_s + hot.send_s);
  }
  plan->bound_step_time_s = BoundStepTime();
  plan->efficiency = plan->bound_step_time_s / p.step_time_s;
  return absl::OkStatus();
}

}  // namespace tangram::partitioner
