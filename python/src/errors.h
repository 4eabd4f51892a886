// absl::Status → Python: a failed call raises tangram.TangramError (python/tangram/errors.py),
// whose `.code` is the status code's name ("DEADLINE_EXCEEDED", "UNAVAILABLE", ...) and whose
// `.message` is the status message.
#ifndef TANGRAM_PYTHON_SRC_ERRORS_H_
#define TANGRAM_PYTHON_SRC_ERRORS_H_

#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tangram::python {

// Thrown by the bindings; the translator registered in module.cc turns it into TangramError.
class StatusError : public std::exception {
 public:
  explicit StatusError(absl::Status status) : status_(std::move(status)) {}
  const absl::Status& status() const { return status_; }
  const char* what() const noexcept override { return "tangram status error"; }

 private:
  absl::Status status_;
};

inline void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) throw StatusError(status);
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> value) {
  if (!value.ok()) throw StatusError(value.status());
  return *std::move(value);
}

// Registers the StatusError → TangramError translator.
void RegisterErrorTranslator();

}  // namespace tangram::python

#endif  // TANGRAM_PYTHON_SRC_ERRORS_H_
