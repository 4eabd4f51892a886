// Fault injection for the sim transport. Rank faults are injected LevelDB-style:
// FaultInjectingTransport wraps a rank's real Transport and, following a FaultPlan, kills or
// delays the rank. Message faults happen on the simulated wire (sim_transport.cc): a dropped
// message still uses up its place in the channel, so the receiver waits for it and times out, and
// a corrupted one is damaged after the sender's checksum, so the receiver's check catches it
// (kDataLoss).
//
// Operations are counted per rank from 0, across all its communicators: every ISend and IRecv is
// one operation; every ISend is also one send. Thread-safe (counters are atomic).
#ifndef TANGRAM_COLLECTIVES_SIM_FAULT_INJECTION_H_
#define TANGRAM_COLLECTIVES_SIM_FAULT_INJECTION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "collectives/transport.h"

namespace tangram::collectives {

struct FaultPlan {
  // The rank dies at its `at_op`-th operation: that call fails with kUnavailable, the rank never
  // sends again, and peers waiting on it get kUnavailable.
  struct Kill {
    int rank = 0;
    int64_t at_op = 0;
  };
  // Before its `at_op`-th operation the rank sleeps `wall` and advances its clock by `virtual_s`.
  struct Delay {
    int rank = 0;
    int64_t at_op = 0;
    absl::Duration wall = absl::ZeroDuration();
    double virtual_s = 0.0;
  };
  // The `at_send`-th message that `rank` sends is lost (the sender sees success).
  struct Drop {
    int rank = 0;
    int64_t at_send = 0;
  };
  // The `at_send`-th message that `rank` sends has one bit flipped in flight.
  struct Corrupt {
    int rank = 0;
    int64_t at_send = 0;
  };
  std::vector<Kill> kills;
  std::vector<Delay> delays;
  std::vector<Drop> drops;
  std::vector<Corrupt> corrupts;

  bool empty() const {
    return kills.empty() && delays.empty() && drops.empty() && corrupts.empty();
  }
};

// Per-rank fault counters, shared by every transport of that rank.
struct RankFaultState {
  int world_rank = 0;
  std::atomic<int64_t> ops{0};
  std::atomic<bool> dead{false};
};

// Wraps `inner` (this rank's transport). `on_kill` is called once when the plan kills the rank,
// so that the fabric can tell its peers.
class FaultInjectingTransport : public Transport {
 public:
  FaultInjectingTransport(std::unique_ptr<Transport> inner, const FaultPlan* plan,
                          std::shared_ptr<RankFaultState> state, std::function<void()> on_kill);

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  absl::StatusOr<std::unique_ptr<TransportRequest>> ISend(int dst, int tag, const void* data,
                                                          size_t bytes) override;
  absl::StatusOr<std::unique_ptr<TransportRequest>> IRecv(int src, int tag, void* data,
                                                          size_t bytes) override;
  absl::StatusOr<std::unique_ptr<Transport>> CreateSubgroup(
      int color, int key, const std::vector<int>& members) override;
  void Abort(const absl::Status& reason) override { inner_->Abort(reason); }
  absl::Status AbortStatus() const override { return inner_->AbortStatus(); }
  std::optional<double> VirtualSeconds() const override { return inner_->VirtualSeconds(); }
  void ChargeReduction(size_t bytes) override { inner_->ChargeReduction(bytes); }
  void AdvanceVirtualClock(double seconds) override { inner_->AdvanceVirtualClock(seconds); }
  size_t PipelineChunkBytes() const override { return inner_->PipelineChunkBytes(); }
  std::optional<LinkCost> SlowestLink() const override { return inner_->SlowestLink(); }

 private:
  // Applies kills and delays for the next operation; non-OK when this rank is (now) dead.
  absl::Status BeforeOp();

  std::unique_ptr<Transport> inner_;
  const FaultPlan* plan_;
  std::shared_ptr<RankFaultState> state_;
  std::function<void()> on_kill_;
};

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_SIM_FAULT_INJECTION_H_
