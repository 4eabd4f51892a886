// Starts a training run on a transport: "sim" runs every rank as a thread of this process (no
// mpirun needed), "mpi" makes this process one rank of the job mpirun launched. When the ranks
// span several islands of the fleet, the world communicator is the composed "islands" one over
// that transport (docs/collectives.md), so data-parallel gradients cross islands through its
// hierarchical allreduce and tensor-parallel groups (always inside one island) use the island's.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_TRAIN_JOB_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_TRAIN_JOB_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orchestrator/runtime/trainer.h"

namespace tangram::orchestrator {

struct TrainLaunch {
  std::string transport = "sim";  // sim | mpi
  int ranks = 0;                  // sim: ranks to run; 0 = one per device of the job's fleet
  absl::Duration timeout = absl::Seconds(120);  // per communication call
  // Islands: when the ranks span more than one island of the fleet, every collective goes through
  // the composed "islands" communicator (each island's own transport inside, a bridge between).
  // This rank's island: -1 = the environment variable TANGRAM_ISLAND if set, else the fleet's
  // island of the device with this rank's index. `islands = false` uses one transport for all.
  int island = -1;
  bool islands = true;
};

// Runs `job` on every rank. Returns rank 0's result (sim) or this rank's (mpi); on failure, the
// root cause (the first rank's error that is not a consequence of another rank's abort).
absl::StatusOr<TrainResult> RunTraining(const JobConfig& job,
                                        const partitioner::DeviceCatalog& catalog,
                                        const TrainOptions& options, const TrainLaunch& launch);

// Creates `dir` if needed and writes and removes a probe file in it, so that an unwritable
// checkpoint directory fails the run before training rather than at the first checkpoint.
// Naming the directory: kFailedPrecondition when it cannot be written at all, kResourceExhausted
// or kInternal when the disk is full or failing (base/files.h: a runtime failure, retried).
absl::Status CheckWritableDirectory(const std::string& dir);

// Makes the kernel kill this process (SIGKILL) when its parent, the launcher (mpirun or its
// daemon), dies, so that an orphaned rank stops before it commits another checkpoint.
// kAborted when the parent is already gone; a no-op returning OK where unsupported (not Linux).
absl::Status DieWithParent();

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_TRAIN_JOB_H_
