// CreateCommunicator("islands", options): the bridge first (MPI point-to-point over a duplicate
// of MPI_COMM_WORLD, or the SimWorld), everyone's island over it, then each island's own
// communicator, bootstrapped over a host sub-communicator of the island (MPI's or the sim's).
#include <cstdlib>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"
#include "collectives/backends.h"
#include "collectives/islands/island_communicator.h"
#include "collectives/sim/sim_world.h"

namespace tangram::collectives::internal {
namespace {

absl::StatusOr<int> IslandOfThisRank(const CommunicatorOptions& options) {
  if (options.island >= 0) return options.island;
  const char* env = std::getenv("TANGRAM_ISLAND");
  int island = -1;
  if (env == nullptr || !absl::SimpleAtoi(env, &island) || island < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "islands: this rank has no island: set CommunicatorOptions::island (tangram: --island) or "
        "the environment variable TANGRAM_ISLAND to an integer >= 0",
        env != nullptr ? absl::StrCat(" (TANGRAM_ISLAND=\"", env, "\")") : ""));
  }
  return island;
}

// The island's own communicator over `host` (this island's ranks, in rank order).
absl::StatusOr<std::unique_ptr<Communicator>> IslandLocal(const std::string& name,
                                                          std::unique_ptr<Communicator> host,
                                                          const CommunicatorOptions& options) {
  if (name == "mpi" || name == "sim") return host;
  if (name == "nccl") return CreateNcclCommunicatorOver(*host, options);
  if (name == "hccl") return CreateHcclCommunicatorOver(*host, options);
  return absl::InvalidArgumentError(absl::StrCat("islands: unknown island transport \"", name,
                                                 "\" (known: auto, mpi, sim, nccl, hccl)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Communicator>> CreateIslandCommunicator(
    const CommunicatorOptions& options) {
  TANGRAM_ASSIGN_OR_RETURN(const int island, IslandOfThisRank(options));
  const bool sim = options.sim_world != nullptr;
  std::string name = options.island_transport;
  if (name == "auto") name = sim ? "sim" : NcclUsable() ? "nccl" : "mpi";
  if (sim != (name == "sim")) {
    return absl::InvalidArgumentError(
        absl::StrCat("islands: island transport \"", name, "\" ",
                     sim ? "under a SimWorld" : "without a SimWorld",
                     " (the sim transport needs options.sim_world, and only it does)"));
  }

  // The bridge, and every rank's island over it.
  std::unique_ptr<Transport> bridge;
  if (sim) {
    TANGRAM_ASSIGN_OR_RETURN(bridge, options.sim_world->JoinTransport(options.sim_rank));
  } else {
    TANGRAM_ASSIGN_OR_RETURN(bridge, CreateMpiWorldTransport());
  }
  const int rank = bridge->rank();
  const int size = bridge->size();
  // From here on a failure aborts the bridge too, so that (on sim) no rank waits for this one.
  auto fail = [&](absl::Status status) {
    bridge->Abort(status);
    return status;
  };
  std::vector<int64_t> ids(size, 0);
  ids[rank] = island;
  const Group world = Group::Whole(*bridge, absl::Now() + options.timeout);
  if (absl::Status s =
          RingAllGatherV(world, ids.data(), std::vector<size_t>(size, 1), DataType::kI64);
      !s.ok()) {
    return fail(s);
  }
  std::vector<int> island_of(ids.begin(), ids.end());

  // This island's host communicator (MPI or sim), then its own library over it. A rank whose
  // island fails to start must not leave the other islands waiting: all agree first.
  absl::StatusOr<std::unique_ptr<Communicator>> host =
      sim ? options.sim_world->CreateCommunicator(options.sim_rank, options)
          : CreateMpiCommunicator(options);
  if (!host.ok()) return fail(host.status());
  auto host_island = (*host)->Split(island, rank);
  if (!host_island.ok()) return fail(host_island.status());
  absl::StatusOr<std::unique_ptr<Communicator>> local =
      IslandLocal(name, *std::move(host_island), options);
  int64_t ok = local.ok() ? 1 : 0, all_ok = 0;
  if (absl::Status s = (*host)->AllReduce(&ok, &all_ok, 1, DataType::kI64, ReduceOp::kMin);
      !s.ok()) {
    return fail(s);
  }
  if (!local.ok()) return fail(local.status());
  if (all_ok == 0) {
    return fail(absl::FailedPreconditionError(
        "islands: another island's transport failed to start (see that rank's error)"));
  }

  LinkCost bridge_link{20e-6, 12.5e9};  // a 100 Gb/s NIC, the fleet files' default
  if (sim && options.sim_world->options().links.ranks() > 0) {
    const LinkModel& links = options.sim_world->options().links;
    for (int r = 0; r < size; ++r) {
      if (island_of[r] != island) {
        bridge_link = links.Link(rank, r);
        break;
      }
    }
  }
  std::shared_ptr<DeviceMemory> memory =
      name == "nccl" ? CudaMemory() : HostMemory();  // hccl: host buffers through its slot
  return std::make_unique<IslandCommunicator>(std::move(bridge), *std::move(local),
                                              std::move(island_of), options, std::move(memory),
                                              bridge_link);
}

}  // namespace tangram::collectives::internal
