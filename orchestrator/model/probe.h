// Measuring a rank's compute, and stretching it on purpose.
//
// ProbeStage times forward + backward of each layer of a stage on a few micro-batches after
// warm-up and converts the time to FLOP/s with the layer's ForwardFlopsPerToken (backward counted
// as 2× forward). This is the *measured* throughput a rank reports to the coordinator.
//
// ComputeEmulation is EMULATION, not measurement: given a factor k it stretches each compute
// phase to k × its measured duration by sleeping afterwards, so that a heterogeneous fleet can be
// exercised on one machine (a fleet entry's `emulate_slowdown`). Logs and reports must say so.
// Both are thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_PROBE_H_
#define TANGRAM_ORCHESTRATOR_MODEL_PROBE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "orchestrator/model/stage.h"

namespace tangram::train {

struct ProbeOptions {
  int warmup = 1;      // untimed forward + backward passes per layer
  int iterations = 3;  // timed passes per layer (at most)
  // Wall-clock budget of the whole call, warm-up included; infinite = none. Layer i may run until
  // the budget's cumulative share of layers 0..i has passed (a layer's share: half by its FLOPs,
  // half equal, so time a cheap layer leaves goes to the next ones); past that it stops after
  // `min_iterations` timed passes. The passes that ran count (LayerThroughput::iterations).
  absl::Duration budget = absl::InfiniteDuration();
  int min_iterations = 1;
  // Keep every timed pass's times in LayerThroughput::passes.
  bool keep_passes = false;
  // Where the time comes from; tests inject a fake clock.
  std::function<absl::Time()> now = [] { return absl::Now(); };
  // Called after every pass (warm-up or timed), outside its timing; an error stops the probe and
  // is returned. The CPU pool probe's leader pulses its waiting peers here (probe/pulse.h).
  std::function<absl::Status()> between_passes;
};

struct LayerThroughput {
  std::string layer;
  double seconds_per_micro_batch = 0;          // forward + backward, mean of the timed passes
  double forward_seconds_per_micro_batch = 0;  // of which the forward pass
  double flops_per_micro_batch = 0;            // 3 × forward FLOPs; 0 when the layer does not say
  double flops_per_second = 0;
  int iterations = 0;       // timed passes run
  bool budget_hit = false;  // stopped before `iterations` because the budget ran out
  struct Pass {
    double forward_seconds = 0;
    double seconds = 0;  // forward + backward
  };
  std::vector<Pass> passes;  // each timed pass, with ProbeOptions::keep_passes
};

// Probes every layer of `stage` on `mb`; `input` is the stage's input for mb (empty for a stage
// that starts with the embedding). Leaves the stage's gradients zero and no micro-batch in
// flight (so call it before training or between steps). Errors from the layers pass through.
absl::StatusOr<std::vector<LayerThroughput>> ProbeStage(Stage& stage, const MicroBatch& mb,
                                                        const Tensor& input,
                                                        const ProbeOptions& options = {});

class ComputeEmulation {
 public:
  struct Options {
    double slowdown = 1.0;  // k >= 1; 1 means no emulation
    std::function<absl::Time()> now = [] { return absl::Now(); };
    std::function<void(absl::Duration)> sleep = [](absl::Duration d) { absl::SleepFor(d); };
  };
  explicit ComputeEmulation(Options options) : options_(std::move(options)) {}

  // Runs `phase`; when k > 1, then sleeps (k - 1) × its measured duration (EMULATION).
  // Returns the phase's status.
  absl::Status Run(const std::function<absl::Status()>& phase);
  // Stretches a phase the caller ran and timed itself: sleeps (k - 1) × `took` when k > 1 and
  // counts it as Run does. For phases part of whose time must not be stretched (waits in a
  // collective).
  void Stretch(absl::Duration took);

  bool active() const { return options_.slowdown > 1.0; }
  absl::Duration measured() const { return measured_; }  // total time spent in phases
  absl::Duration added() const { return added_; }        // total sleep added by emulation
  // "EMULATION: compute phases stretched 3x (measured 1.2s, added 2.4s)", for logs.
  std::string Describe() const;

 private:
  Options options_;
  absl::Duration measured_ = absl::ZeroDuration();
  absl::Duration added_ = absl::ZeroDuration();
};

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_PROBE_H_
