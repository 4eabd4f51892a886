#include "orchestrator/runtime/train_job.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "collectives/sim/sim_world.h"
#include "orchestrator/runtime/hosts.h"

namespace tangram::orchestrator {
namespace {

// Errors that one rank gets because another failed first.
bool IsConsequence(const absl::Status& s) {
  return s.code() == absl::StatusCode::kAborted || s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kCancelled;
}

absl::StatusOr<TrainResult> RunSim(const JobConfig& job, const partitioner::DeviceCatalog& catalog,
                                   const TrainOptions& options, const TrainLaunch& launch) {
  collectives::SimOptions sim;
  sim.ranks = launch.ranks > 0 ? launch.ranks : static_cast<int>(job.fleet.num_devices());
  sim.timeout = launch.timeout;
  TANGRAM_ASSIGN_OR_RETURN(auto world, collectives::SimWorld::Create(sim));
  std::optional<absl::StatusOr<TrainResult>> root;
  std::vector<absl::Status> statuses = world->Run([&](collectives::Communicator& comm) {
    TrainOptions mine = options;
    if (comm.rank() != 0) mine.out = nullptr;
    absl::StatusOr<TrainResult> r = TrainOnRank(comm, job, catalog, mine);
    absl::Status status = r.status();
    if (comm.rank() == 0) root = std::move(r);
    return status;
  });
  for (const auto& s : statuses) {
    if (!s.ok() && !IsConsequence(s)) return s;
  }
  for (const auto& s : statuses) {
    if (!s.ok()) return s;
  }
  if (!root.has_value()) return absl::InternalError("rank 0 returned no result");
  return std::move(*root);
}

absl::StatusOr<TrainResult> RunMpi(const JobConfig& job, const partitioner::DeviceCatalog& catalog,
                                   const TrainOptions& options, const TrainLaunch& launch) {
  collectives::CommunicatorOptions comm_options;
  comm_options.timeout = launch.timeout;
  TANGRAM_ASSIGN_OR_RETURN(auto world, collectives::CreateCommunicator("mpi", comm_options));
  TrainOptions mine = options;
  mine.check_hosts = true;
  if (world->rank() != 0) mine.out = nullptr;
  if (world->rank() == 0 && mine.out != nullptr && world->size() == 1 &&
      job.fleet.num_devices() > 1) {
    *mine.out << "note: 1 MPI rank for a fleet of " << job.fleet.num_devices()
              << " devices; launch with `mpirun -np " << job.fleet.num_devices()
              << "` (or use --transport sim) to run them all\n";
  }
  return TrainOnRank(*world, job, catalog, mine);
}

}  // namespace

absl::StatusOr<TrainResult> RunTraining(const JobConfig& job,
                                        const partitioner::DeviceCatalog& catalog,
                                        const TrainOptions& options, const TrainLaunch& launch) {
  std::string source;
  if (launch.transport == "sim" && LauncherWorldSize(&source) > 1) {
    // Every rank would train its own private simulated world and write the same checkpoints.
    return absl::FailedPreconditionError(absl::StrCat(
        "transport \"sim\" runs every rank as a thread of one process, but a launcher started ",
        LauncherWorldSize(), " processes (", source,
        "): pass --transport mpi (or set `transport: mpi` in ", job.path,
        "), or run without mpirun/srun"));
  }
  if (launch.transport == "sim") return RunSim(job, catalog, options, launch);
  if (launch.transport == "mpi") return RunMpi(job, catalog, options, launch);
  if (launch.transport == "nccl") {
    return absl::FailedPreconditionError(
        "the CPU reference runtime trains over \"mpi\" or \"sim\"; \"nccl\" carries device buffers "
        "(use it from a GPU trainer through the Communicator API)");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown transport \"", launch.transport, "\" (known: sim, mpi, nccl)"));
}

}  // namespace tangram::orchestrator
