#include "collectives/mpi/mpi_transport.h"

#include <sched.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "collectives/mpi/liveness.h"
#include "collectives/wait_policy.h"

namespace tangram::collectives::mpi {
namespace {

void FinalizeAtExit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  StopLiveness();
  MPI_Finalize();
}

class MpiRequest : public TransportRequest {
 public:
  MpiRequest(MPI_Request request, const char* what, int rank)
      : request_(request), what_(what), rank_(rank) {}
  ~MpiRequest() override {
    if (request_ != MPI_REQUEST_NULL) {
      MPI_Cancel(&request_);
      MPI_Request_free(&request_);
    }
  }
  absl::Status Wait(absl::Time deadline) override {
    return WaitUntil(&request_, deadline, what_, rank_, /*cancellable=*/true);
  }

 private:
  MPI_Request request_;
  const char* what_;
  int rank_;
};

absl::Status CheckBytes(size_t bytes) {
  if (bytes > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("mpi: a message of ", bytes, " bytes exceeds MPI's int count"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EnsureInitialized() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    TANGRAM_MPI_CALL(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), -1);
    std::atexit(FinalizeAtExit);
  }
  TANGRAM_MPI_CALL(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), -1);
  return absl::OkStatus();
}

absl::Status ConfigureWaitPolicy(MPI_Comm comm) {
  static bool decided = false;
  if (decided) return absl::OkStatus();
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  // One fixed-size record per rank: the machine key (8 bytes) and a 1024-CPU affinity mask.
  constexpr int kMaskWords = 16;
  constexpr int kWords = 1 + kMaskWords;
  const RankMachine me = DescribeRankMachine();
  std::array<uint64_t, kWords> mine{};
  std::memcpy(&mine[0], me.machine.data(), std::min<size_t>(me.machine.size(), 8));
  for (int c : me.cpus) {
    if (c >= 0 && c < 64 * kMaskWords) mine[1 + c / 64] |= uint64_t{1} << (c % 64);
  }
  std::vector<uint64_t> all(static_cast<size_t>(size) * kWords);
  TANGRAM_MPI_CALL(
      MPI_Allgather(mine.data(), kWords, MPI_UINT64_T, all.data(), kWords, MPI_UINT64_T, comm),
      rank);
  std::vector<RankMachine> ranks(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) {
    const uint64_t* w = &all[static_cast<size_t>(r) * kWords];
    char key[9] = {};
    std::memcpy(key, &w[0], 8);
    ranks[static_cast<size_t>(r)].machine = key;
    for (int c = 0; c < 64 * kMaskWords; ++c) {
      if ((w[1 + c / 64] >> (c % 64)) & 1) ranks[static_cast<size_t>(r)].cpus.push_back(c);
    }
  }
  WaitPolicy policy = ChoosePolicy(ranks, rank);
  const char* env = std::getenv("TANGRAM_MPI_WAIT");
  if (env != nullptr) {
    std::string error;
    const std::optional<WaitPolicy> forced = ParseWaitPolicy(env, &error);
    if (!error.empty()) return absl::InvalidArgumentError(error);
    if (forced) policy = *forced;
  }
  SetWaitPolicy(policy);
  decided = true;
  return absl::OkStatus();
}

absl::Status ToStatus(int code, const char* call, int rank) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  return absl::InternalError(
      absl::StrCat(call, " failed on rank ", rank, ": ", absl::string_view(text, length)));
}

absl::Status WaitUntil(MPI_Request* request, absl::Time deadline, const char* what, int rank,
                       bool cancellable) {
  const WaitPolicy policy = CurrentWaitPolicy();
  const bool yield = policy == WaitPolicy::kYield;
  if (deadline == absl::InfiniteFuture() && !yield) {
    TANGRAM_MPI_CALL(MPI_Wait(request, MPI_STATUS_IGNORE), rank);
    return absl::OkStatus();
  }
  // MPI progresses only inside MPI calls, so a wait tests its request in a loop, as MPI_Wait
  // does. Open MPI's progress engine yields the core only when its launcher knew the node was
  // oversubscribed; on a machine with more ranks than cores the wait policy (wait_policy.h)
  // yields after every test that found nothing done, so that a rank that computes, or that must
  // progress its part of a collective, gets the core. The clock is read only every
  // kTestsPerClockRead tests. A wait that lasts past TestBeforeNapping (10 ms spinning, 200 us
  // yielding; wait_policy.h says why they differ) is waiting for a peer that still computes
  // rather than for a message in flight: only then does it nap between tests (backing off to
  // kMaxWaitNap), so that its core can go idle and run that peer or another.
  const absl::Duration test_for = TestBeforeNapping(policy);
  constexpr int kTestsPerClockRead = 64;
  // Healthy peers answer a probe within milliseconds (they wait in this loop); a longer window
  // would only delay the error past the configured timeout.
  constexpr absl::Duration kProbeWindow = absl::Milliseconds(500);
  // The launcher sends SIGKILL about 1 s after SIGTERM (Open MPI's odls_base_sigkill_timeout).
  constexpr absl::Duration kTerminateProbeWindow = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  absl::Duration nap = absl::Microseconds(10);
  for (int tests = 1;; ++tests) {
    int done = 0;
    TANGRAM_MPI_CALL(MPI_Test(request, &done, MPI_STATUS_IGNORE), rank);
    if (done) return absl::OkStatus();
    if (yield) sched_yield();
    if (tests % kTestsPerClockRead == 0) {
      ServiceLiveness();  // a peer that timed out asks whether this rank is alive
      if (TerminationRequested()) {
        if (cancellable) {
          MPI_Cancel(request);
          MPI_Request_free(request);
        }
        return absl::AbortedError(absl::StrCat("the launcher ended the job (SIGTERM) while ", what,
                                               " on rank ", rank, " waited",
                                               DescribeUnresponsive(kTerminateProbeWindow)));
      }
      const absl::Time now = absl::Now();
      if (now >= deadline) break;
      if (now - start > test_for) {
        absl::SleepFor(nap);
        nap = std::min(nap * 2, kMaxWaitNap);
      }
    }
  }
  if (cancellable) {
    MPI_Cancel(request);
    MPI_Request_free(request);
  }
  // Whoever is missing is named here: every rank that times out probes its peers.
  return absl::DeadlineExceededError(
      absl::StrCat(what, " on rank ", rank, " timed out after ",
                   absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(100))),
                   DescribeUnresponsive(kProbeWindow)));
}

MpiTransport::MpiTransport(MPI_Comm comm) : comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
}

MpiTransport::~MpiTransport() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

absl::StatusOr<std::unique_ptr<TransportRequest>> MpiTransport::ISend(int dst, int tag,
                                                                      const void* data,
                                                                      size_t bytes) {
  TANGRAM_RETURN_IF_ERROR(abort_status_);
  TANGRAM_RETURN_IF_ERROR(CheckBytes(bytes));
  MPI_Request request;
  TANGRAM_MPI_CALL(MPI_Isend(data, static_cast<int>(bytes), MPI_BYTE, dst, tag, comm_, &request),
                   rank_);
  return std::make_unique<MpiRequest>(request, "MPI_Isend", rank_);
}

absl::StatusOr<std::unique_ptr<TransportRequest>> MpiTransport::IRecv(int src, int tag, void* data,
                                                                      size_t bytes) {
  TANGRAM_RETURN_IF_ERROR(abort_status_);
  TANGRAM_RETURN_IF_ERROR(CheckBytes(bytes));
  MPI_Request request;
  TANGRAM_MPI_CALL(MPI_Irecv(data, static_cast<int>(bytes), MPI_BYTE, src, tag, comm_, &request),
                   rank_);
  return std::make_unique<MpiRequest>(request, "MPI_Irecv", rank_);
}

absl::StatusOr<std::unique_ptr<Transport>> MpiTransport::CreateSubgroup(
    int color, int key, const std::vector<int>& /*members*/) {
  MPI_Comm child;
  TANGRAM_MPI_CALL(MPI_Comm_split(comm_, color, key, &child), rank_);
  return std::make_unique<MpiTransport>(child);
}

size_t MpiTransport::PipelineChunkBytes() const {
  // Over shared memory on a 2-core machine pipelining measured neutral (1-8 MiB allreduces on 3
  // and 4 ranks within noise of whole blocks, for cells of 16-128 KiB): the cores that would
  // overlap are all busy. Where a NIC moves data while the CPU reduces, it hides the reduction.
  // 128 KiB, the largest size tried, adds the fewest messages.
  return 128 << 10;
}

void MpiTransport::Abort(const absl::Status& reason) {
  if (abort_status_.ok()) {
    abort_status_ = reason.ok() ? absl::AbortedError("communicator aborted") : reason;
  }
}

absl::StatusOr<std::vector<int>> NodeOfEachRank(MPI_Comm comm) {
  int rank = 0, size = 1, world_rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm local;
  TANGRAM_MPI_CALL(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local),
                   rank);
  int node = world_rank;
  const int code = MPI_Bcast(&node, 1, MPI_INT, 0, local);  // the node's lowest rank names it
  MPI_Comm_free(&local);
  TANGRAM_MPI_CALL(code, rank);
  std::vector<int> node_of(size);
  TANGRAM_MPI_CALL(MPI_Allgather(&node, 1, MPI_INT, node_of.data(), 1, MPI_INT, comm), rank);
  return node_of;
}

}  // namespace tangram::collectives::mpi
