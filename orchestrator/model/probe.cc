#include "orchestrator/model/probe.h"

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
  MicroBatch probe = mb;
  std::vector<LayerThroughput> result;
  Tensor x = input;
  for (int64_t i = 0; i < stage.size(); ++i) {
    Layer& layer = stage.layer(i);
    Tensor next;
    absl::Duration total = absl::ZeroDuration(), forward = absl::ZeroDuration();
    for (int it = 0; it < options.warmup + options.iterations; ++it) {
      probe.id = kProbeId - it;
      const absl::Time start = options.now();
      TANGRAM_ASSIGN_OR_RETURN(Tensor y, layer.Forward(probe, x));
      if (it >= options.warmup) forward += options.now() - start;
      Tensor dy = y;
      for (float& v : dy.data) v = 1e-3f;
      TANGRAM_RETURN_IF_ERROR(layer.Backward(probe.id, dy).status());
      if (it >= options.warmup) total += options.now() - start;
      next = std::move(y);
    }
    LayerThroughput t;
    t.layer = layer.name();
    t.seconds_per_micro_batch =
        absl::ToDoubleSeconds(total) / static_cast<double>(std::max(options.iterations, 1));
    t.forward_seconds_per_micro_batch =
        absl::ToDoubleSeconds(forward) / static_cast<double>(std::max(options.iterations, 1));
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
