// Two-level allreduce for fleets whose fast links stop at a node or island boundary: the slow
// links carry only one shard per member (equal localities) or one vector per leader (uneven).
#include <algorithm>
#include <map>
#include <vector>

#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"
#include "collectives/reduce.h"

namespace tangram::collectives {

absl::Status HierarchicalAllReduce(const Group& group, const std::vector<int>& locality,
                                   const void* send, void* recv, size_t count, DataType type,
                                   ReduceOp op) {
  if (static_cast<int>(locality.size()) != group.size()) {
    return absl::InvalidArgumentError("HierarchicalAllReduce: one locality per member needed");
  }
  // Members of each locality in index order; the map orders localities by id.
  std::map<int, std::vector<int>> members_of;
  for (int i = 0; i < group.size(); ++i) members_of[locality[i]].push_back(i);
  const std::vector<int>& local_members = members_of[locality[group.me]];
  bool equal = true;
  size_t largest = 0;
  for (const auto& [id, members] : members_of) {
    equal &= members.size() == local_members.size();
    largest = std::max(largest, members.size());
  }
  if (members_of.size() == 1 || largest == 1) {
    return RingAllReduce(group, send, recv, count, type, op);  // only one level
  }

  // Sum (not average) through both levels; divide once at the end, identically everywhere.
  const ReduceOp inner = op == ReduceOp::kAvg ? ReduceOp::kSum : op;
  const Group local = group.Subset(local_members);
  const size_t element = DataTypeSize(type);
  if (count == 0) return absl::OkStatus();
  if (equal) {
    const std::vector<size_t> counts = EvenCounts(count, local.size());
    size_t my_offset = 0;
    for (int i = 0; i < local.me; ++i) my_offset += counts[i] * element;
    char* shard = static_cast<char*>(recv) + my_offset;
    TANGRAM_RETURN_IF_ERROR(RingReduceScatter(local, send, shard, counts, type, inner));
    std::vector<int> peers;  // the members holding the same shard in every locality
    for (const auto& [id, members] : members_of) peers.push_back(members[local.me]);
    const Group across = group.Subset(peers);
    TANGRAM_RETURN_IF_ERROR(RingAllReduce(across, shard, shard, counts[local.me], type, inner));
    TANGRAM_RETURN_IF_ERROR(RingAllGatherV(local, recv, counts, type));
  } else {
    TANGRAM_RETURN_IF_ERROR(TreeReduce(local, send, recv, count, type, inner, 0));
    if (local.me == 0) {
      std::vector<int> leaders;
      for (const auto& [id, members] : members_of) leaders.push_back(members[0]);
      TANGRAM_RETURN_IF_ERROR(RingAllReduce(group.Subset(leaders), recv, recv, count, type, inner));
    }
    TANGRAM_RETURN_IF_ERROR(TreeBroadcast(local, recv, count * element, 0));
  }
  FinishAverage(recv, count, type, op, group.size());
  return absl::OkStatus();
}

}  // namespace tangram::collectives
