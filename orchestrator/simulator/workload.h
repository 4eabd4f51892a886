// From a Plan and the cost model to the engine's Workload (engine.h): per-cell op orders from the
// schedule, per-op times, link figures and gradient buckets — every number from the cost model.
// Internal to the simulator. Thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_WORKLOAD_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_WORKLOAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "orchestrator/simulator/engine.h"
#include "orchestrator/simulator/simulator.h"

namespace tangram::simulator::internal {

// Layer ranges [begin, end) of the `chunks` model chunks of each plan stage, in virtual-stage
// order (k = chunk × pp + stage): stage s keeps its plan's layer count, its decoder layers split
// evenly over its chunks (the embedding with the first chunk, the head with the last), and the
// model's layers are laid along the virtual stages in order (Megatron-LM's interleaving when the
// plan's stages are even). chunks = 1 gives the plan's own ranges. kInvalidArgument when a stage
// has fewer decoder layers than chunks.
absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> ChunkRanges(const partitioner::Plan& plan,
                                                                     int chunks);

// Allreduce time of `bytes` over `group` by the named algorithm: "auto" (CostModel::
// AllreduceTime's pick), "ring" or "hierarchical" (the cost model's two formulas, forced).
double AllreduceSeconds(const partitioner::CostModel& cost,
                        const partitioner::AllreduceGroup& group, double bytes,
                        const std::string& algorithm, std::string* chosen);

// Builds the workload and labels result->cells (stage, replica, kind, devices, slowdown,
// capacity). kInvalidArgument for a bad plan or options.
absl::StatusOr<Workload> BuildWorkload(const partitioner::CostModel& cost,
                                       const partitioner::Plan& plan, const SimOptions& options,
                                       StepResult* result);

}  // namespace tangram::simulator::internal

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_WORKLOAD_H_
