// Cross-island ring: reduce-scatter then allgather among the K members holding the shard,
// 2(K−1) steps of s/K bytes — less traffic per member than the exchange once K > 2 and the shard
// is large. Its steps depend on each other, so each is one phase: Start posts every receive (into
// `incoming`, one block per step, so that a peer's message never waits for us to post it) and
// the first send; each Advance waits for one step's block, combines it (reduce-scatter) or
// copies it in (allgather) and posts the next step's send. The communicator interleaves the
// phases of several segments' rings with the island-local steps, so the ring is pipelined with
// them as the exchange is. Device shards are staged whole.
#include <algorithm>
#include <cstring>
#include <vector>

#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"
#include "collectives/islands/bridge.h"
#include "collectives/reduce.h"

namespace tangram::collectives {
namespace {

class RingStep : public BridgeStep {
 public:
  RingStep(const Group& across, const BridgeArgs& args, DeviceMemory& memory)
      : across_(across), args_(args), memory_(memory) {
    element_ = DataTypeSize(args.type);
    host_ = args.device ? args.host : static_cast<char*>(args.shard);
    const int k = across.size();
    counts_ = EvenCounts(args.count, k);
    offsets_.assign(k, 0);
    for (int b = 1; b < k; ++b) offsets_[b] = offsets_[b - 1] + counts_[b - 1];
    block_ = (args.count + k - 1) / k;
    recvs_.resize(2 * (k - 1));
  }

  absl::Status Start() override {
    const int k = across_.size();
    if (args_.device) {
      TANGRAM_RETURN_IF_ERROR(memory_.Copy(host_, args_.shard, args_.count * element_));
    }
    Transport& transport = *across_.transport;
    for (int step = 0; step < 2 * (k - 1); ++step) {
      TANGRAM_ASSIGN_OR_RETURN(recvs_[step], transport.IRecv(Left(), across_.tag, Incoming(step),
                                                             Bytes(Received(step))));
    }
    return Post(0);
  }

  absl::Status Advance() override {
    const int k = across_.size();
    const int step = phase_++;
    TANGRAM_RETURN_IF_ERROR(recvs_[step]->Wait(across_.deadline));
    TANGRAM_RETURN_IF_ERROR(send_->Wait(across_.deadline));
    const int b = Received(step);
    if (step < k - 1) {
      ReduceInto(Block(b), Incoming(step), counts_[b], args_.type, args_.op);
      across_.transport->ChargeReduction(Bytes(b));
      // After the last reduce-scatter step this member's block is complete: finish the average
      // once, here, before the allgather hands it on.
      if (step == k - 2)
        FinishAverage(Block(b), counts_[b], args_.type, args_.final_op, args_.divisor);
    } else {
      std::memcpy(Block(b), Incoming(step), Bytes(b));
    }
    if (step + 1 < 2 * (k - 1)) return Post(step + 1);
    if (!args_.device) return absl::OkStatus();
    return memory_.Copy(args_.shard, host_, args_.count * element_);
  }

 private:
  static int Mod(int x, int k) { return ((x % k) + k) % k; }
  int Left() const { return across_.ranks[Mod(across_.me - 1, across_.size())]; }
  int Right() const { return across_.ranks[Mod(across_.me + 1, across_.size())]; }
  // The block sent and the block received at ring step `step` (reduce-scatter steps 0..K−2, then
  // allgather steps): member i sends block i − j and receives block i − j − 1 while reducing,
  // then sends block i + 1 − j and receives block i − j while gathering.
  int Sent(int step) const {
    const int k = across_.size();
    return step < k - 1 ? Mod(across_.me - step, k) : Mod(across_.me + 1 - (step - (k - 1)), k);
  }
  int Received(int step) const {
    const int k = across_.size();
    return step < k - 1 ? Mod(across_.me - step - 1, k) : Mod(across_.me - (step - (k - 1)), k);
  }
  size_t Bytes(int b) const { return counts_[b] * element_; }
  char* Block(int b) const { return host_ + offsets_[b] * element_; }
  char* Incoming(int step) const {
    return args_.incoming + static_cast<size_t>(step) * block_ * element_;
  }
  absl::Status Post(int step) {
    const int b = Sent(step);
    TANGRAM_ASSIGN_OR_RETURN(send_,
                             across_.transport->ISend(Right(), across_.tag, Block(b), Bytes(b)));
    return absl::OkStatus();
  }

  Group across_;
  BridgeArgs args_;
  DeviceMemory& memory_;
  size_t element_ = 1;
  char* host_ = nullptr;
  std::vector<size_t> counts_, offsets_;
  size_t block_ = 0;  // the largest block, in elements
  int phase_ = 0;
  std::vector<std::unique_ptr<TransportRequest>> recvs_;  // one per step
  std::unique_ptr<TransportRequest> send_;                // the step in flight
};

}  // namespace

size_t BridgeIncomingBytes(CrossIslandAlgorithm algorithm, size_t count, size_t element,
                           int islands) {
  if (islands <= 1) return 0;
  const size_t k = static_cast<size_t>(islands);
  if (algorithm == CrossIslandAlgorithm::kExchange) return (k - 1) * count * element;
  return 2 * (k - 1) * ((count + k - 1) / k) * element;
}

std::unique_ptr<BridgeStep> MakeRingStep(const Group& across, const BridgeArgs& args,
                                         DeviceMemory& memory) {
  return std::make_unique<RingStep>(across, args, memory);
}

}  // namespace tangram::collectives
