#include "orchestrator/runtime/placement.h"

#include "absl/strings/str_cat.h"

namespace tangram::orchestrator {
namespace {
constexpr int kIdleColorBase = 1 << 20;  // above any stage or replica index
}  // namespace

absl::StatusOr<RankRole> RoleOf(const partitioner::Plan& plan, int rank) {
  RankRole role;
  role.tp = plan.tp;
  role.pp = plan.pp;
  role.dp = plan.dp;
  for (const auto& stage : plan.stages) {
    for (const auto& cell : stage.cells) {
      for (size_t k = 0; k < cell.devices.size(); ++k) {
        if (cell.devices[k] != rank) continue;
        if (role.active) {
          return absl::InvalidArgumentError(absl::StrCat("plan places rank ", rank, " twice"));
        }
        role.active = true;
        role.stage = stage.index;
        role.replica = cell.replica;
        role.tp_rank = static_cast<int>(k);
        role.layer_begin = stage.layer_begin;
        role.layer_end = stage.layer_end;
      }
    }
  }
  if (!role.active) return role;
  for (const auto& replica : plan.replicas) {
    if (replica.index < role.replica) role.sample_offset += replica.samples;
    if (replica.index != role.replica) continue;
    role.samples = replica.samples;
    int64_t size = std::max<int64_t>(1, replica.micro_batch_size);
    for (int64_t left = replica.samples; left > 0; left -= size) {
      role.micro_batches.push_back(std::min(size, left));
    }
  }
  return role;
}

int TensorParallelColor(const RankRole& role, int rank) {
  return role.active ? role.stage * role.dp + role.replica : kIdleColorBase + rank;
}

int PipelineColor(const RankRole& role, int rank) {
  return role.active ? role.replica * role.tp + role.tp_rank : kIdleColorBase + rank;
}

int DataParallelColor(const RankRole& role, int rank) {
  return role.active ? role.stage * role.tp + role.tp_rank : kIdleColorBase + rank;
}

}  // namespace tangram::orchestrator
