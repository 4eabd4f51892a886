#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#ifdef TANGRAM_HAVE_SPDLOG
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#endif

namespace tangram::logging {
namespace {

// The threshold, read from TANGRAM_LOG_LEVEL on first use (an unreadable value keeps info: a
// typo in the environment must not silence warnings; the CLI reports it).
std::atomic<int>& Threshold() {
  static std::atomic<int> threshold = [] {
    const char* env = std::getenv("TANGRAM_LOG_LEVEL");
    absl::StatusOr<Level> level = ParseLevel(env != nullptr ? env : "info");
    return static_cast<int>(level.ok() ? *level : Level::kInfo);
  }();
  return threshold;
}

struct State {
  std::mutex mu;
  std::string prefix;                                     // guarded by mu
  std::function<void(Level, absl::string_view)> capture;  // guarded by mu
};
State& GetState() {
  static State* state = new State;  // never destroyed: logging may run during exit
  return *state;
}

#ifdef TANGRAM_HAVE_SPDLOG
spdlog::level::level_enum SpdLevel(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kOff:
      break;
  }
  return spdlog::level::off;
}

// A logger of its own (not spdlog's default, which writes to stdout): stderr, the message only —
// Tangram's lines carry their own wording ("warning: ..."), and scripts read them as they are.
spdlog::logger& Backend() {
  static spdlog::logger* logger = [] {
    auto* l = new spdlog::logger("tangram", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);  // the facade filters
    l->flush_on(spdlog::level::trace);   // every line reaches the terminal or file at once
    return l;
  }();
  return *logger;
}
#endif

void WriteLine(Level level, const std::string& line) {
#ifdef TANGRAM_HAVE_SPDLOG
  Backend().log(SpdLevel(level), "{}", line);
#else
  // No spdlog at configure time (deploy/install-deps.sh installs libspdlog-dev): one fwrite per
  // line under the caller's lock, flushed, is all the facade promises.
  (void)level;
  const std::string out = line + "\n";
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
#endif
}

}  // namespace

absl::StatusOr<Level> ParseLevel(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "debug") return Level::kDebug;
  if (n == "info") return Level::kInfo;
  if (n == "warn" || n == "warning") return Level::kWarn;
  if (n == "error") return Level::kError;
  if (n == "off") return Level::kOff;
  return absl::InvalidArgumentError(
      absl::StrCat("log level \"", name, "\": expected debug, info, warn, error or off"));
}

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      break;
  }
  return "off";
}

void SetLevel(Level level) { Threshold().store(static_cast<int>(level)); }
Level GetLevel() { return static_cast<Level>(Threshold().load()); }
bool Enabled(Level level) {
  return level != Level::kOff && static_cast<int>(level) >= Threshold().load();
}

void SetRank(int rank) {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  s.prefix = rank < 0 ? "" : absl::StrCat("[rank ", rank, "] ");
}

std::string Prefix() {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.prefix;
}

void Log(Level level, absl::string_view message) {
  if (!Enabled(level)) return;
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  const std::string line = absl::StrCat(s.prefix, message);
  if (s.capture) {
    s.capture(level, line);
  } else {
    WriteLine(level, line);
  }
}

ScopedCapture::ScopedCapture(std::function<void(Level, absl::string_view)> sink) {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  s.capture = std::move(sink);
}

ScopedCapture::~ScopedCapture() {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  s.capture = nullptr;
}

}  // namespace tangram::logging
