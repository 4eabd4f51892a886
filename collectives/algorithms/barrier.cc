// Dissemination barrier: in round k member m signals m+2^k and waits for m-2^k. After
// ceil(log2 p) rounds every member has (transitively) heard from every other one.
#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"

namespace tangram::collectives {

absl::Status DisseminationBarrier(const Group& group) {
  const int p = group.size();
  for (int distance = 1; distance < p; distance *= 2) {
    TANGRAM_RETURN_IF_ERROR(group.SendRecv((group.me + distance) % p, nullptr, 0,
                                           (group.me - distance + p) % p, nullptr, 0));
  }
  return absl::OkStatus();
}

}  // namespace tangram::collectives
