// Moving layers between ranks when a re-plan changes the stage boundaries: each layer's full
// training state (parameters, AdamW moments and step; train::LayerState) travels from a rank that
// held it to every rank that holds it now, over the world communicator, so training continues
// without a restart and without changing the math.
//
// With tensor parallelism (a plan's tp > 1; re-plans keep the plan's tp) a rank holds one shard of
// each block: tensor-parallel rank k of the destination cell receives the shard of tensor-parallel
// rank k of a source cell (same tp, same sharding on both sides). The tensors a cell keeps whole
// are identical on its ranks, so each rank sends and receives its own copy the same way.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_LAYER_MOVER_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_LAYER_MOVER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "collectives/communicator.h"
#include "orchestrator/model/layer_state.h"
#include "orchestrator/model/stage.h"
#include "orchestrator/runtime/placement.h"
#include "partitioner/plan.h"

namespace tangram::orchestrator {

// A layer (or, with tp > 1, one shard of it) that changes hands: `layer` goes from world rank
// `from` to world rank `to`; both are tensor-parallel rank `tp_rank` of their cells.
struct LayerMove {
  std::string layer;
  int from = 0;
  int to = 0;
  int tp_rank = 0;
};

// The moves a change from `before` to `after` needs: for each layer, every rank that holds it after
// as tensor-parallel rank k and did not hold it as rank k before receives it from the lowest rank
// that held it as rank k before (all replicas hold identical state after an optimizer step).
// Both plans must have the same tp.
std::vector<LayerMove> PlanLayerMoves(const partitioner::Plan& before,
                                      const partitioner::Plan& after);

// Collective over `world`: executes the moves and returns the states this rank holds under
// `after` (its shards when tp > 1), one per layer of `role_after`'s range in model order; empty
// for an idle rank. `stage` is this rank's stage under `before` (nullptr if idle); it is only read.
// kInvalidArgument when the plans differ in their layer list or tp.
absl::StatusOr<std::vector<train::LayerState>> MoveLayers(collectives::Communicator& world,
                                                          const partitioner::Plan& before,
                                                          train::Stage* stage,
                                                          const partitioner::Plan& after,
                                                          const RankRole& role_after);

// Receives one serialized layer state as MoveLayers sends it: its length (tag), then its bytes as
// 32-bit words (tag + 1).
absl::StatusOr<std::string> RecvBytes(collectives::Communicator& comm, int peer, int tag);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_LAYER_MOVER_H_
