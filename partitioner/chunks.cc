#include "partitioner/chunks.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tangram::partitioner {

absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> ChunkRanges(const Plan& plan, int chunks,
                                                                     ChunkSplit split) {
  const int pp = plan.pp;
  if (chunks == 1) {
    // One chunk per stage: the plan's own ranges, whatever they hold (a stage holding only the
    // output head, as the planner may emit when the head is the heaviest layer, is a stage).
    std::vector<std::pair<int64_t, int64_t>> out;
    for (const PlanStage& s : plan.stages) out.push_back({s.layer_begin, s.layer_end});
    return out;
  }
  std::vector<int64_t> len(static_cast<size_t>(pp) * chunks);
  for (int s = 0; s < pp; ++s) {
    const int64_t n = plan.stages[s].layer_end - plan.stages[s].layer_begin;
    const bool embedding = s == 0, head = s + 1 == pp;
    const bool fits = StageSplits(n, embedding, head, chunks, split);
    if (split == ChunkSplit::kAllLayers) {
      if (!fits) {
        return absl::InvalidArgumentError(absl::StrCat("stage ", s, " has ", n,
                                                       " layers (embedding and head counted), "
                                                       "fewer than ",
                                                       chunks, " virtual stages"));
      }
      for (int c = 0; c < chunks; ++c) len[c * pp + s] = n / chunks + (c < n % chunks ? 1 : 0);
      continue;
    }
    // The decoder blocks of the stage go evenly over its chunks; the embedding (first layer of
    // the model) stays with the first chunk, the head (last layer) with the last, as in
    // Megatron-LM, so the chunks carry equal work.
    const int64_t body = n - (embedding ? 1 : 0) - (head ? 1 : 0);
    if (!fits) {
      return absl::InvalidArgumentError(
          absl::StrCat("stage ", s, " has ", body, " decoder layers, fewer than ", chunks,
                       " virtual stages (with the embedding and the head as chunks of their "
                       "own, layout.chunk_split: all_layers, it needs ",
                       chunks, " layers)"));
    }
    for (int c = 0; c < chunks; ++c) {
      int64_t l = body / chunks + (c < body % chunks ? 1 : 0);
      if (embedding && c == 0) ++l;
      if (head && c + 1 == chunks) ++l;
      len[c * pp + s] = l;
    }
  }
  std::vector<std::pair<int64_t, int64_t>> out(len.size());
  int64_t cursor = plan.stages[0].layer_begin;
  for (size_t k = 0; k < len.size(); ++k) {
    out[k] = {cursor, cursor + len[k]};
    cursor += len[k];
  }
  return out;
}

bool StageSplits(int64_t layers, bool first, bool last, int chunks, ChunkSplit split) {
  if (chunks <= 1) return layers >= 1;
  if (split == ChunkSplit::kAllLayers) return layers >= chunks;
  return layers - (first ? 1 : 0) - (last ? 1 : 0) >= chunks;
}

double PeakInFlight(int rank, int pp, int64_t micro_batches, std::span<const double> chunk_bytes) {
  const int v = static_cast<int>(chunk_bytes.size());
  const int64_t m = std::max<int64_t>(1, micro_batches);
  if (v <= 1) return static_cast<double>(std::min<int64_t>(pp - rank, m));
  double stage = 0;
  for (double b : chunk_bytes) stage += b;
  if (!(stage > 0)) return 0;
  // The chunk of the k-th forward: micro-batches go in groups of pp, each group through every
  // chunk in turn (schedule.cc, Interleaved::Order); the k-th backward runs chunks reversed.
  auto chunk_of = [&](int64_t k) {
    const int64_t group = k / (static_cast<int64_t>(pp) * v);
    const int64_t size = std::min<int64_t>(pp, m - group * pp);
    return static_cast<int>((k - group * pp * v) / size);
  };
  const int64_t total = m * v;
  const int64_t warmup = std::min<int64_t>(total, 2 * (pp - rank - 1) + (v - 1) * pp);
  double held = 0, peak = 0;
  for (int64_t k = 0; k < warmup; ++k) held += chunk_bytes[chunk_of(k)];
  peak = held;
  for (int64_t k = 0; k < total; ++k) {
    if (warmup + k < total) held += chunk_bytes[chunk_of(warmup + k)];
    peak = std::max(peak, held);
    held -= chunk_bytes[v - 1 - chunk_of(k)];
  }
  return peak / stage;
}

}  // namespace tangram::partitioner
