// A progress bar on stderr for long simulations: drawn only when stderr is a terminal and only
// once the work has taken more than a second, so quick runs and pipes stay clean.
// Not thread-safe; one per loop.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_PROGRESS_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace tangram::simulator {

class Progress {
 public:
  // `enabled` false (or stderr not a terminal) makes every call a no-op.
  Progress(std::string label, int64_t total, bool enabled);
  ~Progress();  // clears the bar if one was drawn
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Update(int64_t done);

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace tangram::simulator

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_PROGRESS_H_
