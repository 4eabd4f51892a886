// Model chunks of an interleaved pipeline (virtual stages; Narayanan et al. SC'21 §2.2.2): which
// layers each chunk holds and how many micro-batches' activations a rank keeps at its peak. The
// cost model's static memory check and the simulator both use these, so a plan that passes the
// check fits in the simulation.
#ifndef TANGRAM_PARTITIONER_CHUNKS_H_
#define TANGRAM_PARTITIONER_CHUNKS_H_

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/plan.h"
#include "partitioner/training.h"

namespace tangram::partitioner {

// Layer ranges [begin, end) of the `chunks` model chunks of each plan stage, in virtual-stage
// order (k = chunk × pp + stage): stage s keeps its plan's layer count and the model's layers are
// laid along the virtual stages in order. How a stage's count is split over its chunks:
//   kDecoder    its decoder layers evenly, the embedding with the first chunk and the head with
//               the last (Megatron-LM's default); needs ≥ `chunks` decoder layers per stage.
//   kAllLayers  every layer evenly, the embedding and the head counting as one layer each
//               (Megatron-LM's account_for_embedding/loss_in_pipeline_split, as Llama 3 405B
//               ran: 126 layers, pp 16, v 8, an embedding-only first and an output-only last
//               chunk); needs ≥ `chunks` layers per stage.
// chunks = 1 gives the plan's own ranges (a stage may then hold the head alone).
// kInvalidArgument when a stage is too small for its chunks.
absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> ChunkRanges(const Plan& plan, int chunks,
                                                                     ChunkSplit split);

// Whether a stage of `layers` layers (`first`: it holds the embedding, `last`: the head) can be
// split into `chunks` chunks as ChunkRanges splits it.
bool StageSplits(int64_t layers, bool first, bool last, int chunks, ChunkSplit split);

// Peak activations a rank of an interleaved 1F1B pipeline holds (Megatron-LM's order: warm-up of
// 2(pp − rank − 1) + (v − 1)·pp chunk forwards, then one forward and one backward in turn), as a
// multiple of one micro-batch of the whole stage: Σ of the chunks' bytes in flight at the peak ÷
// Σ of all chunks' bytes. `chunk_bytes`: activation bytes of one micro-batch on each of the rank's
// v chunks. v = 1: min(pp − rank, m), plain 1F1B.
double PeakInFlight(int rank, int pp, int64_t micro_batches, std::span<const double> chunk_bytes);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_CHUNKS_H_
