#include "base/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tangram {

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

// POSIX calls rather than std::ofstream: a stream's failure does not say why (errno), and the why
// decides the exit code.
absl::Status WriteTextFile(const std::string& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoStatus(errno, absl::StrCat("cannot write ", path));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return IoStatus(err, absl::StrCat("cannot write ", path));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return IoStatus(errno, absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace tangram
