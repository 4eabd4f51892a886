// Pipeline schedules for the simulator: the partitioner's (partitioner/pipeline_schedule.h), where
// the cost model replays the same orders. The simulator runs them with the dependencies, links and
// contention of engine.h.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_SCHEDULE_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_SCHEDULE_H_

#include "partitioner/kinds.h"
#include "partitioner/pipeline_schedule.h"

namespace tangram::simulator {

using partitioner::CreateSchedule;
using partitioner::PipelineOp;
using partitioner::Schedule;
using partitioner::ScheduleNames;

}  // namespace tangram::simulator

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_SCHEDULE_H_
