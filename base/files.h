// Writing a file, and what a failed write means to the exit-code contract (docs/training.md: 1
// runtime failure, retried by deploy/launch.sh and the Slurm recipe; 2 configuration error, not
// retried). A full disk, an exhausted quota or a failing device is the machine's state at that
// moment: the same command may succeed later, so it is a runtime failure. A path that cannot be
// written at all (permissions, a file where a directory should be, a read-only file system) is the
// command's input: retrying it changes nothing, so it is a configuration error. Every command that
// writes an output file (plan --out, probe --out, hostfile, design, simulate's trace and charts)
// and the trainer's checkpoints and metrics follow this one rule.
#ifndef TANGRAM_BASE_FILES_H_
#define TANGRAM_BASE_FILES_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace tangram {

// `message` + ": " + strerror(err), with kResourceExhausted for ENOSPC, EDQUOT and EFBIG,
// kInternal for EIO (both exit 1) and kFailedPrecondition for any other errno (exit 2).
absl::Status IoStatus(int err, const std::string& message);

// Writes `text` to `path` (created or truncated). On failure, IoStatus naming `path`.
absl::Status WriteTextFile(const std::string& path, std::string_view text);

}  // namespace tangram

#endif  // TANGRAM_BASE_FILES_H_
