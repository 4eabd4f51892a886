// Small helpers over a Communicator: the coordinator's control messages (strings: JSON reports,
// plans) broadcast from a root or gathered from every rank; the tensor-parallel group the model's
// sharded layers sum over; whole layer states gathered from their tensor-parallel shards.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_COMM_UTIL_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_COMM_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collectives/communicator.h"
#include "orchestrator/model/layer_state.h"
#include "orchestrator/model/sharding.h"
#include "orchestrator/model/stage.h"

namespace tangram::orchestrator {

// Broadcasts `*text` from `root` (its length, then its bytes); on other ranks `*text` is replaced.
absl::Status BroadcastString(collectives::Communicator& comm, int root, std::string* text);

// Every rank contributes `mine`; every rank receives all contributions in rank order.
absl::StatusOr<std::vector<std::string>> AllGatherStrings(collectives::Communicator& comm,
                                                          const std::string& mine);

// AllGatherStrings right after a phase that every rank ends within `phase` of the others (the
// compute calibration, bounded by its budget): the gather may wait `comm`'s default timeout plus
// `phase`, so that the ranks done first outlast the slowest one's phase (an EMULATION-slowed rank
// calibrates for its whole budget) instead of failing a --timeout shorter than it. The default
// timeout is restored afterwards; an infinite `phase` (no budget) leaves it as it is.
absl::StatusOr<std::vector<std::string>> AllGatherStringsAfter(collectives::Communicator& comm,
                                                               const std::string& mine,
                                                               absl::Duration phase);

// train::TensorParallelGroup over a cell's tensor-parallel communicator, counting the seconds
// spent in its allreduces (communication, not compute, in the step's figures). The layers keep a
// pointer to this object; the communicator behind it may be replaced (Reset) when a plan is
// adopted. No communicator, or one of size 1: tp = 1. Thread-compatible.
class CommTensorParallelGroup final : public train::TensorParallelGroup {
 public:
  void Reset(collectives::Communicator* comm) { comm_ = comm; }
  int size() const override { return comm_ == nullptr ? 1 : comm_->size(); }
  int rank() const override { return comm_ == nullptr ? 0 : comm_->rank(); }
  absl::Status AllReduceSum(float* data, int64_t count) override;
  double seconds() const { return seconds_; }

 private:
  collectives::Communicator* comm_ = nullptr;
  double seconds_ = 0;
};

// Layer states as one byte string (each an 8-byte length and SerializeLayerState's bytes), and
// back. kDataLoss naming `source` for truncated or corrupt bytes.
std::string PackLayerStates(const std::vector<train::LayerState>& states);
absl::StatusOr<std::vector<train::LayerState>> UnpackLayerStates(absl::string_view bytes,
                                                                 absl::string_view source);

// Collective over `tp_comm` (the cell's tensor-parallel communicator; nullptr = tp 1): the whole
// state of every layer of `stage`, its shards joined along the layers' parameter_sharding, on
// every rank of the group.
absl::StatusOr<std::vector<train::LayerState>> GatherWholeLayers(collectives::Communicator* tp_comm,
                                                                 train::Stage& stage);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_COMM_UTIL_H_
