// SimWorld: N ranks as threads in one process, talking through in-memory channels, with a
// deterministic virtual clock and fault injection. Real data moves, so every result can be
// checked numerically; the clock says how long the same traffic would take on the fleet that the
// LinkModel describes.
//
// Virtual time: each rank has a clock. A message of n bytes from s to d starts when s's clock and
// s's outgoing port (one inside the island, one across islands) are both free, occupies the port
// for Link(s, d).Seconds(n), and arrives at start + that; a receive sets the receiver's clock to
// max(its clock, arrival); a completed send sets the sender's clock to the arrival time. Reductions
// cost reduce_seconds_per_byte. With deterministic algorithms this makes every clock deterministic,
// whatever the thread schedule.
//
// Timeouts are real wall-clock deadlines (a hang shows up as kDeadlineExceeded), and a failed
// rank aborts its groups so the other ranks fail at once instead of waiting.
//
// Thread-safety: Run and CreateCommunicator may be called from any thread, but one Run at a time;
// the clock accessors are safe once Run has returned.
//
//   SimOptions options;
//   options.ranks = 64;
//   options.links = LinkModel::Uniform(64, {.alpha_s = 5e-6, .bandwidth_Bps = 50e9});
//   TANGRAM_ASSIGN_OR_RETURN(auto world, SimWorld::Create(options));
//   std::vector<absl::Status> results = world->Run([&](Communicator& comm) {
//     return comm.AllReduce(data, data, n, DataType::kF32, ReduceOp::kSum);
//   });
//   double seconds = world->MaxVirtualSeconds();
#ifndef TANGRAM_COLLECTIVES_SIM_SIM_WORLD_H_
#define TANGRAM_COLLECTIVES_SIM_SIM_WORLD_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/communicator.h"
#include "collectives/link_model.h"
#include "collectives/sim/fault_injection.h"

namespace tangram::collectives {

struct SimOptions {
  int ranks = 1;  // 1 .. 1,024 (more works, but each rank is a thread)
  // α-β costs per ordered pair; a model with ranks() == 0 means free links. The hierarchical
  // allreduce groups ranks by island when the model has more than one island, else by node.
  LinkModel links;
  double reduce_seconds_per_byte = 0.0;  // γ, charged for every byte combined
  bool checksums = true;                 // verify each message (catches FaultPlan corruption)
  // Ring reduce-scatter/allreduce pipelining (Transport::PipelineChunkBytes): 0 sends whole
  // blocks, the schedule the virtual-clock formulas assume; > 0 runs the pipelined ring in sub-
  // chunks of about this many bytes (each one a message, so each costs α).
  size_t pipeline_chunk_bytes = 0;
  FaultPlan faults;
  // Defaults of the communicators that Run creates.
  absl::Duration timeout = absl::Seconds(10);
  Algorithm algorithm = Algorithm::kAuto;
};

class Transport;

class SimWorld {
 public:
  // kInvalidArgument for ranks < 1 or a link model whose size is neither 0 nor `ranks`.
  static absl::StatusOr<std::unique_ptr<SimWorld>> Create(SimOptions options);
  ~SimWorld();

  int size() const;
  const SimOptions& options() const;

  // Runs fn on every rank, each in its own thread with a fresh communicator over all ranks, and
  // returns each rank's status (index = rank) once all have returned. Clocks keep running
  // across calls (see ResetClocks).
  std::vector<absl::Status> Run(absl::FunctionRef<absl::Status(Communicator&)> fn);

  // Rank `rank`'s communicator; the k-th call for each rank joins the k-th world group, so call it
  // once per rank (from that rank's thread or before starting it). `options` supplies defaults.
  absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(
      int rank, const CommunicatorOptions& options);

  // Rank `rank`'s bare transport in the next world group it joins (what CreateCommunicator
  // wraps; the islands layer builds its bridge on it). Same ordering rule as CreateCommunicator.
  absl::StatusOr<std::unique_ptr<Transport>> JoinTransport(int rank);

  double VirtualSeconds(int rank) const;
  double MaxVirtualSeconds() const;
  void ResetClocks();

  class Fabric;  // implementation (sim_transport.cc)

 private:
  explicit SimWorld(std::unique_ptr<Fabric> fabric);
  std::unique_ptr<Fabric> fabric_;
};

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_SIM_SIM_WORLD_H_
