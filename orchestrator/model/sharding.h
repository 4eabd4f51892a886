// Tensor parallelism (Megatron-LM; Shoeybi et al. 2019) at the layer boundary: how a layer's
// parameters are split over the `tp` ranks of one pipeline cell, and the one collective a sharded
// layer needs from its group (an in-place SUM allreduce).
//
// A parameter is either replicated (every rank of the group holds it whole) or split along one
// axis into `tp` equal slices; rank k holds slice k. A fused parameter whose axis holds several
// independent blocks (the reference GPT's QKV weight: q, k and v stacked) is split block by block,
// so that each rank holds the k-th slice of every block, concatenated. Checkpoints and layer moves
// carry whole tensors: SliceShard cuts a rank's shard from them, JoinShards reassembles them.
// Pure functions; thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_SHARDING_H_
#define TANGRAM_ORCHESTRATOR_MODEL_SHARDING_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "orchestrator/model/tensor.h"

namespace tangram::train {

struct Sharding {
  int axis = -1;   // -1: replicated; otherwise the axis of `shape` that is split
  int blocks = 1;  // that axis holds `blocks` equal blocks, each split separately (fused QKV: 3)
  bool replicated() const { return axis < 0; }
};

// What a sharded layer needs from its tensor-parallel group. The runtime implements it over its
// tensor-parallel communicator; every rank of the group calls AllReduceSum in the same order.
// Implementations need not be thread-safe: one thread drives a rank's layers.
class TensorParallelGroup {
 public:
  virtual ~TensorParallelGroup() = default;
  virtual int size() const = 0;
  virtual int rank() const = 0;
  // data[0, count) ← Σ over the group's ranks, in place. Errors are the transport's.
  virtual absl::Status AllReduceSum(float* data, int64_t count) = 0;
};

// Shard `rank` of `tp` of the whole tensor `full` (a copy of `full` when replicated or tp = 1).
// kInvalidArgument when the axis is out of range or its length does not divide by blocks × tp.
absl::StatusOr<Tensor> SliceShard(const Tensor& full, const Sharding& sharding, int tp, int rank);

// The whole tensor from its shards, given in rank order (shards[0] when replicated).
// kInvalidArgument when the shards' names or shapes disagree.
absl::StatusOr<Tensor> JoinShards(const std::vector<Tensor>& shards, const Sharding& sharding);

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_SHARDING_H_
