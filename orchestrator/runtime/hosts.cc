#include "orchestrator/runtime/hosts.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace tangram::orchestrator {
namespace {

std::string ShortName(const std::string& name) { return name.substr(0, name.find('.')); }

}  // namespace

bool HostMatches(const std::string& expected, const std::string& actual) {
  if (expected.empty() || expected == "local" || expected == "localhost") return true;
  return expected == actual || ShortName(expected) == ShortName(actual);
}

absl::Status CheckPlacement(const partitioner::Fleet& fleet,
                            const std::vector<std::string>& rank_hosts) {
  const std::vector<partitioner::DeviceSlot> slots = partitioner::FlattenFleet(fleet);
  std::vector<std::string> wrong, where;
  for (size_t r = 0; r < rank_hosts.size() && r < slots.size(); ++r) {
    const partitioner::NodeGroup& group = fleet.groups[slots[r].group];
    where.push_back(absl::StrCat(r, "@", rank_hosts[r]));
    if (!HostMatches(group.host, rank_hosts[r])) {
      wrong.push_back(absl::StrCat("rank ", r, " runs on host ", rank_hosts[r],
                                   " but the fleet puts device ", r, " (nodes[", slots[r].group,
                                   "]) on host ", group.host));
    }
  }
  if (wrong.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "ranks are not where the fleet ", fleet.name, " places them: ", absl::StrJoin(wrong, "; "),
      " (every rank: ", absl::StrJoin(where, " "),
      "). Rank i trains fleet device i: write the hostfile with `tangram hostfile --fleet F` and "
      "launch with --map-by slot"));
}

namespace {

// --nodes names each node of the fleet once, and no more nodes than it has: a name left over or
// given twice (two machines of the fleet mapped to one host) was taken without a word.
absl::Status CheckNodeNames(const partitioner::Fleet& fleet,
                            const std::vector<partitioner::DeviceSlot>& slots,
                            const std::vector<std::string>& node_names) {
  int64_t nodes = 0;
  for (const partitioner::DeviceSlot& slot : slots) nodes = std::max(nodes, slot.node + 1);
  if (static_cast<int64_t>(node_names.size()) > nodes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--nodes names ", node_names.size(), " nodes but the fleet ", fleet.name, " has ", nodes,
        " (not placed: ", absl::StrJoin(node_names.begin() + nodes, node_names.end(), ", "), ")"));
  }
  std::map<std::string, size_t> first;
  for (size_t i = 0; i < node_names.size(); ++i) {
    auto [it, fresh] = first.try_emplace(node_names[i], i);
    if (!fresh) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--nodes names ", node_names[i], " twice (nodes ", it->second, " and ", i,
          "): each node of the fleet is its own machine; give a group a `host` to share one"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> WriteHostfile(const partitioner::Fleet& fleet, HostfileFormat format,
                                          const std::vector<std::string>& node_names) {
  const std::vector<partitioner::DeviceSlot> slots = partitioner::FlattenFleet(fleet);
  if (!node_names.empty()) TANGRAM_RETURN_IF_ERROR(CheckNodeNames(fleet, slots, node_names));
  std::vector<std::string> rank_host;
  for (const auto& slot : slots) {
    std::string host = fleet.groups[slot.group].host;
    if (!node_names.empty()) {
      if (slot.node >= static_cast<int64_t>(node_names.size())) {
        return absl::FailedPreconditionError(
            absl::StrCat("--nodes names ", node_names.size(), " nodes but the fleet ", fleet.name,
                         " has more (device ", slot.index, " is on node ", slot.node, ")"));
      }
      host = node_names[slot.node];
    }
    if (host.empty() || host == "local" || host == "localhost") {
      return absl::FailedPreconditionError(absl::StrCat(
          "fleet ", fleet.name, " nodes[", slot.group,
          "] names no host: give each node group a `host`, or name the nodes with --nodes"));
    }
    rank_host.push_back(host);
  }
  std::string out;
  if (format == HostfileFormat::kSlurm) {
    for (const auto& host : rank_host) absl::StrAppend(&out, host, "\n");
    return out;
  }
  std::vector<std::pair<std::string, int>> runs;  // host, slots: consecutive ranks per host
  std::map<std::string, int> seen;
  for (size_t r = 0; r < rank_host.size(); ++r) {
    if (!runs.empty() && runs.back().first == rank_host[r]) {
      ++runs.back().second;
      continue;
    }
    if (seen.count(rank_host[r]) > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "fleet ", fleet.name, ": host ", rank_host[r], " holds devices ", seen[rank_host[r]],
          " and ", r,
          " with other hosts' devices between them; an Open MPI hostfile fills each "
          "host in turn, so list each host's devices together (or use --format slurm)"));
    }
    seen[rank_host[r]] = static_cast<int>(r);
    runs.push_back({rank_host[r], 1});
  }
  for (const auto& [host, count] : runs) {
    absl::StrAppend(&out, host, " slots=", count, " max_slots=", count, "\n");
  }
  return out;
}

int LauncherWorldSize(std::string* source) {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* value = std::getenv(name);
    int size = 0;
    if (value != nullptr && absl::SimpleAtoi(value, &size) && size > 0) {
      if (source != nullptr) *source = absl::StrCat(name, "=", value);
      return size;
    }
  }
  // srun --mpi=pmix exports PMIX_RANK but no size; the step's task count is Slurm's.
  const char* tasks = std::getenv("SLURM_STEP_NUM_TASKS");
  int size = 0;
  if (std::getenv("PMIX_RANK") != nullptr && tasks != nullptr && absl::SimpleAtoi(tasks, &size) &&
      size > 0) {
    if (source != nullptr) *source = absl::StrCat("SLURM_STEP_NUM_TASKS=", tasks);
    return size;
  }
  return 1;
}

int LauncherRank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"}) {
    const char* value = std::getenv(name);
    int rank = -1;
    if (value != nullptr && absl::SimpleAtoi(value, &rank) && rank >= 0) return rank;
  }
  return -1;
}

}  // namespace tangram::orchestrator
