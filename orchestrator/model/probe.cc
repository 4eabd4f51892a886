#include "orchestrator/model/probe.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace tangram::train {
namespace {

// Ids no training micro-batch uses.
constexpr int64_t kProbeId = -1000000;

}  // namespace

absl::StatusOr<std::vector<LayerThroughput>> ProbeStage(Stage& stage, const MicroBatch& mb,
                                                        const Tensor& input,
                                                        const ProbeOptions& options) {
  // Each layer's deadline: the budget's share of layers 0..i, counted from the start.
  std::vector<double> share(static_cast<size_t>(stage.size()), 0.0);
  double total_flops = 0;
  for (int64_t i = 0; i < stage.size(); ++i) {
    share[i] = std::max(0.0, stage.layer(i).ForwardFlopsPerToken(mb.seq_len));
    total_flops += share[i];
  }
  for (double& s : share) {
    s = total_flops > 0 ? 0.5 * s / total_flops + 0.5 / static_cast<double>(share.size())
                        : 1.0 / static_cast<double>(share.size());
  }
  const absl::Time start = options.now();
  double cumulative = 0;
  MicroBatch probe = mb;
  std::vector<LayerThroughput> result;
  Tensor x = input;
  for (int64_t i = 0; i < stage.size(); ++i) {
    Layer& layer = stage.layer(i);
    cumulative += share[i];
    const absl::Time deadline = options.budget == absl::InfiniteDuration()
                                    ? absl::InfiniteFuture()
                                    : start + options.budget * cumulative;
    LayerThroughput t;
    Tensor next;
    absl::Duration total = absl::ZeroDuration(), forward = absl::ZeroDuration();
    for (int it = 0; it < options.warmup + options.iterations; ++it) {
      const bool timed = it >= options.warmup;
      if (timed && deadline != absl::InfiniteFuture() &&
          t.iterations >= std::max(options.min_iterations, 1) && options.now() >= deadline) {
        t.budget_hit = true;
        break;
      }
      probe.id = kProbeId - it;
      const absl::Time begin = options.now();
      TANGRAM_ASSIGN_OR_RETURN(Tensor y, layer.Forward(probe, x));
      const absl::Time forward_end = options.now();
      Tensor dy = y;
      for (float& v : dy.data) v = 1e-3f;
      TANGRAM_RETURN_IF_ERROR(layer.Backward(probe.id, dy).status());
      if (timed) {
        const absl::Time end = options.now();
        forward += forward_end - begin;
        total += end - begin;
        ++t.iterations;
        if (options.keep_passes) {
          t.passes.push_back(
              {absl::ToDoubleSeconds(forward_end - begin), absl::ToDoubleSeconds(end - begin)});
        }
      }
      next = std::move(y);
      if (options.between_passes) TANGRAM_RETURN_IF_ERROR(options.between_passes());
    }
    t.layer = layer.name();
    const double n = static_cast<double>(std::max(t.iterations, 1));
    t.seconds_per_micro_batch = absl::ToDoubleSeconds(total) / n;
    t.forward_seconds_per_micro_batch = absl::ToDoubleSeconds(forward) / n;
    t.flops_per_micro_batch =
        3.0 * layer.ForwardFlopsPerToken(mb.seq_len) * static_cast<double>(mb.batch * mb.seq_len);
    if (t.seconds_per_micro_batch > 0) {
      t.flops_per_second = t.flops_per_micro_batch / t.seconds_per_micro_batch;
    }
    result.push_back(t);
    x = std::move(next);
  }
  stage.ZeroGradients();
  return result;
}

absl::Status ComputeEmulation::Run(const std::function<absl::Status()>& phase) {
  const absl::Time start = options_.now();
  absl::Status status = phase();
  Stretch(options_.now() - start);
  return status;
}

void ComputeEmulation::Stretch(absl::Duration took) {
  measured_ += took;
  if (active()) {
    const absl::Duration extra = took * (options_.slowdown - 1.0);
    options_.sleep(extra);
    added_ += extra;
  }
}

std::string ComputeEmulation::Describe() const {
  if (!active()) return "no emulation (slowdown 1)";
  return absl::StrFormat("EMULATION: compute phases stretched %.2gx (measured %s, added %s)",
                         options_.slowdown, absl::FormatDuration(measured_),
                         absl::FormatDuration(added_));
}

}  // namespace tangram::train
