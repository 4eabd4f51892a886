#include "collectives/mpi/liveness.h"

#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "collectives/backends.h"
#include "collectives/mpi/mpi_transport.h"

namespace tangram::collectives {
namespace mpi {
namespace {

constexpr int kHostBytes = 256;
constexpr int kTagRange = 30000;  // pings carry a probe number in their tag (MPI_TAG_UB >= 32767)

struct Liveness {
  bool started = false;
  int rank = 0;
  int size = 1;
  MPI_Comm pings = MPI_COMM_NULL;    // probes arrive here, on any tag
  MPI_Comm answers = MPI_COMM_NULL;  // answers, on the probe's tag
  MPI_Request incoming = MPI_REQUEST_NULL;
  std::vector<std::string> hosts;
  int probes = 0;
};

volatile sig_atomic_t terminating = 0;

void OnTerminate(int) {
  terminating = 1;
  alarm(2);  // SIGALRM's default action ends the process if no wait notices the request
}

void InstallTerminateHandler() {
  struct sigaction current;
  if (sigaction(SIGTERM, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) return;
  struct sigaction action = {};
  action.sa_handler = OnTerminate;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
}

Liveness& State() {
  static Liveness* state = new Liveness();  // used from atexit: never destroyed
  return *state;
}

void PostIncoming(Liveness& s) {
  if (MPI_Irecv(nullptr, 0, MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG, s.pings, &s.incoming) !=
      MPI_SUCCESS) {
    s.incoming = MPI_REQUEST_NULL;
  }
}

std::string RankOnHost(int rank) {
  return absl::StrCat("world rank ", rank, " (host ", HostOfWorldRank(rank), ")");
}

}  // namespace

absl::Status StartLiveness() {
  Liveness& s = State();
  if (s.started) return absl::OkStatus();
  MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &s.size);
  TANGRAM_MPI_CALL(MPI_Comm_dup(MPI_COMM_WORLD, &s.pings), s.rank);
  TANGRAM_MPI_CALL(MPI_Comm_dup(MPI_COMM_WORLD, &s.answers), s.rank);
  MPI_Comm_set_errhandler(s.pings, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(s.answers, MPI_ERRORS_RETURN);
  char mine[kHostBytes] = {};
  if (gethostname(mine, kHostBytes - 1) != 0) mine[0] = '?';
  std::vector<char> all(static_cast<size_t>(kHostBytes) * s.size);
  TANGRAM_MPI_CALL(
      MPI_Allgather(mine, kHostBytes, MPI_CHAR, all.data(), kHostBytes, MPI_CHAR, MPI_COMM_WORLD),
      s.rank);
  for (int r = 0; r < s.size; ++r) {
    const char* name = &all[static_cast<size_t>(r) * kHostBytes];
    s.hosts.emplace_back(name, strnlen(name, kHostBytes));
  }
  PostIncoming(s);
  InstallTerminateHandler();
  s.started = true;
  return absl::OkStatus();
}

void ServiceLiveness() {
  Liveness& s = State();
  if (!s.started) return;
  while (s.incoming != MPI_REQUEST_NULL) {
    int done = 0;
    MPI_Status status;
    if (MPI_Test(&s.incoming, &done, &status) != MPI_SUCCESS || !done) return;
    MPI_Request answer;  // empty message: nothing to keep alive until it is sent
    if (MPI_Isend(nullptr, 0, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, s.answers, &answer) ==
        MPI_SUCCESS) {
      MPI_Request_free(&answer);
    }
    PostIncoming(s);
  }
}

std::string DescribeUnresponsive(absl::Duration window) {
  Liveness& s = State();
  if (!s.started) return "";
  const std::string me = absl::StrCat(" [this is ", RankOnHost(s.rank), "]");
  if (s.size == 1) return me;
  const int tag = 1 + s.probes++ % kTagRange;
  std::vector<MPI_Request> answers(s.size, MPI_REQUEST_NULL);
  for (int r = 0; r < s.size; ++r) {
    if (r == s.rank) continue;
    MPI_Request ping;
    if (MPI_Isend(nullptr, 0, MPI_BYTE, r, tag, s.pings, &ping) == MPI_SUCCESS) {
      MPI_Request_free(&ping);
    }
    MPI_Irecv(nullptr, 0, MPI_BYTE, r, tag, s.answers, &answers[r]);
  }
  const absl::Time deadline = absl::Now() + window;
  for (;;) {
    ServiceLiveness();
    bool waiting = false;
    for (auto& request : answers) {
      if (request == MPI_REQUEST_NULL) continue;
      int done = 0;
      if (MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) done = 0;
      waiting = waiting || !done;
    }
    if (!waiting || absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  std::vector<std::string> silent;
  for (int r = 0; r < s.size; ++r) {
    if (answers[r] == MPI_REQUEST_NULL) continue;
    MPI_Cancel(&answers[r]);
    MPI_Request_free(&answers[r]);
    silent.push_back(RankOnHost(r));
  }
  if (silent.empty()) {
    return absl::StrCat(me,
                        "; every other rank answered a liveness probe (a peer may be waiting "
                        "in another call)");
  }
  return absl::StrCat(me, "; unresponsive (no answer to a liveness probe within ",
                      absl::FormatDuration(window), "): ", absl::StrJoin(silent, ", "));
}

bool TerminationRequested() { return terminating != 0; }

std::string HostOfWorldRank(int rank) {
  const Liveness& s = State();
  if (rank < 0 || rank >= static_cast<int>(s.hosts.size())) return "?";
  return s.hosts[rank];
}

void StopLiveness() {
  Liveness& s = State();
  if (!s.started || s.incoming == MPI_REQUEST_NULL) return;
  MPI_Cancel(&s.incoming);
  MPI_Request_free(&s.incoming);
}

void AbortWorld(int exit_code, absl::Duration grace) {
  if (TerminationRequested()) _exit(exit_code);  // the launcher is ending the job already
  const auto watchdog = absl::ToChronoMilliseconds(grace + absl::Seconds(5));
  std::thread([exit_code, watchdog] {
    std::this_thread::sleep_for(watchdog);
    _exit(exit_code);
  }).detach();
  const absl::Time until = absl::Now() + grace;
  while (absl::Now() < until) {
    ServiceLiveness();
    absl::SleepFor(absl::Milliseconds(1));
  }
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  _exit(exit_code);
}

}  // namespace mpi

namespace internal {

void EndMpiJobAfterFailure(int exit_code, absl::Duration grace) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) mpi::AbortWorld(exit_code, grace);
}

}  // namespace internal
}  // namespace tangram::collectives
