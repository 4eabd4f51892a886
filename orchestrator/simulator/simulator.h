// The fleet simulator: plays one training step of a Plan out event by event.
//
// The cost model (partitioner/cost_model.h) says what a plan *should* take in closed form; the
// simulator runs the step — every forward and backward of every micro-batch on every pipeline
// cell in the order of a pipeline schedule (schedule.h: 1F1B, GPipe, interleaved 1F1B), the
// activation and gradient transfers between stages on the fleet's links, the data-parallel
// gradient allreduce in buckets behind the last backward pass, and the optimizer step — and
// reports what it *does* take, with the waiting and contention a formula misses.
//
// Numbers come from the cost model and nothing else: per-micro-batch compute (ForwardTime,
// BackwardTime, TpCommTime), α-β link times (LinkTime), the allreduce (AllreduceTime), memory
// (StageMemory) and the optimizer (OptimizerTime). With contention off (or absent) the two agree
// on homogeneous plans to within a few percent (tests/simulator/agreement_test.cc).
//
// Contention. Every cell (a tensor-parallel group; all its devices move in lockstep) has an
// egress and an ingress port on its node's fast link and on the network. A transfer uses the
// sender's egress and the receiver's ingress; a bucket allreduce uses both ports of every member.
// Transfers sharing a port share its bandwidth (fluid max-share: a flow runs at 1/n of its
// full-rate speed, n the busiest of its ports) — so a gradient bucket and a pipeline send on the
// same NIC each run at half speed.
//
// Pipeline sends are synchronous, as in Megatron-LM's default 1F1B: a stage's compute waits for
// its own send to finish (that is also what the cost model assumes), unless the job overlaps them
// (TrainingSpec::pipeline_p2p overlapped) or SimOptions::async_p2p says so. A receiver always
// waits for its data; with pipeline_p2p rendezvous (DeepSpeed) it is also held by the transfer.
//
// Thread-safety: Simulate is a pure function of its arguments; concurrent calls are safe.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_SIMULATOR_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_SIMULATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/cost_model.h"
#include "partitioner/plan.h"

namespace tangram::simulator {

struct SimOptions {
  partitioner::PipelineSchedule schedule = partitioner::PipelineSchedule::kOneFOneB;
  int virtual_stages = 1;  // model chunks per pipeline rank; > 1 only with kInterleaved
  // kAuto (the cost model's pick) | kRing | kHierarchical (the outcomes kNone, kIntraNode are
  // kInvalidArgument here).
  partitioner::AllreduceAlgorithm allreduce = partitioner::AllreduceAlgorithm::kAuto;
  double bucket_mib = 25;  // gradient bucket size (PyTorch DDP's default)
  int max_buckets = 64;    // per stage and chunk; larger stages get larger buckets
  bool contention = true;  // false: every transfer runs at its link's full bandwidth
  // Pipeline sends are synchronous (Megatron-LM's 1F1B: the sender waits for its send); true
  // makes them non-blocking, as the CPU runtime's (it waits for them at the end of the step). A
  // job with pipeline_p2p: overlapped gets non-blocking sends whatever this says.
  bool async_p2p = false;
  bool record_timeline = false;  // keep every span (for trace.h and svg.h)
  // Compute slowdown per fleet device (1 = nominal, 2 = twice as slow); empty = all 1. A cell
  // runs at the pace of its slowest member; only compute stretches, not communication.
  std::vector<double> device_slowdown;
};

// One interval of the timeline of a cell (all of its devices show the same).
enum class SpanKind : uint8_t { kForward, kBackward, kSend, kAllreduce, kOptimizer };
const char* SpanKindName(SpanKind kind);

struct Span {
  int32_t cell = 0;  // index into StepResult::cells
  SpanKind kind = SpanKind::kForward;
  int16_t chunk = 0;        // virtual stage chunk (interleaved), else 0
  int32_t micro_batch = 0;  // or the bucket index for kAllreduce
  double start_s = 0;
  double end_s = 0;
  double tp_comm_s = 0;  // of a forward/backward: the tensor-parallel collectives inside it
};

// One pipeline cell of the plan: stage `stage` of replica `replica`, tp devices.
struct CellResult {
  int stage = 0;
  int replica = 0;
  std::string kind;              // device kind
  std::vector<int64_t> devices;  // fleet device indices
  double slowdown = 1;           // applied compute slowdown
  double compute_s = 0;          // forward + backward (incl. recompute and tp collectives)
  double tp_comm_s = 0;          // of which tensor-parallel collectives
  double send_s = 0;             // compute stream blocked in pipeline sends (0 when they overlap)
  double pipeline_end_s = 0;     // last forward/backward/send finished
  double allreduce_wait_s = 0;   // from pipeline_end_s until its stage's allreduce finished
  double optimizer_s = 0;
  double end_s = 0;            // optimizer finished
  double peak_in_flight = 0;   // micro-batches of activations held at once (max)
  double peak_memory_gib = 0;  // per device, cost-model breakdown with peak_in_flight
  double capacity_gib = 0;
  double busy_fraction = 0;  // compute_s ÷ step time
};

struct StepResult {
  double step_time_s = 0;
  double tokens_per_s = 0;
  double mfu = 0;                   // model FLOPs/s ÷ summed catalog peak of the devices used
  double tflops_per_device = 0;     // model TFLOP/s per device used
  double pipeline_s = 0;            // last pipeline op anywhere
  double bubble_fraction = 0;       // mean over cells of idle ÷ its replica's pipeline time
  double busy_fraction = 0;         // mean over cells of compute ÷ step time
  double exposed_p2p_s = 0;         // max over cells of time blocked in pipeline sends
  double exposed_allreduce_s = 0;   // last allreduce end − last pipeline op end (≥ 0): what the
                                    // reductions add to the step (cells' waits for slower
                                    // replicas are in allreduce_wait_s, not here)
  double exposed_comm_s = 0;        // the two above, summed
  double optimizer_s = 0;           // slowest optimizer step
  double peak_memory_fraction = 0;  // max over cells of peak memory ÷ capacity
  bool fits_memory = true;
  // Of the largest stage: kNone, kIntraNode, kRing or kHierarchical.
  partitioner::AllreduceAlgorithm allreduce_algorithm = partitioner::AllreduceAlgorithm::kNone;
  int64_t events = 0;             // events processed (for benchmarks)
  std::vector<CellResult> cells;  // stage-major: cell = stage × dp + replica
  std::vector<Span> timeline;     // when SimOptions::record_timeline
};

// `options` as `plan` runs them: the interleaved schedule on a plan without a pipeline (pp 1, as
// a strategy may choose for a job that pins virtual_stages but not pp) is plain 1F1B with one
// chunk, as the cost model costs it (partitioner::VirtualStagesOf). Simulate itself refuses that
// combination; SimulateRun and `compare` pass their options through this first.
SimOptions OptionsForPlan(SimOptions options, const partitioner::Plan& plan);

// Simulates one step of `plan` (which must validate against the cost model's fleet and layer
// list). kInvalidArgument for a bad plan, schedule name or virtual_stages; kFailedPrecondition
// when the schedule cannot run the plan (interleaved with one stage).
absl::StatusOr<StepResult> Simulate(const partitioner::CostModel& cost,
                                    const partitioner::Plan& plan, const SimOptions& options);

}  // namespace tangram::simulator

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_SIMULATOR_H_
