#include "orchestrator/runtime/cpu_pinning.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "collectives/wait_policy.h"

namespace tangram::orchestrator {
namespace {

// The pool's ranks in the plan's stage-major order: stage, replica (cells are in replica order),
// tensor-parallel rank (a cell's device order); a rank appearing again (a later virtual chunk)
// keeps its first place; ranks the plan does not use come last, ascending.
std::vector<int64_t> StageMajorOrder(const partitioner::Plan& plan,
                                     const partitioner::MeasuredCpuPool& pool) {
  std::vector<int64_t> order;
  auto in_pool = [&](int64_t d) {
    return std::find(pool.ranks.begin(), pool.ranks.end(), d) != pool.ranks.end();
  };
  auto seen = [&](int64_t d) { return std::find(order.begin(), order.end(), d) != order.end(); };
  for (const partitioner::PlanStage& stage : plan.stages) {
    for (const partitioner::PlanCell& cell : stage.cells) {
      for (int64_t d : cell.devices) {
        if (in_pool(d) && !seen(d)) order.push_back(d);
      }
    }
  }
  for (int64_t d : pool.ranks) {
    if (!seen(d)) order.push_back(d);
  }
  return order;
}

const partitioner::MeasuredCpuPool* PoolOf(const std::vector<partitioner::MeasuredCpuPool>& pools,
                                           int rank) {
  for (const partitioner::MeasuredCpuPool& pool : pools) {
    if (std::find(pool.ranks.begin(), pool.ranks.end(), rank) != pool.ranks.end()) return &pool;
  }
  return nullptr;
}

bool PinningOff() {
  const char* env = std::getenv("TANGRAM_CPU_PINNING");
  return env != nullptr && std::string_view(env) == "0";
}

bool Pinned(const partitioner::Plan& plan, const partitioner::MeasuredCpuPool& pool) {
  const auto ranks = static_cast<int64_t>(pool.ranks.size());
  return !PinningOff() && plan.pp > 1 && pool.cores > 0 && ranks > pool.cores &&
         ranks % pool.cores == 0;
}

absl::Status SetAffinity(const std::vector<int>& cpus, int rank) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    return absl::InternalError(absl::StrCat("rank ", rank, ": setting its CPU affinity to ",
                                            absl::StrJoin(cpus, ","), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<int> PinnedCpus(const partitioner::Plan& plan,
                            const partitioner::MeasuredCpuPool& pool) {
  if (!Pinned(plan, pool)) return {};
  const std::vector<int64_t> order = StageMajorOrder(plan, pool);
  std::vector<int> cpus;
  for (int64_t r : pool.ranks) {
    const auto at = std::find(order.begin(), order.end(), r) - order.begin();
    cpus.push_back(static_cast<int>(at % pool.cores));
  }
  return cpus;
}

std::optional<int> PinnedCpuIndex(const partitioner::Plan& plan,
                                  const std::vector<partitioner::MeasuredCpuPool>& pools,
                                  int rank) {
  const partitioner::MeasuredCpuPool* pool = PoolOf(pools, rank);
  if (pool == nullptr) return std::nullopt;
  const std::vector<int> cpus = PinnedCpus(plan, *pool);
  if (cpus.empty()) return std::nullopt;
  return cpus[std::find(pool->ranks.begin(), pool->ranks.end(), rank) - pool->ranks.begin()];
}

std::string DescribePinning(const partitioner::Plan& plan,
                            const std::vector<partitioner::MeasuredCpuPool>& pools) {
  std::vector<std::string> parts;
  for (const partitioner::MeasuredCpuPool& pool : pools) {
    const std::vector<int> cpus = PinnedCpus(plan, pool);
    if (cpus.empty()) continue;
    std::vector<std::vector<int64_t>> on(pool.cores);
    for (size_t i = 0; i < pool.ranks.size(); ++i) on[cpus[i]].push_back(pool.ranks[i]);
    for (int c = 0; c < pool.cores; ++c) {
      std::sort(on[c].begin(), on[c].end());
      parts.push_back(
          absl::StrCat("ranks ", absl::StrJoin(on[c], ","), " on CPU ", c + 1, " of ", pool.cores));
    }
  }
  return absl::StrJoin(parts, ", ");
}

absl::StatusOr<bool> PinThisRank(const partitioner::Plan& plan,
                                 const std::vector<partitioner::MeasuredCpuPool>& pools, int rank) {
  // The launcher's affinity, read before this function first pins the process.
  static const std::vector<int> launcher_cpus = collectives::DescribeRankMachine().cpus;
  static bool pinned_now = false;
  std::optional<int> index = PinnedCpuIndex(plan, pools, rank);
  if (index && static_cast<int>(launcher_cpus.size()) != PoolOf(pools, rank)->cores) index.reset();
  if (!index) {
    // A plan that pins nothing (a re-plan to pp 1) gives back what the launcher gave.
    if (pinned_now) TANGRAM_RETURN_IF_ERROR(SetAffinity(launcher_cpus, rank));
    pinned_now = false;
    return false;
  }
  TANGRAM_RETURN_IF_ERROR(SetAffinity({launcher_cpus[*index]}, rank));
  pinned_now = true;
  return true;
}

}  // namespace tangram::orchestrator
