// The two layout families the searching strategies enumerate (grid.h has the vocabulary).
//
//   Mixed pipelines (hetero-pipeline, auto): dp identical replicas, each a pipeline through a
//   1/dp share of every pool, the pools in some order along the pipeline (all orders up to 4 pools,
//   otherwise memory-first and speed-first), stage ranges from GridEvaluator::Balance. A stage
//   mixes kinds across replicas never; a replica mixes kinds along its pipeline.
//   Homogeneous replicas (auto): every replica runs on one pool; pp shared, each pool fills
//   ⌊units/pp⌋ replicas, samples water-filled so fast and slow replicas finish together. Pools that
//   cannot hold the model at that depth are left out.
//
// Both honour the job's pinned tp/pp/dp. Thread-compatible.
#ifndef TANGRAM_PARTITIONER_LAYOUT_SEARCH_H_
#define TANGRAM_PARTITIONER_LAYOUT_SEARCH_H_

#include <string>
#include <vector>

#include "partitioner/grid.h"

namespace tangram::partitioner {

struct ScoredLayout {
  GridLayout layout;
  double step_time_s = kInfeasible;  // GridEvaluator::StepTime
  std::string family;                // "mixed-pipeline" | "homogeneous-replicas" | ...
};

std::vector<ScoredLayout> MixedPipelineLayouts(const GridEvaluator& grid, int64_t micro_batch);
std::vector<ScoredLayout> HomogeneousReplicaLayouts(const GridEvaluator& grid, int64_t micro_batch);

// On small fleets (≤ 16 devices), local moves from a layout while its predicted step improves:
// one replica (or a whole class) moves one stage to a pool with free units; two replicas swap the
// pools of one stage each; one replica is dropped, or rebuilt as any sequence (or two sequences)
// of the units then free; or one more replica is built from free units — which reaches layouts
// whose replicas come in three or more shapes. Close candidates get RefineBounds' boundaries.
// Does nothing on larger fleets.
void ImproveByMoves(const GridEvaluator& grid, ScoredLayout* s);

// Sorts by predicted step time, materializes and evaluates the best `keep` distinct layouts,
// and returns the evaluated plans sorted by their exact step time. Plans that fail to evaluate
// are dropped; `first_error` (optional) receives the first such failure.
std::vector<Plan> EvaluateBest(const GridEvaluator& grid, std::vector<ScoredLayout> layouts,
                               size_t keep, StrategyKind strategy,
                               absl::Status* first_error = nullptr);

// Micro-batch sizes to try: the job's, then halvings down to 1 (used only when the larger do
// not fit).
std::vector<int64_t> MicroBatchCandidates(const CostModel& cost);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_LAYOUT_SEARCH_H_
