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

// Allreduce time of `bytes` over `group` by `algorithm`: kAuto (CostModel::AllreduceTime's pick),
// kRing or kHierarchical (the cost model's two formulas, forced); `chosen` receives the outcome.
double AllreduceSeconds(const partitioner::CostModel& cost,
                        const partitioner::AllreduceGroup& group, double bytes,
                        partitioner::AllreduceAlgorithm algorithm,
                        partitioner::AllreduceAlgorithm* chosen);

// Builds the workload and labels result->cells (stage, replica, kind, devices, slowdown,
// capacity). kInvalidArgument for a bad plan or options.
absl::StatusOr<Workload> BuildWorkload(const partitioner::CostModel& cost,
                                       const partitioner::Plan& plan, const SimOptions& options,
                                       StepResult* result);

}  // namespace tangram::simulator::internal

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_WORKLOAD_H_
