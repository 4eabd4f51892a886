// Built instead of islands/hccl_communicator.cc when the Ascend CANN headers were not found.
#include "collectives/backends.h"

namespace tangram::collectives::internal {

absl::StatusOr<std::unique_ptr<Communicator>> CreateHcclCommunicatorOver(
    Communicator&, const CommunicatorOptions&) {
  return absl::UnimplementedError(
      "the hccl island transport is not in this build (needs the Ascend CANN headers: set "
      "ASCEND_TOOLKIT_HOME and TANGRAM_WITH_HCCL=ON)");
}

}  // namespace tangram::collectives::internal
