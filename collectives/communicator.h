// Communicator: the one API through which every byte Tangram moves between ranks goes, whatever
// transport carries it ("sim", "mpi" or "nccl", chosen by name in CreateCommunicator).
//
// A Communicator is one rank's handle on a group of `size()` ranks. Every collective must be
// called by every rank of the group, in the same order, with matching counts, type, op and root.
// A Communicator is used by one thread at a time (thread-compatible); different communicators
// may be used from different threads.
//
// Errors: every call returns absl::Status. Each call has a deadline (CallOptions::timeout, or the
// communicator's default); past it the call returns kDeadlineExceeded. Any failed call aborts the
// communicator: later calls on this rank fail at once with the first error, and on transports
// that can propagate it (sim) the other ranks' calls fail too, so nobody waits forever. A dead
// peer surfaces as kUnavailable; a corrupted message as kDataLoss; bad arguments as
// kInvalidArgument (these do not abort). After an abort, create a new communicator.
//
// Buffers are host memory on every transport; the NCCL transport also takes device memory. Counts
// are in elements of the given DataType. `send == recv` means in place wherever both appear.
#ifndef TANGRAM_COLLECTIVES_COMMUNICATOR_H_
#define TANGRAM_COLLECTIVES_COMMUNICATOR_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "collectives/types.h"

namespace tangram::collectives {

class SimWorld;

// Per-call options (gloo's style: a collective carries its options).
struct CallOptions {
  // Deadline relative to the start of the call; unset means the communicator's default.
  std::optional<absl::Duration> timeout;
  // Algorithm for AllReduce and Broadcast; kAuto uses the communicator's default.
  Algorithm algorithm = Algorithm::kAuto;
};

// A pending non-blocking Send or Recv.
class Request {
 public:
  virtual ~Request() = default;
  // Blocks until the transfer completes or the request's deadline passes. Call it once.
  virtual absl::Status Wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "sim", "mpi", "nccl" or "islands".
  virtual absl::string_view transport_name() const = 0;

  // The deadline of a call that gives none (CommunicatorOptions::timeout at creation).
  virtual absl::Duration default_timeout() const = 0;
  // Changes it for this communicator's later calls and for the communicators Split makes from
  // here on (not those made before). For a job whose calls are known to be long, a step over a
  // slow link, so that a healthy call is not taken for a dead peer.
  virtual void SetDefaultTimeout(absl::Duration timeout) = 0;

  // recv[i] = op over ranks of send[i], for i < count, on every rank.
  virtual absl::Status AllReduce(const void* send, void* recv, size_t count, DataType type,
                                 ReduceOp op, const CallOptions& options = {}) = 0;
  // `send` holds size() blocks of recv_count elements; rank r receives the reduction of block r.
  virtual absl::Status ReduceScatter(const void* send, void* recv, size_t recv_count, DataType type,
                                     ReduceOp op, const CallOptions& options = {}) = 0;
  // Every rank contributes send_count elements; recv holds size() * send_count, in rank order.
  virtual absl::Status AllGather(const void* send, void* recv, size_t send_count, DataType type,
                                 const CallOptions& options = {}) = 0;
  // Uneven allgather: rank r contributes counts[r] elements (counts has size() entries, the same
  // on every rank); recv holds their concatenation in rank order.
  virtual absl::Status AllGatherV(const void* send, void* recv, absl::Span<const size_t> counts,
                                  DataType type, const CallOptions& options = {}) = 0;
  // Copies `count` elements of `buffer` on `root` to `buffer` on every rank.
  virtual absl::Status Broadcast(void* buffer, size_t count, DataType type, int root,
                                 const CallOptions& options = {}) = 0;
  // The reduction of every rank's `send` lands in `recv` on `root` (recv is unused elsewhere).
  virtual absl::Status Reduce(const void* send, void* recv, size_t count, DataType type,
                              ReduceOp op, int root, const CallOptions& options = {}) = 0;

  // Point-to-point, tags in [0, 16383]. Messages between two ranks with one tag arrive in order.
  virtual absl::Status Send(const void* buffer, size_t count, DataType type, int peer, int tag,
                            const CallOptions& options = {}) = 0;
  virtual absl::Status Recv(void* buffer, size_t count, DataType type, int peer, int tag,
                            const CallOptions& options = {}) = 0;
  // Non-blocking forms: the buffer must stay valid until Wait returns.
  virtual absl::StatusOr<std::unique_ptr<Request>> ISend(const void* buffer, size_t count,
                                                         DataType type, int peer, int tag,
                                                         const CallOptions& options = {}) = 0;
  virtual absl::StatusOr<std::unique_ptr<Request>> IRecv(void* buffer, size_t count, DataType type,
                                                         int peer, int tag,
                                                         const CallOptions& options = {}) = 0;

  virtual absl::Status Barrier(const CallOptions& options = {}) = 0;

  // Advances this rank's transfers in flight without waiting, for callers that compute between
  // posting a non-blocking send and waiting for it. MPI moves a message only inside MPI calls,
  // and one above its eager limit needs its sender to answer the receiver's handshake: a sender
  // computing outside MPI holds it back until its next call (a pipeline's next stage waited a
  // whole forward pass at every step's start; docs/simulator.md, "Namespace hosts"). Cheap;
  // a no-op on transports that progress by themselves (the default).
  virtual void Progress() {}

  // Collective: ranks with the same color (>= 0) form a new communicator, ranked by (key, rank).
  // The new communicator shares this one's transport and defaults.
  virtual absl::StatusOr<std::unique_ptr<Communicator>> Split(int color, int key) = 0;

  // Aborts the communicator with `reason` (see the class comment). Idempotent.
  virtual void Abort(const absl::Status& reason) = 0;

  // Seconds on this rank's virtual clock (sim only; nullopt on real transports). The cost of a
  // collective is the largest increase over the ranks; SimWorld::Run reports it.
  virtual std::optional<double> VirtualSeconds() const { return std::nullopt; }
};

struct CommunicatorOptions {
  // Default deadline for each call.
  absl::Duration timeout = absl::Minutes(5);
  // Default algorithm for AllReduce/Broadcast when a call says kAuto. kAuto: native library
  // collectives on MPI and NCCL; on sim, halving-doubling below 64 KiB and ring above.
  Algorithm algorithm = Algorithm::kAuto;

  // sim: the world this rank belongs to and its rank in it (see sim/sim_world.h). Most users
  // call SimWorld::Run instead, which creates the communicators.
  SimWorld* sim_world = nullptr;
  int sim_rank = -1;

  // nccl: CUDA device to use; -1 picks the local rank among the ranks on this host.
  int cuda_device = -1;

  // islands (islands/island_communicator.h): this rank's island, >= 0; -1 reads the environment
  // variable TANGRAM_ISLAND (set by the launcher). Ranks of one island share `island_transport`:
  // "auto" (nccl when built and a GPU is usable, else mpi; sim under a SimWorld), "mpi", "sim",
  // "nccl" or "hccl". Between islands the bridge is the sim transport when sim_world is set, else
  // MPI point-to-point.
  int island = -1;
  std::string island_transport = "auto";
  // islands: the nominal pipeline segment of the hierarchical allreduce (island_cost.h ramps up
  // from 1/8 of it) and the bridge message size; 0 = the defaults (4 MiB segments; host shards
  // whole, device shards staged in 1 MiB chunks).
  size_t island_segment_bytes = 0;
  size_t bridge_chunk_bytes = 0;
};

// Creates this rank's communicator over MPI_COMM_WORLD ("mpi", "nccl"; MPI is initialised if
// needed and finalised at exit), over a SimWorld ("sim"), or over islands ("islands": each island
// on its own transport, a bridge between them; see islands/island_communicator.h). Errors:
// kInvalidArgument for an unknown name or bad options; kUnimplemented for a transport this build
// does not include; kFailedPrecondition when the transport cannot start (no GPU for "nccl", not
// under mpirun).
absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(
    absl::string_view transport, const CommunicatorOptions& options = {});

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_COMMUNICATOR_H_
