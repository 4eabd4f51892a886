// The versioned plan format (docs/plan-format.md): what `tangram plan --json` prints, what
// `tangram train --plan` and `tangram simulate --plan` read, and what the coordinator broadcasts.
//
// Version 1. Top-level keys: format ("tangram-plan"), version, strategy, fleet, model,
// parallelism {tp, pp, dp}, training {global_batch, seq_len, precision, zero_stage, recompute},
// layers [names], stages [...], replicas [...], unused_devices, notes, predicted {step_time_s,
// tokens_per_s, mfu, ...}, bound_step_time_s, efficiency. Readers accept any version ≤ theirs and
// ignore keys they do not know (a later minor addition is not an error).
//
// Nothing here throws: JSON errors become kInvalidArgument naming the field.
#ifndef TANGRAM_PARTITIONER_PLAN_JSON_H_
#define TANGRAM_PARTITIONER_PLAN_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "partitioner/plan.h"

namespace tangram::partitioner {

nlohmann::json PlanToJson(const Plan& plan);
// PlanToJson(plan).dump(indent).
std::string PlanToJsonString(const Plan& plan, int indent = 2);

// Reads a plan; checks the format tag, the version and the types of every field it reads.
// Structural checks against a fleet are ValidatePlan's (plan.h) or CostModel::Evaluate's.
absl::StatusOr<Plan> PlanFromJson(const nlohmann::json& json);
absl::StatusOr<Plan> PlanFromJsonString(std::string_view text);
// Reads a plan file; errors name the path.
absl::StatusOr<Plan> LoadPlanFile(const std::string& path);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_PLAN_JSON_H_
