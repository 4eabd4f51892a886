// Moving layers between ranks when a re-plan changes the stage boundaries: each layer's full
// training state (parameters, AdamW moments and step; train::LayerState) travels from a rank that
// held it to every rank that holds it now, over the world communicator, so training continues
// without a restart and without changing the math.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_LAYER_MOVER_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_LAYER_MOVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "collectives/communicator.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/model/stage.h"
#include "orchestrator/runtime/placement.h"
#include "partitioner/plan.h"

namespace tangram::orchestrator {

// A layer that changes hands: `layer` goes from world rank `from` to world rank `to`.
struct LayerMove {
  std::string layer;
  int from = 0;
  int to = 0;
};

// The moves a change from `before` to `after` needs: for each layer, every rank that holds it
// after and did not before receives it from the lowest rank that held it before (all replicas
// hold identical state after an optimizer step).
std::vector<LayerMove> PlanLayerMoves(const partitioner::Plan& before,
                                      const partitioner::Plan& after);

// Collective over `world`: executes the moves and returns this rank's stage under `after`
// (nullptr for an idle rank). `stage` is this rank's stage under `before` (nullptr if idle).
absl::StatusOr<std::unique_ptr<train::Stage>> MoveLayers(collectives::Communicator& world,
                                                         const partitioner::Plan& before,
                                                         std::unique_ptr<train::Stage> stage,
                                                         const partitioner::Plan& after,
                                                         const RankRole& role_after,
                                                         const train::GptOptions& model);

// Serialized layer state through a communicator: its length, then its bytes as 32-bit words.
absl::Status SendBytes(collectives::Communicator& comm, const std::string& bytes, int peer,
                       int tag);
absl::StatusOr<std::string> RecvBytes(collectives::Communicator& comm, int peer, int tag);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_LAYER_MOVER_H_
