// Status helpers shared by every Tangram component.
//
// Debian 12's Abseil (20220623) ships neither RETURN_IF_ERROR nor ASSIGN_OR_RETURN, so Tangram
// defines its own, once, here. Both *return* from the calling function; nothing here aborts.
#ifndef TANGRAM_BASE_STATUS_MACROS_H_
#define TANGRAM_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status); returns it from the current function unless it is OK.
#define TANGRAM_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::absl::Status _tangram_status = (expr);           \
    if (!_tangram_status.ok()) return _tangram_status; \
  } while (0)

#define TANGRAM_STATUS_CONCAT_INNER_(a, b) a##b
#define TANGRAM_STATUS_CONCAT_(a, b) TANGRAM_STATUS_CONCAT_INNER_(a, b)

// `TANGRAM_ASSIGN_OR_RETURN(auto x, MakeX());` evaluates an absl::StatusOr<T>; on error returns
// its status, otherwise moves the value into `lhs`.
#define TANGRAM_ASSIGN_OR_RETURN(lhs, expr) \
  TANGRAM_ASSIGN_OR_RETURN_IMPL_(TANGRAM_STATUS_CONCAT_(_tangram_statusor_, __LINE__), lhs, expr)
#define TANGRAM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).status();       \
  lhs = std::move(tmp).value()

namespace tangram {

// Prefixes `status`'s message with `context` ("context: message"), keeping its code.
inline absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), std::string(context) + ": " + std::string(status.message()));
}

}  // namespace tangram

#endif  // TANGRAM_BASE_STATUS_MACROS_H_
