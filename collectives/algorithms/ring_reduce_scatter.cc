// Ring reduce-scatter: at step s member m sends its partial sum of block m-s-1 to m+1 and adds
// its own contribution to the partial of block m-s-2 received from m-1. After p-1 steps the
// partial that arrives last is block m, complete. Two block-sized scratch buffers; the input is
// never written, so send may alias recv_block.
#include <algorithm>
#include <cstring>
#include <vector>

#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"
#include "collectives/reduce.h"

namespace tangram::collectives {

absl::Status RingReduceScatter(const Group& group, const void* send, void* recv_block,
                               absl::Span<const size_t> counts, DataType type, ReduceOp op) {
  const int p = group.size();
  const int me = group.me;
  const size_t element = DataTypeSize(type);
  std::vector<size_t> offset(p + 1, 0);
  for (int i = 0; i < p; ++i) offset[i + 1] = offset[i] + counts[i] * element;
  const char* in = static_cast<const char*>(send);
  auto block = [p](int b) { return ((b % p) + p) % p; };

  if (p == 1) {
    if (counts[0] > 0 && recv_block != send) std::memmove(recv_block, in, counts[0] * element);
    FinishAverage(recv_block, counts[0], type, op, 1);
    return absl::OkStatus();
  }
  const size_t max_bytes = *std::max_element(counts.begin(), counts.end()) * element;
  std::vector<char> partial(max_bytes);   // what we send next
  std::vector<char> incoming(max_bytes);  // what we receive this step

  const int next = (me + 1) % p;
  const int prev = (me + p - 1) % p;
  int send_block = block(me - 1);
  const char* send_ptr = in + offset[send_block];  // step 0 sends our own contribution
  for (int step = 0; step < p - 1; ++step) {
    const int recv_block_index = block(me - step - 2);
    const size_t recv_bytes = counts[recv_block_index] * element;
    TANGRAM_RETURN_IF_ERROR(group.SendRecv(next, send_ptr, counts[send_block] * element, prev,
                                           incoming.data(), recv_bytes));
    ReduceInto(incoming.data(), in + offset[recv_block_index], counts[recv_block_index], type, op);
    group.transport->ChargeReduction(recv_bytes);
    std::swap(partial, incoming);
    send_ptr = partial.data();
    send_block = recv_block_index;
  }
  // send_block == me: `partial` holds our complete block.
  if (counts[me] > 0) std::memcpy(recv_block, partial.data(), counts[me] * element);
  FinishAverage(recv_block, counts[me], type, op, p);
  return absl::OkStatus();
}

std::vector<size_t> EvenCounts(size_t count, int parts) {
  std::vector<size_t> counts(parts, count / parts);
  for (size_t i = 0; i < count % parts; ++i) ++counts[i];
  return counts;
}

}  // namespace tangram::collectives
