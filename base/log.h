// Leveled, rank-prefixed logging for library code: one process-wide logger, writing one line per
// call to stderr (stdout stays the program's result: tables, --json).
//
//   logging::Info(absl::StrFormat("step %d/%d", step, steps));
//   logging::Warn("warning: steps 4-6 took ...");  // the message carries its own wording
//
// Levels: debug < info (the default) < warn < error; off silences everything. The level comes from
// TANGRAM_LOG_LEVEL (debug|info|warn|error|off) when the process first logs, and SetLevel (the
// CLI's --log-level) overrides it. SetRank gives every later line a "[rank N] " prefix; a launcher
// of one process per rank calls it once, after its communicator is up.
//
// The header is a facade: it names no logging library, so that nothing including it (partitioner
// and collectives headers never do) inherits one. base/log.cc writes through spdlog when the build
// found it, else through a minimal stderr writer.
//
// Thread-safe: lines from concurrent threads never interleave.
#ifndef TANGRAM_BASE_LOG_H_
#define TANGRAM_BASE_LOG_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tangram::logging {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// "debug", "info", "warn" (or "warning"), "error", "off", any case. kInvalidArgument naming the
// accepted names otherwise.
absl::StatusOr<Level> ParseLevel(absl::string_view name);
absl::string_view LevelName(Level level);

// The process-wide threshold: lines below it are dropped.
void SetLevel(Level level);
Level GetLevel();
bool Enabled(Level level);

// Every later line starts with "[rank N] "; a negative rank removes the prefix.
void SetRank(int rank);
// The prefix lines now get ("" when no rank is set).
std::string Prefix();

// Writes `message` as one line (prefix + message) when `level` is enabled.
void Log(Level level, absl::string_view message);
inline void Debug(absl::string_view message) { Log(Level::kDebug, message); }
inline void Info(absl::string_view message) { Log(Level::kInfo, message); }
inline void Warn(absl::string_view message) { Log(Level::kWarn, message); }
inline void Error(absl::string_view message) { Log(Level::kError, message); }

// Tests: every enabled line (prefix included) goes to `sink` instead of stderr until the returned
// guard is destroyed. Not nested: one capture at a time.
class ScopedCapture {
 public:
  explicit ScopedCapture(std::function<void(Level, absl::string_view line)> sink);
  ~ScopedCapture();
  ScopedCapture(const ScopedCapture&) = delete;
  ScopedCapture& operator=(const ScopedCapture&) = delete;
};

}  // namespace tangram::logging

#endif  // TANGRAM_BASE_LOG_H_
