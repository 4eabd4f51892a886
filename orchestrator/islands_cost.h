// The composed islands allreduce, as the cost model and the simulator cost a data-parallel group
// that spans islands: the schedule the runtime's islands communicator runs
// (collectives/islands/island_cost.h: segments pipelined between each island's rings and the
// bridge, every segment paying its rings' α), over the group's islands as the α-β model
// summarises them. The partitioner cannot call the collectives library (the arrows point from the
// orchestrator to both), so the orchestrator hands this function to it through
// partitioner::CostOptions::islands_allreduce. Pure functions, thread-safe.
#ifndef TANGRAM_ORCHESTRATOR_ISLANDS_COST_H_
#define TANGRAM_ORCHESTRATOR_ISLANDS_COST_H_

#include "partitioner/comm_model.h"
#include "partitioner/cost_model.h"
#include "partitioner/fleet.h"

namespace tangram::orchestrator {

// Seconds for the composed allreduce of `bytes` per member over `group` (two or more islands).
double IslandsAllreduceSeconds(const partitioner::AllreduceGroup& group, double bytes,
                               const partitioner::NetworkSpec& network);

// `options` with islands_allreduce set to IslandsAllreduceSeconds: what every cost model the
// orchestrator builds for planning uses, so that plans are ranked by what the runtime runs.
partitioner::CostOptions RuntimeCostOptions(partitioner::CostOptions options = {});

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_ISLANDS_COST_H_
