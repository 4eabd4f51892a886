// Pipeline schedules: the order in which one pipeline rank runs its forward and backward passes.
//
// One class per partitioner::PipelineSchedule (partitioner/kinds.h, which owns the names):
//
//   "1f1b"         PipeDream-Flush / Megatron-LM's default: p − s − 1 warm-up forwards at rank s,
//                  then one forward, one backward, until the cool-down backwards. Keeps at most
//                  p − s micro-batches of activations.
//   "gpipe"        all forwards, then all backwards (Huang et al. 2019); keeps all m.
//   "interleaved"  Megatron-LM's interleaved 1F1B (Narayanan et al. SC'21 §2.2): each rank holds
//                  v model chunks; virtual stage k = chunk·p + rank; micro-batches go in groups of
//                  p through chunk 0, then chunk 1, …; the bubble shrinks by v.
//
// A schedule only orders; the simulator supplies the dependencies (a forward waits for its input
// activation, a backward for its output gradient). Stateless; thread-safe.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_SCHEDULE_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_SCHEDULE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/kinds.h"

namespace tangram::simulator {

struct PipelineOp {
  int32_t micro_batch = 0;
  int16_t chunk = 0;  // model chunk on this rank (0 unless interleaved)
  bool backward = false;
};

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual partitioner::PipelineSchedule kind() const = 0;
  std::string_view name() const { return partitioner::ScheduleName(kind()); }
  // Whether the schedule runs v > 1 model chunks per rank.
  virtual bool interleaved() const { return false; }
  // Appends to `out` the 2·m·v ops of rank `rank` of `ranks`, with `micro_batches` micro-batches
  // and `chunks` model chunks per rank. Every (chunk, micro-batch) appears once forward, once
  // backward, the backward after the forward.
  virtual void Order(int rank, int ranks, int micro_batches, int chunks,
                     std::vector<PipelineOp>* out) const = 0;
};

// The schedule of kind `kind`.
std::unique_ptr<Schedule> CreateSchedule(partitioner::PipelineSchedule kind);
// The schedule called `name` (ScheduleNames(): "1f1b" | "gpipe" | "interleaved"), or
// partitioner::ParseSchedule's kInvalidArgument naming the known ones.
absl::StatusOr<std::unique_ptr<Schedule>> CreateSchedule(std::string_view name);
using partitioner::ScheduleNames;

}  // namespace tangram::simulator

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_SCHEDULE_H_
