// Ending a distributed job that failed, so that no rank hangs.
//
// Under mpirun, a rank that returns from main() after a timed-out collective would call
// MPI_Finalize, which waits for peers that may be stopped, dead or cut off: the job then never
// ends (measured: still alive after 200 s). A failed rank calls EndJobAfterFailure instead, after
// printing its error: it aborts the whole job through the launcher.
#ifndef TANGRAM_COLLECTIVES_JOB_CONTROL_H_
#define TANGRAM_COLLECTIVES_JOB_CONTROL_H_

#include "absl/time/time.h"

namespace tangram::collectives {

// When this process is one rank of a multi-rank MPI job: answers the peers' liveness probes for
// `grace` (so that their error messages name the rank that really went silent), then calls
// MPI_Abort with `exit_code`, which makes mpirun/srun end every rank; does not return (a
// watchdog _exits 5 s later if the launcher cannot be reached). Otherwise returns at once.
void EndJobAfterFailure(int exit_code, absl::Duration grace = absl::Seconds(1));

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_JOB_CONTROL_H_
