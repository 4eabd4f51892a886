#include "collectives/communicator.h"

#include "absl/strings/str_cat.h"
#include "collectives/backends.h"
#include "collectives/sim/sim_world.h"

namespace tangram::collectives {

absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(
    absl::string_view transport, const CommunicatorOptions& options) {
  if (transport == "sim") {
    if (options.sim_world == nullptr) {
      return absl::InvalidArgumentError(
          "CreateCommunicator(\"sim\"): options.sim_world is null (create a SimWorld first)");
    }
    return options.sim_world->CreateCommunicator(options.sim_rank, options);
  }
  if (transport == "mpi") return internal::CreateMpiCommunicator(options);
  if (transport == "nccl") return internal::CreateNcclCommunicator(options);
  if (transport == "islands") return internal::CreateIslandCommunicator(options);
  return absl::InvalidArgumentError(absl::StrCat("CreateCommunicator: unknown transport '",
                                                 transport, "' (known: sim, mpi, nccl, islands)"));
}

}  // namespace tangram::collectives
