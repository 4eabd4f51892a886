#include "orchestrator/simulator/simulator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "orchestrator/simulator/cpu_pool.h"
#include "orchestrator/simulator/engine.h"
#include "orchestrator/simulator/workload.h"

namespace tangram::simulator {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// Step-level figures from the per-cell times the engine filled.
void Summarize(const partitioner::CostModel& cost, const partitioner::Plan& plan, StepResult* res) {
  const double step = res->step_time_s;
  const double flops = cost.ModelFlopsPerStep() * static_cast<double>(plan.global_batch) /
                       static_cast<double>(cost.training().global_batch);
  double peak_tflops = 0;
  int64_t devices = 0;
  for (const CellResult& c : res->cells) {
    for (int64_t d : c.devices) {
      peak_tflops += cost.fleet().groups[cost.slots()[d].group].device.peak_tflops_bf16;
      ++devices;
    }
  }
  res->tokens_per_s = static_cast<double>(plan.global_batch * cost.model().seq_len) / step;
  res->mfu = flops / step / (peak_tflops * 1e12);
  res->tflops_per_device = flops / step / 1e12 / static_cast<double>(devices);

  std::vector<double> replica_end(plan.dp, 0);
  for (const CellResult& c : res->cells) {
    replica_end[c.replica] = std::max(replica_end[c.replica], c.pipeline_end_s);
  }
  double bubble = 0, busy = 0, pipeline_end = 0, allreduce_end = 0;
  for (CellResult& c : res->cells) {
    const double p = replica_end[c.replica];
    bubble += p > 0 ? std::max(0.0, p - c.compute_s - c.send_s) / p : 0;
    c.busy_fraction = c.compute_s / step;
    busy += c.busy_fraction;
    res->exposed_p2p_s = std::max(res->exposed_p2p_s, c.send_s);
    pipeline_end = std::max(pipeline_end, c.pipeline_end_s);
    allreduce_end = std::max(allreduce_end, c.pipeline_end_s + c.allreduce_wait_s);
    res->optimizer_s = std::max(res->optimizer_s, c.optimizer_s);

    const partitioner::PlanStage& st = plan.stages[c.stage];
    const int group = cost.slots()[c.devices[0]].group;
    const double b = static_cast<double>(plan.replicas[c.replica].micro_batch_size);
    const double total = cost.StageMemory(partitioner::StageTp(plan, c.stage), plan.dp,
                                          st.layer_begin, st.layer_end, c.peak_in_flight, b)
                             .total();
    c.peak_memory_gib = total / kGiB;
    res->peak_memory_fraction =
        std::max(res->peak_memory_fraction, c.peak_memory_gib / c.capacity_gib);
    if (total > cost.UsableBytes(group)) res->fits_memory = false;
  }
  const double n = static_cast<double>(res->cells.size());
  res->bubble_fraction = bubble / n;
  res->busy_fraction = busy / n;
  // What the reductions add to the step past the last pipeline op anywhere: a fast replica's
  // wait for a slow one's gradients is that replica's idle time, not exposed communication
  // (counted as such, a mixed fleet looked communication-bound).
  res->exposed_allreduce_s = std::max(0.0, allreduce_end - pipeline_end);
  res->exposed_comm_s = res->exposed_p2p_s + res->exposed_allreduce_s;
}

}  // namespace

const char* SpanKindName(SpanKind kind) {
  switch (kind) {
    case SpanKind::kForward:
      return "forward";
    case SpanKind::kBackward:
      return "backward";
    case SpanKind::kSend:
      return "send";
    case SpanKind::kAllreduce:
      return "allreduce";
    case SpanKind::kOptimizer:
      return "optimizer";
  }
  return "?";
}

SimOptions OptionsForPlan(SimOptions options, const partitioner::Plan& plan) {
  if (options.schedule == partitioner::PipelineSchedule::kInterleaved && plan.pp < 2) {
    options.schedule = partitioner::PipelineSchedule::kOneFOneB;
    options.virtual_stages = 1;
  }
  return options;
}

absl::StatusOr<StepResult> Simulate(const partitioner::CostModel& cost,
                                    const partitioner::Plan& plan, const SimOptions& options) {
  if (!partitioner::IsAllreduceRequest(options.allreduce)) {
    return absl::InvalidArgumentError(
        absl::StrCat("allreduce: \"", partitioner::AllreduceAlgorithmName(options.allreduce),
                     "\" is an outcome, not a choice (auto | ring | hierarchical)"));
  }
  StepResult res;
  TANGRAM_ASSIGN_OR_RETURN(internal::Workload work,
                           internal::BuildWorkload(cost, plan, options, &res));
  // The job's stack switch (pipeline_p2p: overlapped) or the caller's: the CPU runtime's sends do
  // not block (SimOptions::async_p2p), and that runtime is what runs then.
  work.async_p2p =
      options.async_p2p || cost.training().pipeline_p2p == partitioner::PipelineP2p::kOverlapped;
  if (work.async_p2p) work.rendezvous_p2p = false;
  if (work.rendezvous_p2p && work.chunks > 1) {
    return absl::InvalidArgumentError(
        "pipeline_p2p: rendezvous (DeepSpeed's pipeline engine) has no interleaved schedule; "
        "simulate with one virtual stage");
  }
  internal::AttachCpuPools(cost.fleet(), plan, res.cells, &work);
  TANGRAM_RETURN_IF_ERROR(
      internal::RunStep(work, options.contention, options.record_timeline, &res));
  Summarize(cost, plan, &res);
  return res;
}

}  // namespace tangram::simulator
