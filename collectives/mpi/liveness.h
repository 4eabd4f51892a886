// Liveness of the ranks of MPI_COMM_WORLD, so that a timed-out call can say *which* rank went
// silent and on which host, and so that a failed job ends instead of hanging in MPI_Finalize.
//
// MPI cannot tell which member of a collective is missing. When a wait times out, the rank that
// waited pings every other rank on a private duplicate of MPI_COMM_WORLD; a rank answers pings
// whenever it waits in one of our calls (ServiceLiveness, called from WaitUntil's loop), so a
// healthy peer answers within milliseconds and a stopped, dead or cut-off one does not answer at
// all. Host names are gathered once at start-up: a dead rank cannot be asked for its host.
//
// Thread-compatible, like the rest of the MPI backend (MPI_THREAD_SERIALIZED).
#ifndef TANGRAM_COLLECTIVES_MPI_LIVENESS_H_
#define TANGRAM_COLLECTIVES_MPI_LIVENESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace tangram::collectives::mpi {

// Collective over MPI_COMM_WORLD the first time (every rank must call it, in the same order as its
// other world collectives); a no-op afterwards. Gathers every rank's host name and posts the
// receive that pings arrive on.
absl::Status StartLiveness();

// Answers the pings that have arrived. Cheap (one MPI_Test) when none has; a no-op before
// StartLiveness.
void ServiceLiveness();

// Pings every other world rank and waits up to `window` for the answers (answering others' pings
// meanwhile). Returns a sentence for an error message, naming this rank and host and the ranks
// that did not answer, with their hosts; "" before StartLiveness.
std::string DescribeUnresponsive(absl::Duration window);

// True once the launcher has asked this process to stop (SIGTERM: mpirun and srun send it before
// SIGKILL when they end a job, e.g. after losing a host). StartLiveness installs the handler
// (unless the application set its own), which also arms a 2 s alarm so that the process still
// ends if it never reaches another wait. A wait that sees the request stops, probes its peers and
// reports them, so that each rank says which peers it was waiting for when the job was ended.
bool TerminationRequested();

// The host name world rank `rank` reported at start-up ("?" when unknown).
std::string HostOfWorldRank(int rank);

// Cancels the pending ping receive (before MPI_Finalize).
void StopLiveness();

// Ends the job after a failure: answers pings for `grace` (so that the peers' probes find this
// rank alive and name the right culprit), then MPI_Abort(MPI_COMM_WORLD, exit_code), which makes
// the launcher kill every rank. A watchdog _exits this process if MPI_Abort has not ended it
// within 5 s (it cannot always reach a launcher across a cut link). Never returns.
[[noreturn]] void AbortWorld(int exit_code, absl::Duration grace);

}  // namespace tangram::collectives::mpi

#endif  // TANGRAM_COLLECTIVES_MPI_LIVENESS_H_
