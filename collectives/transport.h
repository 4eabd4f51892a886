// Transport: moves bytes between two ranks of a group. The algorithms (algorithms/*.h) build
// every collective on this point-to-point interface, so any transport that implements it (sim,
// MPI) can run all of them — the split gloo makes between pair and algorithm.
//
// A Transport belongs to one rank of one group and is used by one thread at a time. Messages
// between a (source, destination, tag) triple are matched in the order their ISend and IRecv
// calls were made, as in MPI. Tags in [0, kMaxUserTag] belong to the user's Send/Recv;
// collectives use tags above it.
#ifndef TANGRAM_COLLECTIVES_TRANSPORT_H_
#define TANGRAM_COLLECTIVES_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/link_model.h"

namespace tangram::collectives {

inline constexpr int kMaxUserTag = (1 << 14) - 1;
inline constexpr int kCollectiveTag = 1 << 14;

// A pending send or receive. Wait must be called (once) before the buffer is reused; destroying
// a request that was not waited on cancels it where the transport can.
class TransportRequest {
 public:
  virtual ~TransportRequest() = default;
  // OK once the transfer completed; kDeadlineExceeded past `deadline`; kUnavailable when the peer
  // is known to be dead; kDataLoss when a checksum failed; the group's abort status once aborted.
  virtual absl::Status Wait(absl::Time deadline) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Starts sending `bytes` bytes from `data` to rank `dst`. `data` must stay valid and unchanged
  // until the request's Wait returns.
  virtual absl::StatusOr<std::unique_ptr<TransportRequest>> ISend(int dst, int tag,
                                                                  const void* data,
                                                                  size_t bytes) = 0;
  // Starts receiving exactly `bytes` bytes from rank `src` into `data` (a size mismatch fails).
  virtual absl::StatusOr<std::unique_ptr<TransportRequest>> IRecv(int src, int tag, void* data,
                                                                  size_t bytes) = 0;

  // Creates this rank's transport in a sub-group. Collective over this transport's group: every
  // rank calls it, in the same order, with its own color and key. `members` lists, in new-rank
  // order, the ranks of this group that share this rank's color (this rank included).
  virtual absl::StatusOr<std::unique_ptr<Transport>> CreateSubgroup(
      int color, int key, const std::vector<int>& members) = 0;

  // Marks the group failed with `reason` (the first reason wins). Every later operation on this
  // transport fails with it; transports that can (sim) also fail the other ranks' pending and later
  // operations, so that nobody waits for a rank that has given up.
  virtual void Abort(const absl::Status& reason) = 0;
  // OK unless the group was aborted.
  virtual absl::Status AbortStatus() const = 0;

  // Virtual clock of this rank in seconds (sim only; nullopt on real transports).
  virtual std::optional<double> VirtualSeconds() const { return std::nullopt; }
  // Charges the virtual clock for reducing `bytes` bytes (sim only; a no-op elsewhere).
  virtual void ChargeReduction(size_t /*bytes*/) {}
  // Advances the virtual clock by `seconds` (sim only; fault injection uses it for delays).
  virtual void AdvanceVirtualClock(double /*seconds*/) {}
  // Ring reduce-scatter (and so ring allreduce) cuts each block into sub-chunks of about this
  // many bytes and pipelines them, so that reducing one sub-chunk overlaps moving the next; 0
  // (the default) sends whole blocks, the textbook schedule the virtual-clock formulas describe.
  virtual size_t PipelineChunkBytes() const { return 0; }
  // The α-β cost of the slowest link of the whole world, the same on every rank (sim only: the
  // automatic algorithm choice uses it; nullopt where the transport does not model its links).
  virtual std::optional<LinkCost> SlowestLink() const { return std::nullopt; }
};

// Blocking helpers on top of ISend/IRecv.
absl::Status Send(Transport& transport, int dst, int tag, const void* data, size_t bytes,
                  absl::Time deadline);
absl::Status Recv(Transport& transport, int src, int tag, void* data, size_t bytes,
                  absl::Time deadline);
// Sends to `dst` and receives from `src` at the same time (no deadlock when they are the same
// rank, or form a ring). Either side may be skipped with a negative rank.
absl::Status SendRecv(Transport& transport, int dst, const void* send, size_t send_bytes, int src,
                      void* recv, size_t recv_bytes, int tag, absl::Time deadline);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_TRANSPORT_H_
