#include "orchestrator/simulator/progress.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

namespace tangram::simulator {

Progress::Progress(std::string label, int64_t total, bool bar)
    : Progress(std::move(label), total, bar, Output{.terminal = isatty(STDERR_FILENO) == 1}) {}

Progress::Progress(std::string label, int64_t total, bool bar, Output output)
    : label_(std::move(label)),
      total_(std::max<int64_t>(1, total)),
      output_(std::move(output)),
      bar_(bar && output_.terminal),
      start_(output_.now()),
      last_(start_) {}

Progress::~Progress() {
  if (drawn_) std::fprintf(output_.file, "\r\033[K");
}

void Progress::Update(int64_t done) {
  const Clock::time_point now = output_.now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (!bar_) {
    // Only while work is left: a line saying "done" just before the result adds nothing.
    if (done < total_ && now - last_ >= kLineInterval) {
      last_ = now;
      PrintLine(done, elapsed);
    }
    return;
  }
  if (now - start_ < std::chrono::seconds(1)) return;
  if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done < total_) return;
  last_ = now;
  DrawBar(done, elapsed);
}

void Progress::DrawBar(int64_t done, double elapsed_s) {
  drawn_ = true;
  constexpr int kWidth = 30;
  const double f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const int fill = static_cast<int>(f * kWidth);
  std::fprintf(output_.file, "\r%s [%.*s%*s] %3.0f%% %lld/%lld  %.1f s", label_.c_str(), fill,
               "##############################", kWidth - fill, "", 100 * f,
               static_cast<long long>(done), static_cast<long long>(total_), elapsed_s);
  std::fflush(output_.file);
}

void Progress::PrintLine(int64_t done, double elapsed_s) {
  std::fprintf(output_.file, "%s: %lld of %lld done after %.0f s", label_.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), elapsed_s);
  if (done > 0) {
    // At the rate so far; drift makes every step cost about the same, so this holds well.
    const double left_s =
        elapsed_s * static_cast<double>(total_ - done) / static_cast<double>(done);
    std::fprintf(output_.file, ", about %.0f s left", left_s);
  }
  std::fprintf(output_.file, "\n");
  std::fflush(output_.file);
}

}  // namespace tangram::simulator
