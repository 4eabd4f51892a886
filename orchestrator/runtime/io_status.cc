#include "orchestrator/runtime/io_status.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tangram::orchestrator {

absl::Status IoStatus(int err, const std::string& message) {
  const std::string text = absl::StrCat(message, ": ", std::strerror(err));
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return absl::ResourceExhaustedError(text);
    case EIO:
      return absl::InternalError(text);
    default:
      return absl::FailedPreconditionError(text);
  }
}

}  // namespace tangram::orchestrator
