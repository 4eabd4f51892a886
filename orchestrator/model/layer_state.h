// A layer's full training state — parameters, AdamW moments and step — as one value, and its
// byte encoding. It is what moves when a re-plan moves a layer to another rank, and what a
// checkpoint stores per layer (checkpoint.h), so the two can never disagree.
//
// Encoding (host byte order; every platform Tangram targets is little-endian):
//   "TGLAYER1" | u32 len, layer name | i64 step | u32 tensor count |
//   per tensor: u32 len, name | u32 rank | i64 dims[rank] | f32 param[n] | f32 m[n] | f32 v[n]
// Thread-compatible; the functions are pure.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_LAYER_STATE_H_
#define TANGRAM_ORCHESTRATOR_MODEL_LAYER_STATE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "orchestrator/model/adamw.h"
#include "orchestrator/model/layer.h"

namespace tangram::train {

struct LayerState {
  std::string layer;           // Layer::name()
  std::vector<Tensor> params;  // copies of the parameters, in the layer's order
  AdamState optimizer;         // moments in the same order, and the step
};

// Copies `layer`'s parameters and `optimizer` into a LayerState.
LayerState ExportLayerState(Layer& layer, const AdamState& optimizer);

// Loads `state` into `layer` (parameters) and `*optimizer`. kInvalidArgument, naming the tensor,
// when the layer's name or any parameter's name or size differs.
absl::Status ImportLayerState(const LayerState& state, Layer& layer, AdamState* optimizer);

// Tensor parallelism: rank `rank`'s shard of a whole layer's state (parameters and AdamW moments
// cut alike; `sharding` as Layer::parameter_sharding, empty = all whole), and the whole state from
// every rank's shard in rank order. kInvalidArgument when the tensors do not split or join.
absl::StatusOr<LayerState> SliceLayerState(const LayerState& whole,
                                           const std::vector<Sharding>& sharding, int tp, int rank);
absl::StatusOr<LayerState> JoinLayerStates(const std::vector<LayerState>& shards,
                                           const std::vector<Sharding>& sharding);

std::string SerializeLayerState(const LayerState& state);

// Decodes bytes from SerializeLayerState. kDataLoss naming `source` (a file or peer) when the bytes
// are truncated, have trailing garbage or a bad header.
absl::StatusOr<LayerState> ParseLayerState(absl::string_view bytes, absl::string_view source);

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_LAYER_STATE_H_
