// Binary-tree broadcast and reduce. Members are renumbered relative to the root (v = (m - root)
// mod p); v's children are 2v+1 and 2v+2, its parent (v-1)/2. Whole messages per edge, so a
// tree is latency-optimal (log levels) but moves n bytes per level.
#include <cstring>
#include <vector>

#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"
#include "collectives/reduce.h"

namespace tangram::collectives {
namespace {

struct TreePosition {
  int parent = -1;  // member index, -1 at the root
  int children[2] = {-1, -1};
};

TreePosition Position(int p, int me, int root) {
  TreePosition position;
  const int v = (me - root + p) % p;
  auto member = [p, root](int relative) { return (relative + root) % p; };
  if (v > 0) position.parent = member((v - 1) / 2);
  if (2 * v + 1 < p) position.children[0] = member(2 * v + 1);
  if (2 * v + 2 < p) position.children[1] = member(2 * v + 2);
  return position;
}

}  // namespace

absl::Status TreeBroadcast(const Group& group, void* buffer, size_t bytes, int root) {
  if (group.size() == 1) return absl::OkStatus();
  const TreePosition position = Position(group.size(), group.me, root);
  if (position.parent >= 0) TANGRAM_RETURN_IF_ERROR(group.Recv(position.parent, buffer, bytes));
  std::unique_ptr<TransportRequest> sends[2];
  for (int i = 0; i < 2; ++i) {
    if (position.children[i] < 0) continue;
    TANGRAM_ASSIGN_OR_RETURN(sends[i], group.transport->ISend(group.ranks[position.children[i]],
                                                              group.tag, buffer, bytes));
  }
  for (auto& request : sends) {
    if (request) TANGRAM_RETURN_IF_ERROR(request->Wait(group.deadline));
  }
  return absl::OkStatus();
}

absl::Status TreeReduce(const Group& group, const void* send, void* recv, size_t count,
                        DataType type, ReduceOp op, int root) {
  const size_t bytes = count * DataTypeSize(type);
  const TreePosition position = Position(group.size(), group.me, root);
  // Accumulate in `recv` on the root, in a private copy elsewhere (recv is not ours to write).
  std::vector<char> private_copy;
  char* accumulator = static_cast<char*>(recv);
  if (position.parent >= 0) {
    private_copy.resize(bytes);
    accumulator = private_copy.data();
  }
  if (bytes > 0 && accumulator != send) std::memcpy(accumulator, send, bytes);
  std::vector<char> incoming;
  for (int child : position.children) {
    if (child < 0) continue;
    incoming.resize(bytes);
    TANGRAM_RETURN_IF_ERROR(group.Recv(child, incoming.data(), bytes));
    ReduceInto(accumulator, incoming.data(), count, type, op);
    group.transport->ChargeReduction(bytes);
  }
  if (position.parent >= 0) return group.Send(position.parent, accumulator, bytes);
  FinishAverage(accumulator, count, type, op, group.size());
  return absl::OkStatus();
}

absl::Status TreeAllReduce(const Group& group, const void* send, void* recv, size_t count,
                           DataType type, ReduceOp op) {
  TANGRAM_RETURN_IF_ERROR(TreeReduce(group, send, recv, count, type, op, 0));
  return TreeBroadcast(group, recv, count * DataTypeSize(type), 0);
}

}  // namespace tangram::collectives
