// Cross-island exchange: each of the K members sends its shard to the K−1 others and combines
// what it receives in island order, so every island computes the same bits. One round: optimal
// for two islands (s bytes each way, one α) and for small shards on more.
//
// One phase. In chunks (device shards; host shards when a chunk size is set): Start posts every
// receive, then for each chunk stages it to the host (device shards) and posts its sends, so
// chunk c is on the wire while chunk c+1 is copied; Advance combines chunk by chunk as they
// arrive and copies each result back while later chunks are still arriving.
#include <algorithm>
#include <cstring>
#include <vector>

#include "base/status_macros.h"
#include "collectives/islands/bridge.h"
#include "collectives/reduce.h"

namespace tangram::collectives {
namespace {

class ExchangeStep : public BridgeStep {
 public:
  ExchangeStep(const Group& across, const BridgeArgs& args, DeviceMemory& memory)
      : across_(across), args_(args), memory_(memory) {
    element_ = DataTypeSize(args.type);
    bytes_ = args.count * element_;
    own_ = args.device ? args.host : static_cast<char*>(args.shard);
    const size_t per_chunk = args.chunk_bytes == 0
                                 ? std::max<size_t>(args.count, 1)
                                 : std::max<size_t>(args.chunk_bytes / element_, 1);
    for (size_t first = 0; first < args.count; first += per_chunk) {
      chunks_.push_back({first, std::min(per_chunk, args.count - first)});
    }
    const size_t peers = static_cast<size_t>(across.size() - 1);
    sends_.resize(peers * chunks_.size());
    recvs_.resize(peers * chunks_.size());
  }

  absl::Status Start() override {
    const int k = across_.size();
    Transport& transport = *across_.transport;
    for (int island = 0, slot = 0; island < k; ++island) {
      if (island == across_.me) continue;
      for (size_t c = 0; c < chunks_.size(); ++c) {
        TANGRAM_ASSIGN_OR_RETURN(
            recvs_[slot * chunks_.size() + c],
            transport.IRecv(across_.ranks[island], across_.tag, Incoming(slot, c), Bytes(c)));
      }
      ++slot;
    }
    for (size_t c = 0; c < chunks_.size(); ++c) {
      char* own = own_ + chunks_[c].first * element_;
      if (args_.device) {
        TANGRAM_RETURN_IF_ERROR(memory_.Copy(
            own, static_cast<char*>(args_.shard) + chunks_[c].first * element_, Bytes(c)));
      }
      for (int island = 0, slot = 0; island < k; ++island) {
        if (island == across_.me) continue;
        TANGRAM_ASSIGN_OR_RETURN(
            sends_[slot * chunks_.size() + c],
            transport.ISend(across_.ranks[island], across_.tag, own, Bytes(c)));
        ++slot;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Advance() override {
    const int k = across_.size();
    for (size_t c = 0; c < chunks_.size(); ++c) {
      for (int slot = 0; slot + 1 < k; ++slot) {
        TANGRAM_RETURN_IF_ERROR(recvs_[slot * chunks_.size() + c]->Wait(across_.deadline));
        TANGRAM_RETURN_IF_ERROR(sends_[slot * chunks_.size() + c]->Wait(across_.deadline));
      }
      const size_t n = chunks_[c].second;
      char* own = own_ + chunks_[c].first * element_;
      if (k == 2) {
        // a + b is b + a bit for bit (also for max/min and the rounded half types).
        ReduceInto(own, Incoming(0, c), n, args_.type, args_.op);
      } else {
        // Island order, from island 0, whatever our own position.
        char* acc = args_.accumulate + chunks_[c].first * element_;
        std::memcpy(acc, Contribution(0, c), Bytes(c));
        for (int island = 1; island < k; ++island) {
          ReduceInto(acc, Contribution(island, c), n, args_.type, args_.op);
        }
        std::memcpy(own, acc, Bytes(c));
      }
      across_.transport->ChargeReduction(Bytes(c) * static_cast<size_t>(k - 1));
      FinishAverage(own, n, args_.type, args_.final_op, args_.divisor);
      if (args_.device) {
        TANGRAM_RETURN_IF_ERROR(memory_.Copy(
            static_cast<char*>(args_.shard) + chunks_[c].first * element_, own, Bytes(c)));
      }
    }
    return absl::OkStatus();
  }

 private:
  size_t Bytes(size_t c) const { return chunks_[c].second * element_; }
  char* Incoming(int slot, size_t c) const {
    return args_.incoming + static_cast<size_t>(slot) * bytes_ + chunks_[c].first * element_;
  }
  // Island `island`'s contribution to chunk c: ours or what it sent.
  const char* Contribution(int island, size_t c) const {
    if (island == across_.me) return own_ + chunks_[c].first * element_;
    return Incoming(island < across_.me ? island : island - 1, c);
  }

  Group across_;
  BridgeArgs args_;
  DeviceMemory& memory_;
  size_t element_ = 1;
  size_t bytes_ = 0;
  char* own_ = nullptr;
  std::vector<std::pair<size_t, size_t>> chunks_;                 // first element, element count
  std::vector<std::unique_ptr<TransportRequest>> sends_, recvs_;  // [peer slot][chunk]
};

}  // namespace

std::unique_ptr<BridgeStep> MakeExchangeStep(const Group& across, const BridgeArgs& args,
                                             DeviceMemory& memory) {
  return std::make_unique<ExchangeStep>(across, args, memory);
}

}  // namespace tangram::collectives
