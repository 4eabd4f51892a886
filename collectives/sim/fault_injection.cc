#include "collectives/sim/fault_injection.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace tangram::collectives {

FaultInjectingTransport::FaultInjectingTransport(std::unique_ptr<Transport> inner,
                                                 const FaultPlan* plan,
                                                 std::shared_ptr<RankFaultState> state,
                                                 std::function<void()> on_kill)
    : inner_(std::move(inner)),
      plan_(plan),
      state_(std::move(state)),
      on_kill_(std::move(on_kill)) {}

absl::Status FaultInjectingTransport::BeforeOp() {
  auto dead = [this] {
    return absl::UnavailableError(
        absl::StrCat("rank ", state_->world_rank, " was killed by fault injection"));
  };
  if (state_->dead.load()) return dead();
  const int64_t op = state_->ops.fetch_add(1);
  for (const FaultPlan::Delay& delay : plan_->delays) {
    if (delay.rank == state_->world_rank && delay.at_op == op) {
      absl::SleepFor(delay.wall);
      inner_->AdvanceVirtualClock(delay.virtual_s);
    }
  }
  for (const FaultPlan::Kill& kill : plan_->kills) {
    if (kill.rank == state_->world_rank && kill.at_op == op) {
      state_->dead.store(true);
      on_kill_();
      return dead();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TransportRequest>> FaultInjectingTransport::ISend(int dst, int tag,
                                                                                 const void* data,
                                                                                 size_t bytes) {
  TANGRAM_RETURN_IF_ERROR(BeforeOp());
  return inner_->ISend(dst, tag, data, bytes);
}

absl::StatusOr<std::unique_ptr<TransportRequest>> FaultInjectingTransport::IRecv(int src, int tag,
                                                                                 void* data,
                                                                                 size_t bytes) {
  TANGRAM_RETURN_IF_ERROR(BeforeOp());
  return inner_->IRecv(src, tag, data, bytes);
}

absl::StatusOr<std::unique_ptr<Transport>> FaultInjectingTransport::CreateSubgroup(
    int color, int key, const std::vector<int>& members) {
  TANGRAM_ASSIGN_OR_RETURN(auto child, inner_->CreateSubgroup(color, key, members));
  return std::make_unique<FaultInjectingTransport>(std::move(child), plan_, state_, on_kill_);
}

}  // namespace tangram::collectives
