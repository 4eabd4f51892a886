// Built instead of mpi/ when this build has no MPI.
#include "collectives/backends.h"

namespace tangram::collectives::internal {

absl::StatusOr<std::unique_ptr<Communicator>> CreateMpiCommunicator(const CommunicatorOptions&) {
  return absl::UnimplementedError(
      "the mpi transport is not in this build (configure with MPI found, TANGRAM_WITH_MPI=ON)");
}

absl::StatusOr<std::unique_ptr<Transport>> CreateMpiWorldTransport() {
  return absl::UnimplementedError(
      "the islands bridge needs MPI, which is not in this build (TANGRAM_WITH_MPI=ON)");
}
void EndMpiJobAfterFailure(int, absl::Duration) {}

}  // namespace tangram::collectives::internal
