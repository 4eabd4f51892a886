// CostModel::Evaluate: a whole plan's step time, memory and bottleneck from the per-stage pieces.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "partitioner/chunks.h"
#include "partitioner/cost_model.h"
#include "partitioner/pipeline_schedule.h"

namespace tangram::partitioner {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// "K's 0.001 GiB of memory is not above the 1 GiB reserved per device ...; " for each kind of the
// fleet whose memory does not exceed the per-device reserve, else "".
std::string KindsWithoutRoom(const CostModel& cost) {
  const double reserved = cost.options().reserved_gib;
  std::set<std::string> named;
  std::string out;
  for (const NodeGroup& g : cost.fleet().groups) {
    if (g.device.memory_gib > reserved || !named.insert(g.device.kind).second) continue;
    absl::StrAppend(&out, absl::StrFormat("%s's %.3g GiB of memory is not above the %.3g GiB "
                                          "reserved per device, so it holds no stage (check the "
                                          "catalog's memory_gib); ",
                                          g.device.kind, g.device.memory_gib, reserved));
  }
  return out;
}

}  // namespace

std::string FleetMemoryShortfall(const CostModel& cost) {
  const TrainingSpec& t = cost.training();
  const bool fp32 = t.precision == Precision::kFp32;
  const double state = static_cast<double>(cost.model().TotalParameters()) *
                       (2 * (fp32 ? 4 : 2) + OptimizerStateBytesPerParameter(t.precision));
  // A kind whose memory is not above the reserve holds nothing (a catalog entry of 0.001 GiB made
  // the fleet's usable memory "-16 GiB"): counted as 0, and named before the advice.
  double usable = 0;
  for (const auto& slot : cost.slots()) usable += std::max(0.0, cost.UsableBytes(slot.group));
  if (state <= usable) return "";
  return KindsWithoutRoom(cost) +
         absl::StrFormat(
             "the weights, gradients and optimizer state alone (%.0f GiB) exceed the "
             "usable memory of every device of the fleet together (%.0f GiB): use a "
             "larger fleet or a smaller model",
             state / kGiB, usable / kGiB);
}

namespace {

// What would make a stage fit, among what the job does not already use and the fleet allows:
// full recompute; ZeRO-3 (only with replicas to shard over); a smaller micro-batch; more pipeline
// stages (while the devices and the layers allow one more; a pinned pp is named). When the
// weights, gradients and optimizer state alone exceed the whole fleet's usable memory, that is
// said first: no layout of this fleet can fit.
std::string MemoryAdvice(const CostModel& cost, const Plan& plan, int64_t micro_batch) {
  const TrainingSpec& t = cost.training();
  std::vector<std::string> help;
  if (std::string shortfall = FleetMemoryShortfall(cost); !shortfall.empty()) return shortfall;
  const std::string empty = KindsWithoutRoom(cost);
  if (t.recompute != Recompute::kFull) help.push_back("enable full recompute");
  if (t.zero_stage < 3 && plan.dp > 1) help.push_back("use ZeRO-3");
  if (micro_batch > 1) help.push_back("use a smaller micro-batch");
  const int64_t tp = std::max(1, plan.tp);
  const bool room =
      static_cast<int64_t>(plan.pp + 1) * tp <= static_cast<int64_t>(cost.slots().size()) &&
      plan.pp + 1 <= cost.num_layers();
  if (room) {
    help.push_back(t.layout.pp
                       ? absl::StrCat("pin >= ", plan.pp + 1, " pipeline stages (layout.pp)")
                       : absl::StrCat("use >= ", plan.pp + 1, " pipeline stages"));
  }
  if (help.empty()) return empty + "no setting of this job makes it fit: use a larger fleet";
  std::string out = empty;
  for (size_t i = 0; i < help.size(); ++i) {
    if (i > 0) out += (i + 1 == help.size()) ? ", or " : ", ";
    out += help[i];
  }
  return out;
}

// ZeRO-3's parameter gather per stage (over its data-parallel group), once forward, once
// backward per micro-batch; zeros otherwise.
std::vector<double> StageGathers(const CostModel& cost, const Plan& plan) {
  const int pp = plan.pp, dp = plan.dp;
  std::vector<double> gather(pp, 0);
  if (cost.training().zero_stage != 3 || dp <= 1) return gather;
  std::vector<int64_t> members(dp);
  for (int s = 0; s < pp; ++s) {
    for (int r = 0; r < dp; ++r) members[r] = plan.stages[s].cells[r].devices[0];
    gather[s] = cost.ParameterGatherTime(cost.SummarizeGroup(members), StageTp(plan, s),
                                         plan.stages[s].layer_begin, plan.stages[s].layer_end);
  }
  return gather;
}

// One micro-batch's pipeline p2p at stage s of replica r, over all its v chunks: its sends
// (activations to the next virtual stage, gradients to the previous); with rendezvous p2p
// (DeepSpeed's pipeline engine, which holds the receiver too) its receives from both neighbours as
// well. Chunk c of stage s is virtual stage c·pp + s (Narayanan et al. SC'21 §2.2.2), so every
// chunk but the model's last sends forward to stage (s + 1) mod pp and every chunk but the first
// sends backward to (s − 1) mod pp: with v > 1 the last stage also sends v − 1 activations to the
// first (the wrap-around from chunk c to chunk c + 1) and the first v − 1 gradients to the last,
// on whatever link joins them. Between stages of different tp the busiest rank is on the smaller
// side (BoundaryBytes). `period`: the cell's forward + backward per micro-batch, over which a
// shaped link's token bucket refills between its `count` messages.
struct StageSends {
  double to_next = 0, to_previous = 0;  // one message's time each way (0: no such peer)
  double total = 0;                     // all the micro-batch's messages, over the chunks
};
StageSends StageP2p(const CostModel& cost, const Plan& plan, int s, int r, int tp, double b, int v,
                    double period) {
  const bool rendezvous = cost.training().pipeline_p2p == PipelineP2p::kRendezvous;
  const int pp = plan.pp;
  const int64_t self = plan.stages[s].cells[r].devices[0];
  StageSends out;
  for (int step : {1, -1}) {
    const int n = s + step;
    const bool wraps = n < 0 || n >= pp;
    const int count = wraps ? v - 1 : v;  // the model's first and last chunk have no such peer
    if (count <= 0 || pp <= 1) continue;
    const int peer_stage = (n + pp) % pp;
    const int64_t peer = plan.stages[peer_stage].cells[r].devices[0];
    const double bytes = cost.BoundaryBytes(std::min(tp, StageTp(plan, peer_stage)), b);
    double one = cost.LinkTime(self, peer, bytes, period / count);
    if (rendezvous) one += cost.LinkTime(peer, self, bytes, period / count);
    (step > 0 ? out.to_next : out.to_previous) = one;
    out.total += count * one;
  }
  return out;
}

// What the cells of a plan add up to: per replica the max over its stages of one micro-batch's
// cell time (and the stage of the max) and its passes (what ReplaySchedule takes), the slowest
// optimizer step, and the worst memory overflow's message (empty when everything fits).
struct CellTotals {
  std::vector<double> max_c;
  std::vector<int> max_stage;
  std::vector<PipelinePasses> passes;
  double optimizer = 0;
  std::string memory_error;
};

// One micro-batch's time on a cell's path: its compute plus its pipeline sends (all chunks'), or
// with pipeline_p2p: overlapped the larger of the two (the sends run beside the next
// micro-batch's compute).
double CellPathTime(const CostModel& cost, const PlanCell& cell) {
  const double compute = cell.forward_s + cell.backward_s;
  return cost.training().pipeline_p2p == PipelineP2p::kOverlapped ? std::max(compute, cell.send_s)
                                                                  : compute + cell.send_s;
}

// A cell's passes at their virtual stages (k = chunk · pp + s) of `passes`: each chunk's compute
// over its own layers (`chunk_ranges`; equal chunks when empty), as the simulator runs them, and
// the message each chunk sends after its forward and after its backward (none past the model's
// ends).
void AddPasses(const CostModel& cost, const PlanCell& cell, const StageSends& sends, int group,
               int tp, double gather, double b,
               const std::vector<std::pair<int64_t, int64_t>>& chunk_ranges, int s, int pp, int v,
               PipelinePasses* passes) {
  const int total = pp * v;
  for (int c = 0; c < v; ++c) {
    const int k = c * pp + s;
    double f = cell.forward_s / v, bw = cell.backward_s / v;
    if (v > 1 && !chunk_ranges.empty()) {
      const auto [lb, le] = chunk_ranges[k];
      const CostModel::CellCost cc = cost.Cell(group, tp, lb, le, b);
      f = cc.forward_s + gather / v;
      bw = cc.backward_s + gather / v;
    }
    passes->forward[k] = f;
    passes->backward[k] = bw;
    passes->to_next[k] = k + 1 < total ? sends.to_next : 0;
    passes->to_previous[k] = k > 0 ? sends.to_previous : 0;
  }
}

// Fills every cell's times, kind and memory. kInvalidArgument when a tensor-parallel group spans
// nodes.
absl::StatusOr<CellTotals> CostCells(const CostModel& cost, int v, Plan* plan) {
  const int pp = plan->pp, dp = plan->dp;
  const auto& slots = cost.slots();
  const std::vector<double> gather = StageGathers(cost, *plan);
  // Interleaved: the activations a rank holds at its peak depend on its chunks (chunks.h), the
  // same figure the simulator reaches; equal chunks when the stages cannot be split as pinned
  // (the simulator then refuses the plan and says why).
  std::vector<std::pair<int64_t, int64_t>> chunk_ranges;
  if (v > 1) {
    auto ranges = ChunkRanges(*plan, v, cost.training().layout.chunk_split);
    if (ranges.ok()) chunk_ranges = *std::move(ranges);
  }
  CellTotals out;
  out.max_c.assign(dp, 0);
  out.max_stage.assign(dp, 0);
  PipelinePasses empty;
  empty.overlapped = cost.training().pipeline_p2p == PipelineP2p::kOverlapped;
  for (auto* times : {&empty.forward, &empty.backward, &empty.to_next, &empty.to_previous})
    times->assign(static_cast<size_t>(pp) * v, 0);
  out.passes.assign(dp, empty);
  double worst_over = 0;
  for (int s = 0; s < pp; ++s) {
    PlanStage& stage = plan->stages[s];
    const int tp = StageTp(*plan, s);  // a pinned layout may give each stage its own
    for (int r = 0; r < dp; ++r) {
      PlanCell& cell = stage.cells[r];
      const PlanReplica& rep = plan->replicas[r];
      const int64_t first = cell.devices[0];
      const int group = slots[first].group;
      for (int64_t d : cell.devices) {
        if (slots[d].node != slots[first].node) {
          return absl::InvalidArgumentError(absl::StrCat(
              "stage ", s, " replica ", r, ": a tensor-parallel group must sit inside one node"));
        }
      }
      const double b = static_cast<double>(rep.micro_batch_size);
      const CostModel::CellCost cc = cost.Cell(group, tp, stage.layer_begin, stage.layer_end, b);
      cell.kind = cost.fleet().groups[group].device.kind;
      cell.forward_s = cc.forward_s + gather[s];
      cell.backward_s = cc.backward_s + gather[s];
      const StageSends sends =
          StageP2p(cost, *plan, s, r, tp, b, v, cell.forward_s + cell.backward_s);
      cell.send_s = sends.total;
      std::vector<double> chunk_bytes(v, 1.0);
      for (int c = 0; c < v && !chunk_ranges.empty(); ++c) {
        const auto [lb, le] = chunk_ranges[c * pp + s];
        chunk_bytes[c] = cost.StageMemory(tp, dp, lb, le, 1, b).activations -
                         cost.StageMemory(tp, dp, lb, le, 0, b).activations;
      }
      const double in_flight = PeakInFlight(s, pp, rep.micro_batches, chunk_bytes);
      MemoryBreakdown m =
          cost.StageMemory(tp, dp, stage.layer_begin, stage.layer_end, in_flight, b);
      cell.memory_gib = m.total() / kGiB;
      cell.capacity_gib = cost.CapacityBytes(group) / kGiB;
      const double over = m.total() - cost.UsableBytes(group);
      if (over > worst_over) {
        worst_over = over;
        out.memory_error = absl::StrFormat(
            "stage %d (layers %d-%d) needs %.1f GiB per device on %s (%.1f GiB, %.1f reserved): "
            "%.1f GiB too much; %s",
            s, stage.layer_begin, stage.layer_end - 1, cell.memory_gib, cell.kind,
            cell.capacity_gib, cost.options().reserved_gib, over / kGiB,
            MemoryAdvice(cost, *plan, rep.micro_batch_size));
      }
      out.optimizer = std::max(out.optimizer, cost.OptimizerTime(group, m));
      const double c = CellPathTime(cost, cell);
      AddPasses(cost, cell, sends, group, tp, gather[s], b, chunk_ranges, s, pp, v, &out.passes[r]);
      if (c > out.max_c[r]) {
        out.max_c[r] = c;
        out.max_stage[r] = s;
      }
    }
  }
  return out;
}

bool SamePasses(const PipelinePasses& a, const PipelinePasses& b) {
  return a.forward == b.forward && a.backward == b.backward && a.to_next == b.to_next &&
         a.to_previous == b.to_previous;
}

// Above this many passes (micro-batches × virtual stages) a replica's pipeline is costed by the
// closed form rather than replayed: the replay keeps a table of that size, and with that many
// micro-batches the fill and drain the two differ on are a vanishing share of the step.
constexpr double kMostReplayedPasses = 1 << 22;

// Each replica's pipeline time (its passes replayed in the schedule's order) into its
// pipeline_s; the slowest replica's, its index, and what its slowest stage waits (the bubble:
// the step less that stage's own m micro-batches).
absl::Status ReplicaPipelines(const CellTotals& totals, int v, Plan* plan, double* pipeline,
                              double* bubble, int* slowest) {
  const std::unique_ptr<Schedule> schedule =
      CreateSchedule(v > 1 ? PipelineSchedule::kInterleaved : PipelineSchedule::kOneFOneB);
  const size_t stages = totals.passes.empty() ? 0 : totals.passes[0].forward.size();
  for (size_t r = 0; r < plan->replicas.size(); ++r) {
    PlanReplica& rep = plan->replicas[r];
    const int64_t mb = rep.micro_batch_size;
    const int64_t m = std::max<int64_t>(1, (rep.samples + mb - 1) / mb);
    const double last = std::clamp(static_cast<double>(rep.samples - (m - 1) * mb) / mb, 0.0, 1.0);
    const double micro_batches = static_cast<double>(m - 1) + last;
    const PipelinePasses& passes = totals.passes[r];
    const bool same_as_previous = r > 0 && SamePasses(passes, totals.passes[r - 1]) &&
                                  rep.samples == plan->replicas[r - 1].samples &&
                                  mb == plan->replicas[r - 1].micro_batch_size;
    if (same_as_previous) {
      rep.pipeline_s = plan->replicas[r - 1].pipeline_s;
    } else if (static_cast<double>(m) * static_cast<double>(stages) > kMostReplayedPasses) {
      // So many micro-batches that the fill and drain are a vanishing part of the step: the
      // closed form, without the replay's m × stages table.
      rep.pipeline_s = ClosedFormSeconds(passes, micro_batches, v);
    } else {
      TANGRAM_ASSIGN_OR_RETURN(rep.pipeline_s,
                               ReplaySchedule(*schedule, passes, static_cast<int>(m), last, v));
    }
    if (rep.pipeline_s > *pipeline) {
      *pipeline = rep.pipeline_s;
      *slowest = static_cast<int>(r);
      *bubble = std::max(0.0, rep.pipeline_s - micro_batches * totals.max_c[r]);
    }
  }
  return absl::OkStatus();
}

// The data-parallel communication a step waits for.
struct ExposedReduction {
  double exposed = 0;     // the largest gradient reduction left exposed over the stages
  int stage = 0;          // and its stage
  double after_step = 0;  // the longest parameter allgather after the optimizer step (ZeRO-2)
};

// Per stage, the gradient reduction exposed after the window behind the last micro-batch's
// backward pass when the job overlaps it; fills each stage's allreduce_s and algorithm.
ExposedReduction ExposedAllreduce(const CostModel& cost, int v, Plan* plan) {
  ExposedReduction out;
  std::vector<int64_t> members(plan->dp);
  for (int s = 0; s < plan->pp; ++s) {
    PlanStage& stage = plan->stages[s];
    double window = std::numeric_limits<double>::infinity();
    for (int r = 0; r < plan->dp; ++r) {
      members[r] = stage.cells[r].devices[0];
      window = std::min(window, stage.cells[r].backward_s / v);  // the last chunk's backward
    }
    const AllreduceGroup group = cost.SummarizeGroup(members);
    const int tp = StageTp(*plan, s);
    stage.allreduce_s = cost.GradientAllreduceTime(
        group, cost.GradientAllreduceBytes(tp, stage.layer_begin, stage.layer_end),
        &stage.allreduce_algorithm);
    out.after_step = std::max(out.after_step, cost.ParameterGatherAfterStepTime(
                                                  group, tp, stage.layer_begin, stage.layer_end));
    if (!cost.training().overlap_grad_reduce) window = 0;  // the reduction starts after backward
    double e = std::max(0.0, stage.allreduce_s - window);
    if (e > out.exposed) {
      out.exposed = e;
      out.stage = s;
    }
  }
  return out;
}

// The summed catalog peak (TFLOP/s) of the devices the plan uses.
double UsedPeakTflops(const CostModel& cost, const Plan& plan) {
  double used_peak = 0;
  for (const PlanStage& st : plan.stages) {
    for (const PlanCell& c : st.cells) {
      for (int64_t d : c.devices)
        used_peak += cost.fleet().groups[cost.slots()[d].group].device.peak_tflops_bf16;
    }
  }
  return used_peak;
}

// What limits the step, in words: an exposed allreduce, the bubble, p2p, or a stage's compute.
std::string Bottleneck(const Plan& plan, const CellTotals& totals, int slowest, int exposed_stage) {
  const Prediction& p = plan.predicted;
  const int hot_stage = totals.max_stage[slowest];
  const PlanCell& hot = plan.stages[hot_stage].cells[slowest];
  if (p.exposed_allreduce_s > 0.15 * p.step_time_s) {
    return absl::StrFormat("data-parallel allreduce of stage %d (%.3f s exposed, %s)",
                           exposed_stage, p.exposed_allreduce_s,
                           AllreduceAlgorithmName(plan.stages[exposed_stage].allreduce_algorithm));
  }
  if (p.bubble_s > 0.15 * p.step_time_s) {
    return absl::StrFormat("pipeline bubble (%.0f%% of the step, %d stages)",
                           100 * p.bubble_s / p.step_time_s, plan.pp);
  }
  if (hot.send_s > 0.3 * (hot.forward_s + hot.backward_s)) {
    return absl::StrFormat("pipeline p2p at stage %d (%s)", hot_stage, hot.kind);
  }
  return absl::StrFormat("compute: stage %d of replica %d (%s), %.3f s per micro-batch", hot_stage,
                         slowest, hot.kind, hot.forward_s + hot.backward_s + hot.send_s);
}

}  // namespace

absl::Status CostModel::Evaluate(Plan* plan) const {
  TANGRAM_RETURN_IF_ERROR(ValidatePlan(*plan, static_cast<int64_t>(slots_.size()), num_layers()));
  const int pp = plan->pp;
  // Interleaved 1F1B (a pinned layout's virtual_stages v > 1; Narayanan et al. SC'21 §2.2.2): each
  // rank runs v chunks of 1/v of its layers, so fill and drain shrink by v while every
  // micro-batch crosses v times as many stage boundaries.
  const int v = VirtualStagesOf(training_.layout, pp);
  plan->virtual_stages = v;
  TANGRAM_ASSIGN_OR_RETURN(const CellTotals totals, CostCells(*this, v, plan));
  if (!totals.memory_error.empty()) {
    if (!options_.ignore_memory) return absl::FailedPreconditionError(totals.memory_error);
    const std::string note =
        absl::StrCat("EXCEEDS MEMORY (--ignore-memory, a what-if that cannot run as planned): ",
                     totals.memory_error);
    if (std::find(plan->notes.begin(), plan->notes.end(), note) == plan->notes.end())
      plan->notes.push_back(note);
  }

  double pipeline = 0, bubble = 0;
  int slowest = 0;
  TANGRAM_RETURN_IF_ERROR(ReplicaPipelines(totals, v, plan, &pipeline, &bubble, &slowest));
  const ExposedReduction reduction = ExposedAllreduce(*this, v, plan);
  const double exposed = reduction.exposed;
  // The optimizer step, then ZeRO-2's parameter allgather (unless it overlaps the next forward).
  const double optimizer = totals.optimizer + reduction.after_step;

  Prediction& p = plan->predicted;
  p = Prediction{};
  p.pipeline_s = pipeline;
  p.bubble_s = bubble;
  p.exposed_allreduce_s = exposed;
  p.optimizer_s = optimizer;
  p.step_time_s = pipeline + exposed + optimizer;
  const double flops = ModelFlopsPerStep();
  p.tokens_per_s = static_cast<double>(plan->global_batch * model_.seq_len) / p.step_time_s;
  // MFU, one definition for plan and simulate (docs/partitioner.md): model FLOPs per second ÷ the
  // summed catalog peak of the devices the plan uses; devices it leaves idle (unused_devices)
  // are listed, not counted.
  p.mfu = flops / p.step_time_s / (UsedPeakTflops(*this, *plan) * 1e12);
  p.tflops_per_device = flops / p.step_time_s / 1e12 / static_cast<double>(UsedDeviceCount(*plan));
  p.bottleneck = Bottleneck(*plan, totals, slowest, reduction.stage);
  plan->bound_step_time_s = BoundStepTime();
  plan->efficiency = plan->bound_step_time_s / p.step_time_s;
  return absl::OkStatus();
}

}  // namespace tangram::partitioner
