// The plan as `tangram plan` prints it for people: stages, replica shares, prediction, bound.
// Shared by the CLI and the Python package (tangram.torch prints the plan it trains with).
#ifndef TANGRAM_ORCHESTRATOR_CLI_PLAN_TEXT_H_
#define TANGRAM_ORCHESTRATOR_CLI_PLAN_TEXT_H_

#include <string>

#include "partitioner/cost_model.h"
#include "partitioner/plan.h"

namespace tangram::orchestrator {

// Multi-line text, ending in a newline. `cost` is the model the plan was evaluated with.
std::string FormatPlan(const partitioner::Plan& plan, const partitioner::CostModel& cost);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_CLI_PLAN_TEXT_H_
