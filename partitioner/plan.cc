#include "partitioner/plan.h"

#include "absl/strings/str_cat.h"

namespace tangram::partitioner {

bool HasUnequalStageTp(const Plan& plan) {
  for (int s = 1; s < static_cast<int>(plan.stages.size()); ++s) {
    if (StageTp(plan, s) != StageTp(plan, 0)) return true;
  }
  return false;
}

std::string TpText(const Plan& plan) {
  if (!HasUnequalStageTp(plan)) return absl::StrCat(plan.tp);
  std::string out = "[";
  for (int s = 0; s < static_cast<int>(plan.stages.size()); ++s) {
    absl::StrAppend(&out, s == 0 ? "" : ", ", StageTp(plan, s));
  }
  return out + "]";
}

int64_t UsedDeviceCount(const Plan& plan) {
  int64_t n = 0;
  for (int s = 0; s < static_cast<int>(plan.stages.size()); ++s) {
    n += static_cast<int64_t>(StageTp(plan, s)) * plan.dp;
  }
  return n;
}

absl::Status ValidatePlan(const Plan& plan, int64_t num_devices, int64_t num_layers) {
  auto bad = [](auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (plan.tp < 1 || plan.pp < 1 || plan.dp < 1) {
    return bad("plan: tp, pp and dp must be >= 1 (got ", plan.tp, ", ", plan.pp, ", ", plan.dp,
               ")");
  }
  if (plan.virtual_stages < 1 || (plan.pp == 1 && plan.virtual_stages > 1)) {
    return bad("plan: virtual_stages is ", plan.virtual_stages,
               " (must be >= 1, and 1 without a pipeline)");
  }
  if (static_cast<int>(plan.stages.size()) != plan.pp) {
    return bad("plan: pp is ", plan.pp, " but there are ", plan.stages.size(), " stages");
  }
  if (static_cast<int>(plan.replicas.size()) != plan.dp) {
    return bad("plan: dp is ", plan.dp, " but there are ", plan.replicas.size(), " replicas");
  }
  int64_t next_layer = 0;
  std::vector<char> used(num_devices, 0);
  for (size_t s = 0; s < plan.stages.size(); ++s) {
    const PlanStage& stage = plan.stages[s];
    if (stage.layer_begin != next_layer) {
      return bad("stage ", s, ": starts at layer ", stage.layer_begin, ", expected ", next_layer);
    }
    if (stage.layer_end <= stage.layer_begin) return bad("stage ", s, ": has no layers");
    next_layer = stage.layer_end;
    if (stage.tp < 0) return bad("stage ", s, ": tp ", stage.tp, " (must be >= 1)");
    const int tp = StageTp(plan, static_cast<int>(s));
    if (static_cast<int>(stage.cells.size()) != plan.dp) {
      return bad("stage ", s, ": ", stage.cells.size(), " cells for ", plan.dp, " replicas");
    }
    for (size_t r = 0; r < stage.cells.size(); ++r) {
      const PlanCell& cell = stage.cells[r];
      if (static_cast<int>(cell.devices.size()) != tp) {
        return bad("stage ", s, " replica ", r, ": ", cell.devices.size(), " devices, tp is ", tp);
      }
      for (int64_t d : cell.devices) {
        if (d < 0 || d >= num_devices) return bad("stage ", s, ": device ", d, " out of range");
        if (used[d]++) return bad("device ", d, " is used twice");
      }
    }
  }
  if (next_layer != num_layers) {
    return bad("plan: stages cover ", next_layer, " of ", num_layers, " layers");
  }
  int64_t samples = 0;
  for (const PlanReplica& r : plan.replicas) {
    if (r.samples < 1) return bad("replica ", r.index, ": no samples (an empty replica)");
    if (r.micro_batch_size < 1) return bad("replica ", r.index, ": micro-batch size < 1");
    samples += r.samples;
  }
  if (samples != plan.global_batch) {
    return bad("plan: replicas take ", samples, " samples, the global batch is ",
               plan.global_batch);
  }
  return absl::OkStatus();
}

}  // namespace tangram::partitioner
