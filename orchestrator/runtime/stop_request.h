// A request to stop training at the next step boundary with a checkpoint: what a cluster sends
// before it takes the machines away (Slurm's `#SBATCH --signal=B:USR1@120` before a time limit
// or a preemption; PyTorch Lightning's Slurm requeue uses the same signal). The signal is SIGUSR1:
// mpirun forwards it to every rank (Open MPI, mpirun(1) "Signal Propagation"), while SIGTERM is
// the launcher's teardown after a failure, when peers may be gone and no checkpoint can be
// written (collectives/mpi: a wait interrupted by it reports the ranks that did not answer).
//
// The handler only sets a flag. The trainer reads it at the end of every step and gathers it with
// the step's figures, so that every rank sees every rank's flag and all stop after the same step,
// whichever of them got the signal and when (a rank that got it a moment after the others' step
// ended still stops one step later with them). Thread-safe; the flag is process-wide.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_STOP_REQUEST_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_STOP_REQUEST_H_

namespace tangram::orchestrator {

// Installs the SIGUSR1 handler (SA_RESTART: interrupted system calls resume). Idempotent.
void InstallStopRequestHandler();

// Whether a stop was requested (by the signal or RequestStop) since the last ClearStopRequest.
bool StopRequested();

// What the handler does; for tests and embedders without signals.
void RequestStop();
void ClearStopRequest();

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_STOP_REQUEST_H_
