// Built instead of nccl/ when this build has no NCCL (or no MPI to bootstrap it).
#include "collectives/backends.h"

namespace tangram::collectives::internal {

absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(const CommunicatorOptions&) {
  return absl::UnimplementedError(
      "the nccl transport is not in this build (needs CUDA, NCCL and MPI; TANGRAM_WITH_NCCL=ON)");
}

absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicatorOver(
    Communicator&, const CommunicatorOptions&) {
  return CreateNcclCommunicator({});
}

bool NcclUsable() { return false; }

}  // namespace tangram::collectives::internal
