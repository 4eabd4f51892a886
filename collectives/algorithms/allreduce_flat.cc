// The naive allreduce the benchmarks compare against: member 0 receives every vector, combines
// them in member order, and sends the result back to each member in turn. Its cost grows as
// 2(p-1)(α + nβ) at member 0.
#include <cstring>
#include <vector>

#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"
#include "collectives/reduce.h"

namespace tangram::collectives {

absl::Status FlatAllReduce(const Group& group, const void* send, void* recv, size_t count,
                           DataType type, ReduceOp op) {
  const size_t bytes = count * DataTypeSize(type);
  if (group.me != 0) {
    TANGRAM_RETURN_IF_ERROR(group.Send(0, send, bytes));
    return group.Recv(0, recv, bytes);
  }
  if (bytes > 0 && send != recv) std::memcpy(recv, send, bytes);
  std::vector<char> incoming(bytes);
  for (int member = 1; member < group.size(); ++member) {
    TANGRAM_RETURN_IF_ERROR(group.Recv(member, incoming.data(), bytes));
    ReduceInto(recv, incoming.data(), count, type, op);
    group.transport->ChargeReduction(bytes);
  }
  FinishAverage(recv, count, type, op, group.size());
  for (int member = 1; member < group.size(); ++member) {
    TANGRAM_RETURN_IF_ERROR(group.Send(member, recv, bytes));
  }
  return absl::OkStatus();
}

}  // namespace tangram::collectives
