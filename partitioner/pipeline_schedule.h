// Pipeline schedules: the order in which one pipeline rank runs its forward and backward passes,
// and how long a replica's pipeline takes when its passes run in that order.
//
// One class per PipelineSchedule (kinds.h, which owns the names):
//
//   "1f1b"         PipeDream-Flush / Megatron-LM's default: p − s − 1 warm-up forwards at rank s,
//                  then one forward, one backward, until the cool-down backwards. Keeps at most
//                  p − s micro-batches of activations.
//   "gpipe"        all forwards, then all backwards (Huang et al. 2019); keeps all m.
//   "interleaved"  Megatron-LM's interleaved 1F1B (Narayanan et al. SC'21 §2.2): each rank holds
//                  v model chunks; virtual stage k = chunk·p + rank; micro-batches go in groups of
//                  p through chunk 0, then chunk 1, …; the bubble shrinks by v.
//
// The cost model replays an order with each pass's time (ReplaySchedule); the simulator runs it
// event by event with links, buckets and contention. Stateless; thread-safe.
#ifndef TANGRAM_PARTITIONER_PIPELINE_SCHEDULE_H_
#define TANGRAM_PARTITIONER_PIPELINE_SCHEDULE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/kinds.h"

namespace tangram::partitioner {

struct PipelineOp {
  int32_t micro_batch = 0;
  int16_t chunk = 0;  // model chunk on this rank (0 unless interleaved)
  bool backward = false;
};

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual PipelineSchedule kind() const = 0;
  std::string_view name() const { return ScheduleName(kind()); }
  // Whether the schedule runs v > 1 model chunks per rank.
  virtual bool interleaved() const { return false; }
  // Appends to `out` the 2·m·v ops of rank `rank` of `ranks`, with `micro_batches` micro-batches
  // and `chunks` model chunks per rank. Every (chunk, micro-batch) appears once forward, once
  // backward, the backward after the forward.
  virtual void Order(int rank, int ranks, int micro_batches, int chunks,
                     std::vector<PipelineOp>* out) const = 0;
};

// The schedule of kind `kind`.
std::unique_ptr<Schedule> CreateSchedule(PipelineSchedule kind);
// The schedule called `name` (ScheduleNames(): "1f1b" | "gpipe" | "interleaved"), or
// ParseSchedule's kInvalidArgument naming the known ones.
absl::StatusOr<std::unique_ptr<Schedule>> CreateSchedule(std::string_view name);

// One replica's passes per virtual stage (p · chunks entries, k = chunk · p + rank), per
// micro-batch: each pass's compute and the transfer after it (the activation to virtual stage
// k + 1 after a forward, the gradient to k − 1 after a backward; 0 where there is none).
struct PipelinePasses {
  std::vector<double> forward, backward;
  std::vector<double> to_next, to_previous;
  // Sends beside the next pass (asynchronous p2p): a rank is held for the longer of a pass's
  // compute and its transfer, and its peer gets the data a transfer after the compute. Otherwise
  // the send holds the rank: its peer gets the data when the rank is free.
  bool overlapped = false;
};

// When the last pass of one replica's step ends, each rank running its passes in `schedule`'s
// order as soon as their inputs are there: a forward after the previous virtual stage's forward of
// its micro-batch has arrived, a backward after the next virtual stage's backward has (the last
// virtual stage's after its own forward). The last micro-batch takes `last_fraction` of every
// time (a share that is not a whole number of micro-batches). Unlike the closed form
// Σ c + (m − 1)·max c, it lets a slow early stage fill the downstream round trip with its own
// warm-up forwards, and it sees the waits of a fast stage between slow ones (docs/partitioner.md,
// "Step time"). kInternalError if the order deadlocks (a schedule bug).
absl::StatusOr<double> ReplaySchedule(const Schedule& schedule, const PipelinePasses& passes,
                                      int micro_batches, double last_fraction, int chunks);

// The closed form (Σ c + (m·v − 1)·max c) / v over the ranks' c per micro-batch (all their chunks'
// compute, plus their transfers, or the larger of the two when overlapped; `micro_batches` =
// m − 1 + last_fraction): for equal stages (m + (p − 1)/v)·c, as the replay; above it when the
// slowest stage comes early. The grid search scores with it (it inverts it to share samples);
// Evaluate replays.
double ClosedFormSeconds(const PipelinePasses& passes, double micro_batches, int chunks);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_PIPELINE_SCHEDULE_H_
