// Progress of a long loop (simulated steps, compared strategies) on stderr, so that a run of
// minutes never looks hung. On a terminal, with the bar asked for, a bar redrawn in place once the
// work has taken more than a second. Otherwise (piped output, --no-progress, --json) a plain line
// at most every ten seconds of wall time, so quick runs print nothing and logs stay short.
// Not thread-safe; one per loop.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_PROGRESS_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace tangram::simulator {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  // Where progress goes; tests pass a file and a clock of their own.
  struct Output {
    std::FILE* file = stderr;
    bool terminal = false;  // the file is a terminal: a bar can be drawn in place
    std::function<Clock::time_point()> now = [] { return Clock::now(); };
  };
  // The interval between plain progress lines.
  static constexpr std::chrono::seconds kLineInterval{10};

  // `bar`: draw a bar when stderr is a terminal; plain lines are printed either way.
  Progress(std::string label, int64_t total, bool bar);
  Progress(std::string label, int64_t total, bool bar, Output output);
  ~Progress();  // clears the bar if one was drawn
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Update(int64_t done);

 private:
  void DrawBar(int64_t done, double elapsed_s);
  void PrintLine(int64_t done, double elapsed_s);

  std::string label_;
  int64_t total_;
  Output output_;
  bool bar_;
  bool drawn_ = false;
  Clock::time_point start_, last_;
};

}  // namespace tangram::simulator

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_PROGRESS_H_
