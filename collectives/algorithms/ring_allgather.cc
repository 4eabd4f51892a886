// Ring allgather of uneven blocks, in place: at step s member m forwards block m-s to m+1 and
// receives block m-s-1 from m-1 straight into its final place. No scratch memory.
#include <vector>

#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"

namespace tangram::collectives {

absl::Status RingAllGatherV(const Group& group, void* buffer, absl::Span<const size_t> counts,
                            DataType type) {
  const int p = group.size();
  const int me = group.me;
  if (p == 1) return absl::OkStatus();
  const size_t element = DataTypeSize(type);
  std::vector<size_t> offset(p + 1, 0);
  for (int i = 0; i < p; ++i) offset[i + 1] = offset[i] + counts[i] * element;
  char* data = static_cast<char*>(buffer);
  auto block = [p](int b) { return ((b % p) + p) % p; };
  for (int step = 0; step < p - 1; ++step) {
    const int out = block(me - step);
    const int in = block(me - step - 1);
    TANGRAM_RETURN_IF_ERROR(group.SendRecv((me + 1) % p, data + offset[out], counts[out] * element,
                                           (me + p - 1) % p, data + offset[in],
                                           counts[in] * element));
  }
  return absl::OkStatus();
}

}  // namespace tangram::collectives
