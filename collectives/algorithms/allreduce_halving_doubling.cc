// Recursive halving/doubling allreduce (Rabenseifner). With 2^k members: k halving steps, each
// exchanging half of the remaining range with the member whose index differs in one bit and
// reducing the half kept (a reduce-scatter), then k doubling steps that reverse it (an
// allgather): 2·log2(p)·α + 2(p-1)/p·n·β.
//
// Non-power-of-two fix-up: with p = 2^k + r, members 0..2r-1 pair up (2i, 2i+1). The even one
// sends its whole vector to the odd one and sits out; the odd one takes part as "new rank" i;
// members 2r.. take part as new rank m-r. At the end each odd member returns the result to its
// even partner. Cost: two extra whole-vector messages on the paired members.
#include <cstring>
#include <vector>

#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"
#include "collectives/reduce.h"

namespace tangram::collectives {

absl::Status HalvingDoublingAllReduce(const Group& group, const void* send, void* recv,
                                      size_t count, DataType type, ReduceOp op) {
  const int p = group.size();
  const int me = group.me;
  const size_t element = DataTypeSize(type);
  const size_t bytes = count * element;
  if (bytes > 0 && send != recv) std::memcpy(recv, send, bytes);
  if (p == 1 || count == 0) {
    FinishAverage(recv, count, type, op, 1);
    return absl::OkStatus();
  }
  char* data = static_cast<char*>(recv);
  int pow2 = 1;
  while (pow2 * 2 <= p) pow2 *= 2;
  const int r = p - pow2;
  std::vector<char> scratch;

  int new_rank;
  if (me < 2 * r) {
    if (me % 2 == 0) {
      TANGRAM_RETURN_IF_ERROR(group.Send(me + 1, data, bytes));
      new_rank = -1;
    } else {
      scratch.resize(bytes);
      TANGRAM_RETURN_IF_ERROR(group.Recv(me - 1, scratch.data(), bytes));
      ReduceInto(data, scratch.data(), count, type, op);
      group.transport->ChargeReduction(bytes);
      new_rank = me / 2;
    }
  } else {
    new_rank = me - r;
  }
  auto member_of = [r](int new_index) { return new_index < r ? new_index * 2 + 1 : new_index + r; };

  if (new_rank >= 0) {
    const std::vector<size_t> counts = EvenCounts(count, pow2);
    std::vector<size_t> offset(pow2 + 1, 0);
    for (int i = 0; i < pow2; ++i) offset[i + 1] = offset[i] + counts[i] * element;
    if (scratch.size() < offset[pow2 / 2]) scratch.resize(offset[pow2 / 2]);  // largest half
    int lo = 0;
    int hi = pow2;
    // Halving: keep the half of [lo, hi) that our bit selects, send the other half.
    for (int distance = pow2 / 2; distance >= 1; distance /= 2) {
      const int partner = member_of(new_rank ^ distance);
      const int mid = (lo + hi) / 2;
      const bool keep_low = (new_rank & distance) == 0;
      const int keep_lo = keep_low ? lo : mid, keep_hi = keep_low ? mid : hi;
      const int give_lo = keep_low ? mid : lo, give_hi = keep_low ? hi : mid;
      const size_t keep_bytes = offset[keep_hi] - offset[keep_lo];
      TANGRAM_RETURN_IF_ERROR(group.SendRecv(partner, data + offset[give_lo],
                                             offset[give_hi] - offset[give_lo], partner,
                                             scratch.data(), keep_bytes));
      ReduceInto(data + offset[keep_lo], scratch.data(), keep_bytes / element, type, op);
      group.transport->ChargeReduction(keep_bytes);
      lo = keep_lo;
      hi = keep_hi;
    }
    FinishAverage(data + offset[lo], counts[lo], type, op, p);
    // Doubling: swap our range with the partner's mirror range, doubling it each step.
    for (int distance = 1; distance < pow2; distance *= 2) {
      const int partner = member_of(new_rank ^ distance);
      const int width = hi - lo;
      const bool low = (new_rank & distance) == 0;
      const int other_lo = low ? hi : lo - width;
      const int other_hi = other_lo + width;
      TANGRAM_RETURN_IF_ERROR(group.SendRecv(partner, data + offset[lo], offset[hi] - offset[lo],
                                             partner, data + offset[other_lo],
                                             offset[other_hi] - offset[other_lo]));
      lo = std::min(lo, other_lo);
      hi = std::max(hi, other_hi);
    }
  }

  if (me < 2 * r) {
    if (me % 2 == 0) return group.Recv(me + 1, data, bytes);
    return group.Send(me - 1, data, bytes);
  }
  return absl::OkStatus();
}

}  // namespace tangram::collectives
