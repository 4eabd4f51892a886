// Cross-island ring: reduce-scatter then allgather among the K members holding the shard
// (algorithms/allreduce_ring.cc over the bridge), 2(K−1) steps of s/K bytes — less traffic per
// member than the exchange once K > 2 and the shard is large. Its steps depend on each other, so
// Start only stages a device shard to the host and Finish runs the ring; it does not overlap the
// island-local work of the next segment (the exchange does).
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
    host_ = args.device ? args.host : static_cast<char*>(args.shard);
  }

  absl::Status Start() override {
    if (!args_.device) return absl::OkStatus();
    return memory_.Copy(host_, args_.shard, args_.count * DataTypeSize(args_.type));
  }

  absl::Status Finish() override {
    TANGRAM_RETURN_IF_ERROR(
        RingAllReduce(across_, host_, host_, args_.count, args_.type, args_.op));
    FinishAverage(host_, args_.count, args_.type, args_.final_op, args_.divisor);
    if (!args_.device) return absl::OkStatus();
    return memory_.Copy(args_.shard, host_, args_.count * DataTypeSize(args_.type));
  }

 private:
  Group across_;
  BridgeArgs args_;
  DeviceMemory& memory_;
  char* host_ = nullptr;
};

}  // namespace

std::unique_ptr<BridgeStep> MakeRingStep(const Group& across, const BridgeArgs& args,
                                         DeviceMemory& memory) {
  return std::make_unique<RingStep>(across, args, memory);
}

}  // namespace tangram::collectives
