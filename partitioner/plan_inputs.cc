#include "partitioner/plan_inputs.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tangram::partitioner {

absl::Status CheckPlanInputs(const Plan& plan, const std::string& path, const Fleet& fleet,
                             const ModelSpec& model, const TrainingSpec& training,
                             const std::string& given) {
  std::vector<std::string> differences;
  auto differ = [&](const char* field, const std::string& planned, const std::string& other) {
    differences.push_back(
        absl::StrCat(field, ": the plan's ", planned, ", the ", given, "'s ", other));
  };
  if (!plan.fleet.empty() && plan.fleet != fleet.name) {
    differ("fleet", absl::StrCat("\"", plan.fleet, "\""), absl::StrCat("\"", fleet.name, "\""));
  }
  if (!plan.model.empty() && plan.model != model.name) {
    differ("model", absl::StrCat("\"", plan.model, "\""), absl::StrCat("\"", model.name, "\""));
  }
  if (plan.seq_len > 0 && plan.seq_len != model.seq_len) {
    differ("seq_len", absl::StrCat(plan.seq_len), absl::StrCat(model.seq_len));
  }
  if (plan.global_batch > 0 && plan.global_batch != training.global_batch) {
    differ("global_batch", absl::StrCat(plan.global_batch), absl::StrCat(training.global_batch));
  }
  if (differences.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(path, ": the plan was made for other inputs (", absl::StrJoin(differences, "; "),
                   "); plan again with these inputs, or give the ones it was made for"));
}

TrainingSpec TrainingOfPlan(const Plan& plan, TrainingSpec base) {
  if (plan.global_batch > 0) base.global_batch = plan.global_batch;
  if (!plan.replicas.empty() && plan.replicas[0].micro_batch_size > 0) {
    base.micro_batch = plan.replicas[0].micro_batch_size;
  }
  base.precision = plan.precision;
  base.zero_stage = plan.zero_stage;
  base.recompute = plan.recompute;
  if (plan.virtual_stages > 1) base.layout.virtual_stages = plan.virtual_stages;
  return base;
}

}  // namespace tangram::partitioner
