#include "orchestrator/runtime/train_job.h"

#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "collectives/sim/sim_world.h"

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
  TANGRAM_RETURN_IF_ERROR(DieWithParent());
  collectives::CommunicatorOptions comm_options;
  comm_options.timeout = launch.timeout;
  TANGRAM_ASSIGN_OR_RETURN(auto world, collectives::CreateCommunicator("mpi", comm_options));
  TrainOptions mine = options;
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

absl::Status CheckWritableDirectory(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();  // no checkpoints
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoint: cannot create directory ", dir, ": ", ec.message()));
  }
  const std::string probe = absl::StrCat(dir, "/.tangram-write-probe-", getpid(), "-",
                                         std::hash<std::thread::id>()(std::this_thread::get_id()));
  {
    std::ofstream out(probe);
    out << "probe\n";
    out.flush();
    if (!out) {
      return absl::FailedPreconditionError(absl::StrCat(
          "checkpoint directory ", dir, ": not writable (", std::strerror(errno), ")"));
    }
  }
  std::filesystem::remove(probe, ec);
  return absl::OkStatus();
}

absl::Status DieWithParent() {
#ifdef __linux__
  const pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    return absl::InternalError(absl::StrCat("prctl(PR_SET_PDEATHSIG): ", std::strerror(errno)));
  }
  // The parent may have died before the call: then it was re-parented already.
  if (getppid() != parent) {
    return absl::AbortedError("the launcher (parent process) is gone; not starting");
  }
#endif
  return absl::OkStatus();
}

absl::StatusOr<TrainResult> RunTraining(const JobConfig& job,
                                        const partitioner::DeviceCatalog& catalog,
                                        const TrainOptions& options, const TrainLaunch& launch) {
  TANGRAM_RETURN_IF_ERROR(CheckWritableDirectory(
      options.checkpoint_dir.empty() ? job.checkpoint_dir : options.checkpoint_dir));
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
