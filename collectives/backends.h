// Entry points of the optional backends, called by CreateCommunicator. Each is defined either by
// the backend (mpi/mpi_communicator.cc, nccl/nccl_communicator.cc) or, when the build does not
// include it, by a stub in unavailable/ that returns kUnimplemented. Internal to collectives.
#ifndef TANGRAM_COLLECTIVES_BACKENDS_H_
#define TANGRAM_COLLECTIVES_BACKENDS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/communicator.h"

namespace tangram::collectives::internal {

absl::StatusOr<std::unique_ptr<Communicator>> CreateMpiCommunicator(
    const CommunicatorOptions& options);
absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(
    const CommunicatorOptions& options);

// Under a multi-rank MPI job (MPI initialised, not finalised): ends the whole job (MPI_Abort after
// `grace`) and does not return. Otherwise returns at once.
void EndMpiJobAfterFailure(int exit_code, absl::Duration grace);

}  // namespace tangram::collectives::internal

#endif  // TANGRAM_COLLECTIVES_BACKENDS_H_
