// Whether a plan read from a file belongs to the inputs it is about to be simulated or trained
// with. A plan names its fleet and model and records the training setup it was made for
// (plan_json.h); costed against other inputs it would silently describe another job: a plan for a
// 12-device lab fleet laid on the first 12 devices of a 32-device fleet, or a plan for a batch of
// 128 measured against the default batch of 1024 (an "efficiency" of 626 %).
#ifndef TANGRAM_PARTITIONER_PLAN_INPUTS_H_
#define TANGRAM_PARTITIONER_PLAN_INPUTS_H_

#include <string>

#include "absl/status/status.h"
#include "partitioner/fleet.h"
#include "partitioner/model.h"
#include "partitioner/plan.h"
#include "partitioner/training.h"

namespace tangram::partitioner {

// OK when the plan's fleet and model names, sequence length, global batch, precision, ZeRO stage
// and recompute are those given (a field the plan leaves empty or 0, as hand-written plans may, is
// not compared). Otherwise kFailedPrecondition listing every difference, each as "FIELD: the
// plan's X, the GIVEN's Y", prefixed by `path`; `given` names where the other side came from
// ("job", "fleet and model"). The micro-batch is not compared: a strategy may choose a smaller one.
absl::Status CheckPlanInputs(const Plan& plan, const std::string& path, const Fleet& fleet,
                             const ModelSpec& model, const TrainingSpec& training,
                             const std::string& given);

// `base` with the training setup the plan records (global batch, precision, ZeRO stage,
// recompute, virtual stages, and the first replica's micro-batch): for a plan given with a fleet
// and a model but no job, whose training setup would otherwise be the CLI's default.
TrainingSpec TrainingOfPlan(const Plan& plan, TrainingSpec base);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_PLAN_INPUTS_H_
