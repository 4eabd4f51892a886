// Ring allreduce = ring reduce-scatter + ring allgather over p near-equal chunks. Each member
// sends 2(p-1) messages of ~n/p bytes: the bandwidth-optimal schedule for large vectors.
#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"

namespace tangram::collectives {

absl::Status RingAllReduce(const Group& group, const void* send, void* recv, size_t count,
                           DataType type, ReduceOp op) {
  if (count == 0) return absl::OkStatus();
  const std::vector<size_t> counts = EvenCounts(count, group.size());
  const size_t element = DataTypeSize(type);
  size_t my_offset = 0;
  for (int i = 0; i < group.me; ++i) my_offset += counts[i] * element;
  // The reduce-scatter reads every block of `send` before writing our block of `recv`, so this is
  // safe in place; the allgather then fills the other blocks of `recv`.
  TANGRAM_RETURN_IF_ERROR(
      RingReduceScatter(group, send, static_cast<char*>(recv) + my_offset, counts, type, op));
  return RingAllGatherV(group, recv, counts, type);
}

}  // namespace tangram::collectives
