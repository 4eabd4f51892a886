#include "orchestrator/runtime/train_job.h"

#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/log.h"
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

// The fleet's island of each of `ranks` ranks (rank r runs device r; ranks past the fleet: 0).
std::vector<int> IslandOfRanks(const JobConfig& job, int ranks) {
  const std::vector<partitioner::DeviceSlot> slots = partitioner::FlattenFleet(job.fleet);
  std::vector<int> island_of(ranks, 0);
  for (int r = 0; r < ranks && r < static_cast<int>(slots.size()); ++r) {
    island_of[r] = slots[r].island;
  }
  return island_of;
}

bool SeveralIslands(const std::vector<int>& island_of) {
  return std::set<int>(island_of.begin(), island_of.end()).size() > 1;
}

// This rank's island: --island, else TANGRAM_ISLAND (set by a launcher), else the fleet's.
int IslandOf(const TrainLaunch& launch, const std::vector<int>& island_of, int rank) {
  if (launch.island >= 0) return launch.island;
  // -1: the islands factory reads (and validates) TANGRAM_ISLAND itself.
  if (std::getenv("TANGRAM_ISLAND") != nullptr) return -1;
  return island_of[rank];
}

absl::StatusOr<TrainResult> RunSim(const JobConfig& job, const partitioner::DeviceCatalog& catalog,
                                   const TrainOptions& options, const TrainLaunch& launch) {
  collectives::SimOptions sim;
  sim.ranks = launch.ranks > 0 ? launch.ranks : static_cast<int>(job.fleet.num_devices());
  sim.timeout = launch.timeout;
  TANGRAM_ASSIGN_OR_RETURN(auto world, collectives::SimWorld::Create(sim));
  std::optional<absl::StatusOr<TrainResult>> root;
  auto train = [&](collectives::Communicator& comm) {
    absl::StatusOr<TrainResult> r = TrainOnRank(comm, job, catalog, options);
    absl::Status status = r.status();
    if (comm.rank() == 0) root = std::move(r);
    return status;
  };
  const std::vector<int> island_of = IslandOfRanks(job, sim.ranks);
  std::vector<absl::Status> statuses;
  if (!launch.islands || !SeveralIslands(island_of)) {
    statuses = world->Run(train);
  } else {
    // One thread per rank, each with its islands communicator over the sim world.
    logging::Info(
        absl::StrCat("islands: ", std::set<int>(island_of.begin(), island_of.end()).size(),
                     " islands; collectives through the composed communicator (sim "
                     "inside each island, sim bridge between)"));
    statuses.resize(sim.ranks);
    std::vector<std::thread> threads;
    for (int r = 0; r < sim.ranks; ++r) {
      threads.emplace_back([&, r] {
        collectives::CommunicatorOptions comm_options;
        comm_options.timeout = launch.timeout;
        comm_options.sim_world = world.get();
        comm_options.sim_rank = r;
        comm_options.island = island_of[r];
        auto comm = collectives::CreateCommunicator("islands", comm_options);
        if (!comm.ok()) {
          statuses[r] = comm.status();
          return;
        }
        statuses[r] = train(**comm);
        if (!statuses[r].ok()) (*comm)->Abort(statuses[r]);
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
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
  // One process per rank: every line it logs from here on says which rank it is, but rank 0's,
  // which speak for the job and are read by users and scripts as they are.
  if (world->rank() != 0) logging::SetRank(world->rank());
  const std::vector<int> island_of = IslandOfRanks(job, world->size());
  const bool launcher_set = std::getenv("TANGRAM_ISLAND") != nullptr;
  if (launch.islands && (SeveralIslands(island_of) || launch.island >= 0 || launcher_set)) {
    // Inside each island its own transport (MPI sub-communicators for the CPU reference model;
    // a GPU trainer would get NCCL/HCCL there), MPI point-to-point between islands.
    comm_options.island = IslandOf(launch, island_of, world->rank());
    comm_options.island_transport = "mpi";
    TANGRAM_ASSIGN_OR_RETURN(world, collectives::CreateCommunicator("islands", comm_options));
    if (world->rank() == 0) {
      logging::Info(absl::StrCat(
          "islands: ", std::set<int>(island_of.begin(), island_of.end()).size(),
          " islands; collectives through the composed communicator (mpi inside each island, MPI "
          "point-to-point bridge between)"));
    }
  }
  TrainOptions mine = options;
  mine.check_hosts = true;
  return TrainOnRank(*world, job, catalog, mine);
}

}  // namespace

absl::Status CheckWritableDirectory(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();  // no checkpoints
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    // A full disk is a runtime failure (retried), a path that cannot be made one of the job's.
    return IoStatus(ec.value(), absl::StrCat("checkpoint: cannot create directory ", dir));
  }
  const std::string probe = absl::StrCat(dir, "/.tangram-write-probe-", getpid(), "-",
                                         std::hash<std::thread::id>()(std::this_thread::get_id()));
  {
    errno = 0;
    std::ofstream out(probe);
    out << "probe\n";
    out.flush();
    if (!out) {
      const int err = errno != 0 ? errno : EIO;
      std::filesystem::remove(probe, ec);
      return IoStatus(err, absl::StrCat("checkpoint directory ", dir, ": not writable"));
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
  std::string source;
  if (launch.transport == "sim" && LauncherWorldSize(&source) > 1) {
    // Every rank would train its own private simulated world and write the same checkpoints.
    return absl::FailedPreconditionError(absl::StrCat(
        "transport \"sim\" runs every rank as a thread of one process, but a launcher started ",
        LauncherWorldSize(), " processes (", source,
        "): pass --transport mpi (or set `transport: mpi` in ", job.path,
        "), or run without mpirun/srun"));
  }
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
