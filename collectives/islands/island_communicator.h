// IslandCommunicator ("islands"): one Communicator over ranks that sit in islands whose
// collective libraries do not talk to each other (NCCL among NVIDIA GPUs, HCCL among Ascend NPUs,
// MPI or sim elsewhere). Inside an island it runs the island's own communicator (`local`);
// between islands, a bridge over MPI (or sim) point-to-point (the P2PCommunicator this class
// derives from, over every rank).
//
//   islands    ──  IslandCommunicator (this): rank = bridge rank; island_of[rank]
//     ├── local:  the island's Communicator (nccl | hccl | mpi | sim), ranks ordered as here
//     └── bridge: P2P transport over every rank (mpi | sim), cross-island steps in bridge_*.cc
//
// AllReduce is hierarchical and pipelined in segments: a reduce-scatter inside each island, the
// cross-island step on each member's shard (equal islands; uneven: the first m members of each
// island own a shard each, m the smallest island's size, with a Reduce to each owner and a
// Broadcast from it), an allgather inside; the bridge carries one segment while the islands
// reduce the next and gather the one before, segments small at both ends (island_cost.h has the
// schedule). ReduceScatter moves only what each rank needs: a reduce-scatter inside the island
// leaves each member the island's partial of its own block and of its share of the other
// islands' blocks, which it sends over the bridge straight to their owners.
// kRing/kHalvingDoubling/kTree/kFlat run our algorithm over the bridge across every rank instead
// (the flat baseline). The other collectives and point-to-point go over the bridge; device buffers
// are staged through page-locked host memory. Same semantics and errors as every Communicator; any
// failure aborts both the island communicator and the bridge, and on the sim transport that reaches
// every rank of every island. Thread-compatible.
#ifndef TANGRAM_COLLECTIVES_ISLANDS_ISLAND_COMMUNICATOR_H_
#define TANGRAM_COLLECTIVES_ISLANDS_ISLAND_COMMUNICATOR_H_

#include <memory>
#include <vector>

#include "collectives/algorithms/group.h"
#include "collectives/islands/device_memory.h"
#include "collectives/islands/island_cost.h"
#include "collectives/link_model.h"
#include "collectives/p2p_communicator.h"

namespace tangram::collectives {

class IslandCommunicator : public P2PCommunicator {
 public:
  // `island_of[r]` is rank r's island id; `local` is this rank's island communicator, whose ranks
  // are this island's members in rank order. `bridge_link` is what the cross-island algorithm is
  // chosen for.
  IslandCommunicator(std::unique_ptr<Transport> bridge, std::unique_ptr<Communicator> local,
                     std::vector<int> island_of, const CommunicatorOptions& options,
                     std::shared_ptr<DeviceMemory> memory, LinkCost bridge_link);

  int islands() const { return static_cast<int>(members_.size()); }
  Communicator& local() { return *local_; }
  // The cross-island algorithm of the last hierarchical AllReduce (for the benchmark).
  CrossIslandAlgorithm last_cross_island_algorithm() const { return last_algorithm_; }

  absl::Status AllReduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                         const CallOptions& options = {}) override;
  absl::Status ReduceScatter(const void* send, void* recv, size_t recv_count, DataType type,
                             ReduceOp op, const CallOptions& options = {}) override;
  absl::Status AllGatherV(const void* send, void* recv, absl::Span<const size_t> counts,
                          DataType type, const CallOptions& options = {}) override;
  absl::Status Broadcast(void* buffer, size_t count, DataType type, int root,
                         const CallOptions& options = {}) override;
  absl::Status Reduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                      int root, const CallOptions& options = {}) override;
  absl::Status Send(const void* buffer, size_t count, DataType type, int peer, int tag,
                    const CallOptions& options = {}) override;
  absl::Status Recv(void* buffer, size_t count, DataType type, int peer, int tag,
                    const CallOptions& options = {}) override;
  // Host buffers only (kInvalidArgument for device memory; Send/Recv stage device buffers).
  absl::StatusOr<std::unique_ptr<Request>> ISend(const void* buffer, size_t count, DataType type,
                                                 int peer, int tag,
                                                 const CallOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<Request>> IRecv(void* buffer, size_t count, DataType type,
                                                 int peer, int tag,
                                                 const CallOptions& options = {}) override;
  absl::Status Barrier(const CallOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<Communicator>> Split(int color, int key) override;
  void Abort(const absl::Status& reason) override;
  // Also the island communicator's, which this one's calls pass their remaining time to and Split
  // splits.
  void SetDefaultTimeout(absl::Duration timeout) override {
    P2PCommunicator::SetDefaultTimeout(timeout);
    local_->SetDefaultTimeout(timeout);
  }

 protected:
  std::unique_ptr<Communicator> MakeChild(std::unique_ptr<Transport> transport,
                                          std::vector<int> locality) override;

 private:
  absl::Status Hierarchical(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                            absl::Time deadline);
  absl::Status HierarchicalReduceScatter(const void* send, void* recv, size_t recv_count,
                                         DataType type, ReduceOp op, absl::Time deadline);
  // One hierarchical AllReduce: its plan, buffers and the pipeline's steps (in the .cc).
  class AllReducePipeline;
  // The ranks outside `island`, in rank order.
  std::vector<int> ForeignRanks(int island) const;
  // The member of `island` holding that island's partial of rank r's block (r outside it).
  int PartialHolder(int island, int r) const;
  // ReduceScatter over the bridge: sends this member's partials in `held` to their owners and
  // combines what the other islands send into `recv`.
  absl::Status ExchangePartials(char* held, const std::vector<int>& foreign, size_t per,
                                bool device, void* recv, size_t recv_count, DataType type,
                                ReduceOp op, absl::Time deadline);
  // Aborts everything with `status` unless it is OK or an argument error; returns it.
  absl::Status Fail(absl::Status status);
  CallOptions Remaining(absl::Time deadline) const;

  std::unique_ptr<Communicator> local_;
  std::unique_ptr<Communicator> pending_local_child_;  // between Split and MakeChild
  std::vector<int> island_of_;
  std::vector<std::vector<int>> members_;  // ranks of each island, islands in id order
  int my_island_ = 0;                      // index into members_
  int local_rank_ = 0;
  std::shared_ptr<DeviceMemory> memory_;
  LinkCost bridge_link_;
  CrossIslandAlgorithm last_algorithm_ = CrossIslandAlgorithm::kExchange;
  // Reused between calls: island shards (one slot per segment in flight and one more), the
  // bridge's host buffers (slots alike), and staging for the collectives over the bridge.
  StagingBuffer shards_, host_shard_, incoming_, accumulate_, stage_in_, stage_out_;
  Scratch bridge_scratch_;
};

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_ISLANDS_ISLAND_COMMUNICATOR_H_
