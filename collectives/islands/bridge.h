// The cross-island step of the composed allreduce: the members that hold the same shard, one per
// island, combine it over the bridge (MPI or sim point-to-point). One file per algorithm
// (bridge_exchange.cc, bridge_ring.cc); ChooseCrossIslandAlgorithm (island_cost.h) picks one.
//
// A step is split in phases so that island-local work runs while its bytes are on the wire:
// Start posts every receive and what needs nothing from the peers; each Advance waits for one
// phase's messages, combines them and posts the next phase's sends (the exchange has one phase,
// the ring one per ring step). The communicator interleaves the phases of the segments in flight
// with the island-local steps of the others (island_cost.h). Device shards are staged through
// page-locked host memory (the exchange in chunks of `chunk_bytes`, the ring whole); host shards
// are used in place. On error the caller aborts the communicator.
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
  size_t chunk_bytes = 0;  // 0: one message per peer (the exchange; see kDefaultBridgeChunkBytes)
  // Host buffers owned by the caller, reused across calls, private to this step while it is in
  // flight (except `accumulate`, used inside one Advance): `host` holds the shard on the host
  // (page-locked; unused for host shards), `incoming` IncomingBytes(), `accumulate` one shard.
  char* host = nullptr;
  char* incoming = nullptr;
  char* accumulate = nullptr;
};

class BridgeStep {
 public:
  virtual ~BridgeStep() = default;
  // Posts the step's receives and first sends (for device shards, copying to the host first).
  virtual absl::Status Start() = 0;
  // Completes one phase (waits for its messages, combines, posts the next phase's sends). After
  // the last (CrossIslandPhases), `shard` holds the combination over the islands, identical bit
  // for bit in every island (the exchange combines in island order).
  virtual absl::Status Advance() = 0;
};

// Bytes of BridgeArgs::incoming a step of `algorithm` over `islands` islands needs for `count`
// elements of `element` bytes: the exchange a shard from each peer, the ring one block per step.
size_t BridgeIncomingBytes(CrossIslandAlgorithm algorithm, size_t count, size_t element,
                           int islands);

// `across`: the members holding this shard, one per island in island order (over the bridge);
// steps in flight at the same time need distinct `across.tag`s.
std::unique_ptr<BridgeStep> MakeExchangeStep(const Group& across, const BridgeArgs& args,
                                             DeviceMemory& memory);
std::unique_ptr<BridgeStep> MakeRingStep(const Group& across, const BridgeArgs& args,
                                         DeviceMemory& memory);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_ISLANDS_BRIDGE_H_
