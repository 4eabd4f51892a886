#include "orchestrator/simulator/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace tangram::simulator {

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(std::max<int64_t>(1, total)),
      enabled_(enabled && isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
}

void Progress::Update(int64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1)) return;
  if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done < total_) return;
  last_ = now;
  drawn_ = true;
  constexpr int kWidth = 30;
  const double f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const int fill = static_cast<int>(f * kWidth);
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "\r%s [%.*s%*s] %3.0f%% %lld/%lld  %.1f s", label_.c_str(), fill,
               "##############################", kWidth - fill, "", 100 * f,
               static_cast<long long>(done), static_cast<long long>(total_), elapsed);
  std::fflush(stderr);
}

}  // namespace tangram::simulator
