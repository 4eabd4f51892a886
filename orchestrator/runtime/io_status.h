// One rule for what an I/O failure means to the exit-code contract (docs/training.md: 1 runtime
// failure, retried by deploy/launch.sh and the Slurm recipe; 2 configuration error, not retried).
// A full disk, an exhausted quota or a failing device is the machine's state at that moment: the
// same command may succeed later, so it is a runtime failure. A path that cannot be written at all
// (permissions, a file where a directory should be, a read-only file system) is the command's
// input: retrying it changes nothing, so it is a configuration error. Pure function.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_IO_STATUS_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_IO_STATUS_H_

#include <string>

#include "absl/status/status.h"

namespace tangram::orchestrator {

// `message` + ": " + strerror(err), with kResourceExhausted for ENOSPC, EDQUOT and EFBIG,
// kInternal for EIO (both exit 1) and kFailedPrecondition for any other errno (exit 2).
absl::Status IoStatus(int err, const std::string& message);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_IO_STATUS_H_
