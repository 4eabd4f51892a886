#include "orchestrator/runtime/stop_request.h"

#include <atomic>
#include <csignal>

namespace tangram::orchestrator {
namespace {

// Lock-free, so setting it is async-signal-safe.
std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void OnStopSignal(int /*signal*/) { stop_requested.store(true); }

}  // namespace

void InstallStopRequestHandler() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &action, nullptr);
}

bool StopRequested() { return stop_requested.load(); }
void RequestStop() { stop_requested.store(true); }
void ClearStopRequest() { stop_requested.store(false); }

}  // namespace tangram::orchestrator
