// MPI internals of the collectives library: MPI start-up, error conversion, deadline-bounded
// waiting, and MpiTransport (point-to-point over one MPI communicator). Only backend sources
// include this header (it includes mpi.h); the public API never does.
//
// Thread-compatible: MPI is initialised with MPI_THREAD_SERIALIZED, so one thread at a time may
// use a given communicator, and different communicators must not be used concurrently either.
#ifndef TANGRAM_COLLECTIVES_MPI_MPI_TRANSPORT_H_
#define TANGRAM_COLLECTIVES_MPI_MPI_TRANSPORT_H_

#include <mpi.h>

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "collectives/transport.h"

namespace tangram::collectives::mpi {

// Initialises MPI once (MPI_THREAD_SERIALIZED, MPI_ERRORS_RETURN on MPI_COMM_WORLD) unless the
// application already did, and then finalises it at exit only if we initialised it.
absl::Status EnsureInitialized();

// Decides the process's wait policy (collectives/wait_policy.h) from every rank's machine and
// CPU affinity: yield while waiting when this rank's machine holds more ranks than cores.
// TANGRAM_MPI_WAIT=spin|yield forces one (auto: decide). Collective over `comm`; decided once
// per process, later calls return at once (every rank makes the same calls).
absl::Status ConfigureWaitPolicy(MPI_Comm comm);

// OK for MPI_SUCCESS; otherwise kInternal naming the call, the rank and MPI's error string.
absl::Status ToStatus(int code, const char* call, int rank);

#define TANGRAM_MPI_CALL(call, rank)                                                  \
  do {                                                                                \
    const int _tangram_mpi_code = (call);                                             \
    if (_tangram_mpi_code != MPI_SUCCESS)                                             \
      return ::tangram::collectives::mpi::ToStatus(_tangram_mpi_code, #call, (rank)); \
  } while (0)

// Polls `request` until it completes (OK), fails (its MPI error) or `deadline` passes
// (kDeadlineExceeded; point-to-point requests are cancelled, collective ones are left behind
// and the caller must abort the communicator). An infinite deadline blocks in MPI_Wait, unless
// the wait policy is kYield: then it polls, yielding, with no deadline.
absl::Status WaitUntil(MPI_Request* request, absl::Time deadline, const char* what, int rank,
                       bool cancellable);

// Point-to-point over `comm`, which the transport owns and frees.
class MpiTransport : public Transport {
 public:
  explicit MpiTransport(MPI_Comm comm);
  ~MpiTransport() override;

  MPI_Comm comm() const { return comm_; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  absl::StatusOr<std::unique_ptr<TransportRequest>> ISend(int dst, int tag, const void* data,
                                                          size_t bytes) override;
  absl::StatusOr<std::unique_ptr<TransportRequest>> IRecv(int src, int tag, void* data,
                                                          size_t bytes) override;
  absl::StatusOr<std::unique_ptr<Transport>> CreateSubgroup(
      int color, int key, const std::vector<int>& members) override;
  // MPI 4.1 cannot tell the other ranks; they find out through their own deadlines.
  void Abort(const absl::Status& reason) override;
  absl::Status AbortStatus() const override { return abort_status_; }
  size_t PipelineChunkBytes() const override;

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  absl::Status abort_status_;
};

// The node of each rank of `comm` (the lowest world rank sharing its memory), for the
// hierarchical allreduce. Collective over `comm`.
absl::StatusOr<std::vector<int>> NodeOfEachRank(MPI_Comm comm);

}  // namespace tangram::collectives::mpi

#endif  // TANGRAM_COLLECTIVES_MPI_MPI_TRANSPORT_H_
