#include "orchestrator/probe/layer_time_probe.h"

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "orchestrator/model/corpus.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/model/probe.h"
#include "orchestrator/model/stage.h"
#include "orchestrator/runtime/comm_util.h"

namespace tangram::orchestrator {
namespace {

using partitioner::MeasuredLayerKind;
using partitioner::MeasuredLayerTime;

// Forward and backward seconds per micro-batch of the one-block model's three layers, in the
// order embedding, block, head.
using KindTimes = std::array<double, 6>;
constexpr MeasuredLayerKind kKinds[] = {MeasuredLayerKind::kEmbedding, MeasuredLayerKind::kBlock,
                                        MeasuredLayerKind::kHead};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

struct Timed {
  KindTimes times{};
  int passes = 0;
  bool budget_hit = false;
};

// Times the one-block model on this rank, sharded over `tp` (nullptr: tp 1) whose ranks are
// `group`'s: after `warmup` passes, up to `passes` single passes, each layer's forward and
// backward its median pass (a pass the scheduler interrupted, on a host with more ranks than
// cores, does not count). Past `budget` (from the start, warm-up included) it stops once
// `min_passes` have run; a tp group's ranks agree after each pass (their passes hold the group's
// collectives, so all must run the same number).
absl::StatusOr<Timed> TimeKinds(const train::GptSpec& spec, const JobConfig& job,
                                train::TensorParallelGroup* tp, collectives::Communicator* group,
                                const LayerTimeProbeOptions& options, absl::Duration budget) {
  const absl::Time start = absl::Now();
  train::GptOptions model;
  model.spec = spec;
  model.spec.layers = 1;
  model.granularity = train::Granularity::kBlock;
  model.seed = job.seed;
  model.tensor_parallel = tp;
  train::CorpusOptions corpus_options;
  corpus_options.seed = job.seed;
  corpus_options.seq_len = job.model.seq_len;
  TANGRAM_ASSIGN_OR_RETURN(auto corpus, train::MarkovCorpus::Create(corpus_options));
  TANGRAM_ASSIGN_OR_RETURN(auto layers, train::BuildGptLayers(model, 0, 3));
  train::Stage stage(std::move(layers));
  // Samples far past any training step, as calibration takes them.
  train::MicroBatch mb = corpus.MakeMicroBatch(0, int64_t{1} << 40, job.training.micro_batch);
  train::ProbeOptions probe;
  probe.warmup = options.warmup;
  probe.iterations = 1;
  const int most = std::max(options.passes, 1);
  const int least = std::clamp(options.min_passes, 1, most);
  Timed out;
  std::vector<std::vector<double>> samples(6);
  for (int p = 0; p < most; ++p) {
    if (p >= least) {
      int32_t go = absl::Now() - start < budget ? 1 : 0;
      if (group != nullptr) {
        int32_t all = 0;
        TANGRAM_RETURN_IF_ERROR(group->AllReduce(&go, &all, 1, collectives::DataType::kI32,
                                                 collectives::ReduceOp::kMin));
        go = all;
      }
      if (go == 0) {
        out.budget_hit = true;
        break;
      }
    }
    TANGRAM_ASSIGN_OR_RETURN(auto measured, train::ProbeStage(stage, mb, train::Tensor(), probe));
    if (measured.size() != 3) return absl::InternalError("the one-block model has 3 layers");
    probe.warmup = 0;
    ++out.passes;
    for (size_t k = 0; k < 3; ++k) {
      samples[2 * k].push_back(measured[k].forward_seconds_per_micro_batch);
      samples[2 * k + 1].push_back(measured[k].seconds_per_micro_batch -
                                   measured[k].forward_seconds_per_micro_batch);
    }
  }
  for (size_t i = 0; i < 6; ++i) out.times[i] = Median(samples[i]);
  return out;
}

// tp 1 from the calibration's passes of the full model (embedding, blocks, head): each kind's
// median forward and backward, the blocks' passes pooled. `fewest`: the smallest sample.
absl::StatusOr<KindTimes> KindsFromCalibration(const std::vector<train::LayerThroughput>& layers,
                                               int& fewest) {
  if (layers.size() < 3) return absl::InternalError("calibration: fewer than 3 layers");
  std::vector<std::vector<double>> samples(6);
  for (size_t i = 0; i < layers.size(); ++i) {
    const size_t k = i == 0 ? 0 : i + 1 == layers.size() ? 2 : 1;
    for (const auto& pass : layers[i].passes) {
      samples[2 * k].push_back(pass.forward_seconds);
      samples[2 * k + 1].push_back(pass.seconds - pass.forward_seconds);
    }
  }
  KindTimes out;
  fewest = 0;
  for (size_t i = 0; i < 6; ++i) {
    if (samples[i].empty()) return absl::InternalError("calibration: a layer kept no passes");
    fewest = i == 0 ? static_cast<int>(samples[i].size())
                    : std::min(fewest, static_cast<int>(samples[i].size()));
    out[i] = Median(samples[i]);
  }
  return out;
}

std::string Pack(const std::vector<KindTimes>& times) {
  std::vector<std::string> out;
  for (const KindTimes& t : times) {
    for (double x : t) out.push_back(absl::StrFormat("%.9g", x));
  }
  return absl::StrJoin(out, ",");
}

absl::StatusOr<std::vector<double>> Unpack(const std::string& text) {
  std::vector<double> out;
  for (absl::string_view field : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    double x = 0;
    if (!absl::SimpleAtod(field, &x)) return absl::InternalError("layer time probe: bad figure");
    out.push_back(x);
  }
  return out;
}

// Every rank's `stats` (fewest and most timed passes, budget reached, fewest tp-1 samples) into
// `result`'s totals.
absl::Status GatherPassCounts(collectives::Communicator& world, const double stats[4],
                              bool timed_any, LayerTimeProbeResult& result) {
  std::vector<double> all_stats(4 * static_cast<size_t>(world.size()), 0.0);
  TANGRAM_RETURN_IF_ERROR(world.AllGather(stats, all_stats.data(), 4, collectives::DataType::kF64));
  for (int r = 0; r < world.size(); ++r) {
    const double* s = &all_stats[4 * static_cast<size_t>(r)];
    if (timed_any) {
      result.min_passes =
          r == 0 ? static_cast<int>(s[0]) : std::min(result.min_passes, static_cast<int>(s[0]));
      result.max_passes = std::max(result.max_passes, static_cast<int>(s[1]));
    }
    result.ranks_over_budget += s[2] > 0 ? 1 : 0;
    if (result.tp1_from_calibration) {
      result.tp1_samples =
          r == 0 ? static_cast<int>(s[3]) : std::min(result.tp1_samples, static_cast<int>(s[3]));
    }
  }
  return absl::OkStatus();
}

// Per group (with a rank) and degree: the slowest rank's figures, EMULATION slowdown applied.
// `texts`: every rank's packed figures, 6 per degree. Only degrees dividing the group's devices per
// node: ranks on one host can form a tp group the fleet's nodes cannot (1-device nodes whose ranks
// all run on one machine), and the fleet file refuses such a time as one that is never used.
absl::StatusOr<std::vector<MeasuredLayerTime>> SlowestPerGroup(
    const partitioner::Fleet& fleet, const JobConfig& job, const std::vector<int>& degrees,
    const std::vector<std::string>& texts) {
  const int n = static_cast<int>(texts.size());
  const auto slots = partitioner::FlattenFleet(fleet);
  std::vector<MeasuredLayerTime> out;
  for (size_t g = 0; g < fleet.groups.size(); ++g) {
    for (size_t d = 0; d < degrees.size(); ++d) {
      const int t = degrees[d];
      if (fleet.groups[g].devices_per_node % t != 0) continue;
      KindTimes worst{};
      bool any = false;
      for (int r = 0; r < n && r < static_cast<int>(slots.size()); ++r) {
        const int first = r - r % t;
        const int last = first + t - 1;
        if (slots[r].group != static_cast<int>(g) || last >= static_cast<int>(slots.size()) ||
            slots[first].group != slots[last].group) {
          continue;
        }
        TANGRAM_ASSIGN_OR_RETURN(std::vector<double> all, Unpack(texts[r]));
        if (all.size() != 6 * degrees.size()) {
          return absl::InternalError("layer time probe: ranks disagree on the degrees");
        }
        const double slowdown = std::max(1.0, fleet.groups[g].emulate_slowdown);
        for (size_t k = 0; k < 6; ++k) worst[k] = std::max(worst[k], all[6 * d + k] * slowdown);
        any = true;
      }
      if (!any) continue;
      for (size_t k = 0; k < 3; ++k) {
        if (!(worst[2 * k] > 0)) continue;
        MeasuredLayerTime m;
        m.group = static_cast<int>(g);
        m.kind = kKinds[k];
        m.tp = t;
        m.micro_batch = static_cast<int>(job.training.micro_batch);
        m.forward_ms = worst[2 * k] * 1e3;
        if (worst[2 * k + 1] > 0) m.backward_ms = worst[2 * k + 1] * 1e3;
        out.push_back(m);
      }
    }
  }
  return out;
}

}  // namespace

std::vector<int> CandidateTpDegrees(int ranks, const std::vector<RankPlace>& places,
                                    const partitioner::Fleet& fleet, const JobConfig& job) {
  std::vector<int> out;
  absl::StatusOr<train::GptSpec> spec = train::GptSpecFromModel(job.model);
  if (!spec.ok() || static_cast<int>(places.size()) != ranks) return out;
  int max_node = 1;
  for (const auto& g : fleet.groups) max_node = std::max(max_node, g.devices_per_node);
  for (int t = 2; t <= std::min(max_node, ranks); ++t) {
    bool ok = ranks % t == 0 && train::CheckTensorParallel(*spec, t).ok();
    bool divides_a_node = false;
    for (const auto& g : fleet.groups) divides_a_node |= g.devices_per_node % t == 0;
    for (int r = 0; ok && r < ranks; ++r) ok = places[r].host == places[r - r % t].host;
    if (ok && divides_a_node) out.push_back(t);
  }
  return out;
}

absl::StatusOr<LayerTimeProbeResult> ProbeLayerTimes(collectives::Communicator& world,
                                                     const partitioner::Fleet& fleet,
                                                     const JobConfig& job,
                                                     const std::vector<RankPlace>& places,
                                                     const LayerTimeProbeOptions& options) {
  TANGRAM_ASSIGN_OR_RETURN(train::GptSpec spec, train::GptSpecFromModel(job.model));
  const int n = world.size();
  LayerTimeProbeResult result;
  std::vector<int>& degrees = result.degrees;
  degrees = {1};
  for (int t : CandidateTpDegrees(n, places, fleet, job)) degrees.push_back(t);
  // tp 1 from the calibration only when every rank has it (a rank without would time it alone).
  int32_t have = options.tp1_passes.empty() ? 0 : 1, everyone = 0;
  TANGRAM_RETURN_IF_ERROR(world.AllReduce(&have, &everyone, 1, collectives::DataType::kI32,
                                          collectives::ReduceOp::kMin));
  result.tp1_from_calibration = everyone == 1;
  const size_t timed_degrees = degrees.size() - (result.tp1_from_calibration ? 1 : 0);
  const absl::Duration budget = options.budget == absl::InfiniteDuration() || timed_degrees == 0
                                    ? absl::InfiniteDuration()
                                    : options.budget / static_cast<int64_t>(timed_degrees);
  std::vector<KindTimes> mine;
  // This rank's fewest and most timed passes, whether its budget cut a degree short, and the
  // fewest samples behind a tp-1 median taken from the calibration.
  double stats[4] = {0, 0, 0, 0};
  bool timed_any = false;
  for (int t : degrees) {
    // Every rank takes part in every degree (Split is collective); all compute at once, as in
    // training.
    std::unique_ptr<collectives::Communicator> group;
    CommTensorParallelGroup tp;
    if (t > 1) {
      TANGRAM_ASSIGN_OR_RETURN(group, world.Split(world.rank() / t, world.rank()));
      tp.Reset(group.get());
    }
    TANGRAM_RETURN_IF_ERROR(world.Barrier());
    if (t == 1 && result.tp1_from_calibration) {
      int fewest = 0;
      TANGRAM_ASSIGN_OR_RETURN(KindTimes times, KindsFromCalibration(options.tp1_passes, fewest));
      stats[3] = fewest;
      mine.push_back(times);
      continue;
    }
    TANGRAM_ASSIGN_OR_RETURN(
        Timed timed, TimeKinds(spec, job, t > 1 ? &tp : nullptr, group.get(), options, budget));
    stats[0] = timed_any ? std::min<double>(stats[0], timed.passes) : timed.passes;
    stats[1] = std::max<double>(stats[1], timed.passes);
    stats[2] = stats[2] > 0 || timed.budget_hit ? 1 : 0;
    timed_any = true;
    mine.push_back(timed.times);
  }
  TANGRAM_RETURN_IF_ERROR(GatherPassCounts(world, stats, timed_any, result));
  TANGRAM_ASSIGN_OR_RETURN(auto texts, AllGatherStrings(world, Pack(mine)));
  TANGRAM_ASSIGN_OR_RETURN(result.times, SlowestPerGroup(fleet, job, degrees, texts));
  return result;
}

}  // namespace tangram::orchestrator
