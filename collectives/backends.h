// Entry points of the optional backends, called by CreateCommunicator. Each is defined either by
// the backend (mpi/mpi_communicator.cc, nccl/nccl_communicator.cc) or, when the build does not
// include it, by a stub in unavailable/ that returns kUnimplemented. Internal to collectives.
#ifndef TANGRAM_COLLECTIVES_BACKENDS_H_
#define TANGRAM_COLLECTIVES_BACKENDS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/communicator.h"
#include "collectives/transport.h"

namespace tangram::collectives::internal {

absl::StatusOr<std::unique_ptr<Communicator>> CreateMpiCommunicator(
    const CommunicatorOptions& options);
absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(
    const CommunicatorOptions& options);

// The islands layer's entry points (islands/island_factory.cc).
absl::StatusOr<std::unique_ptr<Communicator>> CreateIslandCommunicator(
    const CommunicatorOptions& options);
// Point-to-point over a duplicate of MPI_COMM_WORLD (the bridge between islands).
absl::StatusOr<std::unique_ptr<Transport>> CreateMpiWorldTransport();
// An NCCL (HCCL) communicator over the ranks of `bootstrap` (a host communicator over the same
// ranks, used to agree on the library's unique id). Collective over `bootstrap`.
absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicatorOver(
    Communicator& bootstrap, const CommunicatorOptions& options);
absl::StatusOr<std::unique_ptr<Communicator>> CreateHcclCommunicatorOver(
    Communicator& bootstrap, const CommunicatorOptions& options);
// True when this build has NCCL and this process sees a CUDA device.
bool NcclUsable();
// Under a multi-rank MPI job (MPI initialised, not finalised): ends the whole job (MPI_Abort after
// `grace`) and does not return. Otherwise returns at once.
void EndMpiJobAfterFailure(int exit_code, absl::Duration grace);

}  // namespace tangram::collectives::internal

#endif  // TANGRAM_COLLECTIVES_BACKENDS_H_
