// Measured layer times in the cost model: per (group, tp degree), the seconds per token of every
// layer, from a measured time where the fleet has one for the layer's kind (NodeGroup::
// layer_times, written by `tangram probe` into the fleet's `measured:` section) and from the
// group's rate otherwise. A fleet without layer times builds no table, and every query takes the
// rate path unchanged.
#include <algorithm>
#include <array>
#include <functional>
#include <optional>
#include <vector>

#include "partitioner/cost_model.h"

namespace tangram::partitioner {
namespace {

// One layer kind's forward time on one rank of a tp group as a function of the micro-batch b:
// fixed + per_sample × b (seconds). `exact`: measured at this tp degree (collectives included).
struct LayerFit {
  double fixed = 0, per_sample = 0;
  std::optional<double> backward_ratio;  // measured backward ÷ forward, when stated
  bool exact = false;
};

// Least squares through the (micro-batch, time) points of one kind at one tp degree; with one
// point, all of it per sample. Both parts kept >= 0.
LayerFit FitPoints(const std::vector<const MeasuredLayerTime*>& points) {
  LayerFit fit;
  double n = 0, sb = 0, st = 0, sbb = 0, sbt = 0, fwd = 0, bwd = 0;
  for (const MeasuredLayerTime* t : points) {
    const double b = t->micro_batch, y = t->forward_ms / 1e3;
    n += 1, sb += b, st += y, sbb += b * b, sbt += b * y;
    if (t->backward_ms) fwd += t->forward_ms, bwd += *t->backward_ms;
  }
  const double det = n * sbb - sb * sb;
  if (points.size() >= 2 && det > 0) {
    fit.per_sample = std::max(0.0, (n * sbt - sb * st) / det);
    fit.fixed = std::max(0.0, (st - fit.per_sample * sb) / n);
  } else {
    fit.per_sample = st / sb;
  }
  if (fwd > 0) fit.backward_ratio = bwd / fwd;
  return fit;
}

std::vector<const MeasuredLayerTime*> PointsAt(const std::vector<MeasuredLayerTime>& times,
                                               MeasuredLayerKind kind, int tp) {
  std::vector<const MeasuredLayerTime*> out;
  for (const MeasuredLayerTime& t : times) {
    if (t.kind == kind && t.tp == tp) out.push_back(&t);
  }
  return out;
}

// The fit for `kind` at `tp`: from the points at tp itself, else from the largest measured
// degree t' dividing tp (its per-sample part × t' ÷ tp; not exact: the model adds collectives).
// A tp > 1 degree measured at one micro-batch only, beside a tp-1 measurement of the kind, is
// split: what scales with the micro-batch is the tp-1 per-sample time ÷ tp plus the bandwidth term
// of the layer's collectives (`comm_per_sample`, from the α-β model); the rest — the collectives'
// latency and launches, what a launch-bound stack adds — is paid once per micro-batch.
std::optional<LayerFit> FitFor(const std::vector<MeasuredLayerTime>& times, MeasuredLayerKind kind,
                               int tp, const std::function<double(int)>& comm_per_sample) {
  int best = 0;
  for (const MeasuredLayerTime& t : times) {
    if (t.kind == kind && tp % t.tp == 0) best = std::max(best, t.tp);
  }
  if (best == 0) return std::nullopt;
  const auto points = PointsAt(times, kind, best);
  LayerFit fit = FitPoints(points);
  const auto one = PointsAt(times, kind, 1);
  if (best > 1 && points.size() == 1 && !one.empty()) {
    const double work = FitPoints(one).per_sample / best + comm_per_sample(best);
    const double b = points[0]->micro_batch;
    if (work * b < points[0]->forward_ms / 1e3) {
      fit.per_sample = work;
      fit.fixed = points[0]->forward_ms / 1e3 - work * b;
    }
  }
  fit.exact = best == tp;
  if (!fit.exact) {
    fit.per_sample *= static_cast<double>(best) / tp;
    fit.fixed = 0;  // the model adds this degree's collectives
  }
  return fit;
}

MeasuredLayerKind KindOf(LayerKind kind) {
  switch (kind) {
    case LayerKind::kEmbedding:
      return MeasuredLayerKind::kEmbedding;
    case LayerKind::kHead:
      return MeasuredLayerKind::kHead;
    default:
      return MeasuredLayerKind::kBlock;
  }
}

// The fit of each measured kind (indexed by MeasuredLayerKind) for `group` at `tp`, with the
// per-sample bandwidth term of each kind's forward collectives: one layer's (a block: both
// halves) times the α-β model's time for one sample's activations less its α part.
std::array<std::optional<LayerFit>, 3> FitKinds(const std::vector<Layer>& layers,
                                                const ModelSpec& model,
                                                const TrainingSpec& training, const CommModel& comm,
                                                const std::vector<MeasuredLayerTime>& times,
                                                int group, int tp) {
  double collectives[3] = {0, 0, 0};
  const double per_pass = training.recompute == Recompute::kFull ? 3 : 2;
  for (const Layer& l : layers) {
    const int k = static_cast<int>(KindOf(l.kind));
    const double units = k == static_cast<int>(MeasuredLayerKind::kBlock)
                             ? static_cast<double>(std::max<int64_t>(model.layers, 1))
                             : 1.0;
    // The embedding's one collective is in its forward; other layers split theirs over passes.
    const double forward =
        l.kind == LayerKind::kEmbedding ? l.tp_collectives : l.tp_collectives / per_pass;
    collectives[k] += forward / units;
  }
  const double sample_bytes = static_cast<double>(model.seq_len) * model.hidden *
                              ActivationElementBytes(training.precision);
  auto beta = [&](int degree) {
    return degree > 1 ? comm.TpAllreduceTime(group, degree, sample_bytes) -
                            comm.TpAllreduceTime(group, degree, 0)
                      : 0.0;
  };
  std::array<std::optional<LayerFit>, 3> fits;
  for (MeasuredLayerKind k :
       {MeasuredLayerKind::kEmbedding, MeasuredLayerKind::kBlock, MeasuredLayerKind::kHead}) {
    const int i = static_cast<int>(k);
    fits[i] = FitFor(times, k, tp, [&](int degree) { return collectives[i] * beta(degree); });
  }
  return fits;
}

}  // namespace

void CostModel::BuildLayerTimeTables() {
  for (size_t g = 0; g < fleet_.groups.size(); ++g) {
    const NodeGroup& group = fleet_.groups[g];
    if (group.layer_times.empty()) continue;
    int max_tp = group.devices_per_node;
    for (const MeasuredLayerTime& t : group.layer_times) max_tp = std::max(max_tp, t.tp);
    for (int tp = 1; tp <= max_tp; ++tp) {
      layer_tables_.push_back(MakeTable(static_cast<int>(g), tp));
    }
    // One device's throughput on this job follows from its tp-1 layer times (as for a rate).
    const LayerTimeTable& one = layer_tables_[layer_tables_.size() - max_tp];
    const double tokens = static_cast<double>(training_.micro_batch * model_.seq_len);
    const double seconds = one.forward.back() + one.backward.back() +
                           (one.forward_fixed.back() + one.backward_fixed.back()) / tokens;
    if (seconds > 0) {
      summed_tflops_ -= group_tflops_[g] * static_cast<double>(group.num_devices());
      group_tflops_[g] = 3 * fwd_flops_.back() / seconds / 1e12;
      summed_tflops_ += group_tflops_[g] * static_cast<double>(group.num_devices());
    }
  }
}

CostModel::LayerTimeTable CostModel::MakeTable(int group, int tp) const {
  const NodeGroup& g = fleet_.groups[group];
  const double seq = static_cast<double>(model_.seq_len);
  // A half-block layer takes the block's time in proportion to its FLOPs.
  double block_flops = 0;
  for (const Layer& l : layers_) {
    if (l.kind == LayerKind::kBlock || l.kind == LayerKind::kAttention ||
        l.kind == LayerKind::kMlp) {
      block_flops += l.forward_flops_per_token;
    }
  }
  if (model_.layers > 0) block_flops /= static_cast<double>(model_.layers);
  LayerTimeTable table;
  table.group = group;
  table.tp = tp;
  const size_t n = layers_.size();
  table.forward.assign(n + 1, 0.0);
  table.backward.assign(n + 1, 0.0);
  table.collectives.assign(n + 1, 0.0);
  table.forward_fixed.assign(n + 1, 0.0);
  table.backward_fixed.assign(n + 1, 0.0);
  const std::array<std::optional<LayerFit>, 3> fits =
      FitKinds(layers_, model_, training_, comm_, g.layer_times, group, tp);
  table.shape_prefix.assign(tp_shapes_.size(), std::vector<double>(n + 1, 0.0));
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = layers_[i];
    const auto b = static_cast<int64_t>(i), e = b + 1;
    // At the rate (the same expressions as ForwardTime and BackwardTime, per token).
    double fwd =
        (Sum(fwd_flops_, b, e) / flop_rate_[group] + Sum(fwd_bytes_, b, e) / byte_rate_[group]) /
            tp +
        Sum(fwd_shared_bytes_, b, e) / byte_rate_[group];
    double bwd =
        (Sum(bwd_flops_, b, e) / flop_rate_[group] + Sum(bwd_bytes_, b, e) / byte_rate_[group]) /
            tp +
        Sum(bwd_shared_bytes_, b, e) / byte_rate_[group];
    const std::optional<LayerFit>& fit = fits[static_cast<int>(KindOf(l.kind))];
    double fwd_fixed = 0, bwd_fixed = 0;
    if (fit) {
      const double share =
          (l.kind == LayerKind::kAttention || l.kind == LayerKind::kMlp) && block_flops > 0
              ? l.forward_flops_per_token / block_flops
              : 1.0;
      const double hardware_fwd = Sum(fwd_flops_, b, e);
      const double ratio = fit->backward_ratio.value_or(
          hardware_fwd > 0 ? Sum(bwd_flops_, b, e) / hardware_fwd : 2.0);
      fwd = share * fit->per_sample / seq;
      bwd = fwd * ratio;
      fwd_fixed = share * fit->fixed;
      bwd_fixed = fwd_fixed * ratio;
    }
    const bool exact = fit && fit->exact;
    table.forward_fixed[i + 1] = table.forward_fixed[i] + fwd_fixed;
    table.backward_fixed[i + 1] = table.backward_fixed[i] + bwd_fixed;
    table.forward[i + 1] = table.forward[i] + fwd;
    table.backward[i + 1] = table.backward[i] + bwd;
    // A layer measured at exactly this degree ran its collectives inside the measured time.
    const double uncovered = exact && tp > 1 ? 0.0 : 1.0;
    table.collectives[i + 1] = table.collectives[i] + uncovered * l.tp_collectives;
    for (size_t s = 0; s < tp_shapes_.size(); ++s) {
      table.shape_prefix[s][i + 1] =
          table.shape_prefix[s][i] + uncovered * Sum(tp_shapes_[s].prefix, b, e);
    }
  }
  return table;
}

const CostModel::LayerTimeTable* CostModel::Table(int group, int tp) const {
  for (const LayerTimeTable& t : layer_tables_) {
    if (t.group == group && t.tp == tp) return &t;
  }
  return nullptr;
}

}  // namespace tangram::partitioner
