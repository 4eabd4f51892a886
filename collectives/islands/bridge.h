// The cross-island step of the composed allreduce: the members that hold the same shard, one per
// island, combine it over the bridge (MPI or sim point-to-point). One file per algorithm
// (bridge_exchange.cc, bridge_ring.cc); ChooseCrossIslandAlgorithm (island_cost.h) picks one.
//
// A step is split in two so that the island-local work of the next pipeline segment runs while
// this step's bytes are on the wire: Start posts what needs nothing from the peers, Finish
// completes. Device shards are staged through page-locked host memory in chunks of
// `chunk_bytes`; host shards are used in place. On error the caller aborts the communicator.
#ifndef TANGRAM_COLLECTIVES_ISLANDS_BRIDGE_H_
#define TANGRAM_COLLECTIVES_ISLANDS_BRIDGE_H_

#include <cstddef>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collectives/algorithms/group.h"
#include "collectives/islands/device_memory.h"
#include "collectives/islands/island_cost.h"
#include "collectives/types.h"

namespace tangram::collectives {

struct BridgeArgs {
  void* shard = nullptr;  // count elements, host or device (`device`)
  size_t count = 0;
  DataType type = DataType::kF32;
  ReduceOp op = ReduceOp::kSum;        // the combine (kAvg arrives here as kSum)
  ReduceOp final_op = ReduceOp::kSum;  // kAvg: divide by `divisor` once, after the combine
  int divisor = 1;
  bool device = false;
  size_t chunk_bytes = kDefaultBridgeChunkBytes;
  // Host buffers owned by the caller and reused across calls: `host` holds the shard on the host
  // (page-locked; unused for host shards), `incoming` (K−1)·shard bytes, `accumulate` one shard.
  char* host = nullptr;
  char* incoming = nullptr;
  char* accumulate = nullptr;
};

class BridgeStep {
 public:
  virtual ~BridgeStep() = default;
  // Posts the step's receives and sends (for device shards, copying chunk by chunk to the host).
  virtual absl::Status Start() = 0;
  // Waits for the peers; `shard` then holds the combination over the islands, in island order,
  // identical bit for bit in every island.
  virtual absl::Status Finish() = 0;
};

// `across`: the members holding this shard, one per island in island order (over the bridge).
std::unique_ptr<BridgeStep> MakeExchangeStep(const Group& across, const BridgeArgs& args,
                                             DeviceMemory& memory);
std::unique_ptr<BridgeStep> MakeRingStep(const Group& across, const BridgeArgs& args,
                                         DeviceMemory& memory);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_ISLANDS_BRIDGE_H_
