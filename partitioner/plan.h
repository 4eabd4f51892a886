// A parallel plan: which devices run which layers on how much of the batch.
//
// The layout is a grid of `pp` pipeline stages × `dp` data-parallel replicas, each cell a
// tensor-parallel group of `tp` devices inside one node. Stage boundaries are shared by all
// replicas (so stage s of every replica holds the same layers and the data-parallel gradient
// allreduce of stage s runs across the cells of row s); what differs between replicas is which
// devices — of which kind — fill their cells, and how many samples each replica takes. On a mixed
// fleet a stage may therefore hold H200s in one replica and H20s in another, and a replica may run
// its stages on different kinds.
//
// Strategies produce Plans; CostModel::Evaluate fills the `predicted` part (per-cell times and
// memory, step time, bound, efficiency); plan_json.h reads and writes the versioned JSON format
// that the runtime executes (docs/plan-format.md). Plain data; thread-compatible.
#ifndef TANGRAM_PARTITIONER_PLAN_H_
#define TANGRAM_PARTITIONER_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "partitioner/kinds.h"
#include "partitioner/training.h"

namespace tangram::partitioner {

inline constexpr int kPlanFormatVersion = 1;

// One cell of the grid: stage `stage` of replica `replica`, and what the cost model predicts for
// it.
struct PlanCell {
  int replica = 0;
  std::vector<int64_t> devices;  // fleet device indices (FlattenFleet order), tp of them
  // Filled by CostModel::Evaluate.
  std::string kind;       // device kind of the cell
  double forward_s = 0;   // one micro-batch, compute + tensor-parallel communication
  double backward_s = 0;  // one micro-batch, incl. recompute and tp communication
  double send_s = 0;  // pipeline p2p per micro-batch, all chunks (activations out + gradients back;
                      // with pipeline_p2p rendezvous, the receives from both neighbours too)
  double memory_gib = 0;    // peak per device
  double capacity_gib = 0;  // device memory
};

struct PlanStage {
  int index = 0;
  // This stage's tensor-parallel size when the plan gives stages different ones (a pinned
  // `layout: {tp: [...]}`); 0: the plan's tp. Read it through StageTp().
  int tp = 0;
  int64_t layer_begin = 0;  // [layer_begin, layer_end) into the layer list (layers.h)
  int64_t layer_end = 0;
  std::vector<PlanCell> cells;  // one per replica, in replica order
  // Filled by CostModel::Evaluate.
  double allreduce_s = 0;  // data-parallel gradient allreduce of this stage
  AllreduceAlgorithm allreduce_algorithm = AllreduceAlgorithm::kNone;  // what the model costed
};

struct PlanReplica {
  int index = 0;
  int64_t samples = 0;           // sequences of the global batch this replica trains per step
  int64_t micro_batch_size = 0;  // sequences per micro-batch (the last one may be smaller)
  int64_t micro_batches = 0;     // ceil(samples / micro_batch_size)
  double pipeline_s = 0;         // filled by Evaluate: this replica's 1F1B time
};

struct Prediction {
  double step_time_s = 0;
  double tokens_per_s = 0;
  double mfu = 0;                  // model FLOPs/s ÷ summed catalog peak of the devices used
  double tflops_per_device = 0;    // model TFLOP/s per device used
  double pipeline_s = 0;           // slowest replica's 1F1B time
  double bubble_s = 0;             // of which pipeline fill and drain (slowest replica)
  double exposed_allreduce_s = 0;  // data-parallel allreduce not hidden behind the backward pass
  double optimizer_s = 0;
  std::string bottleneck;  // what limits the step, in words
};

struct Plan {
  int version = kPlanFormatVersion;
  StrategyKind strategy = StrategyKind::kAuto;  // the strategy that made the plan
  std::string fleet;
  std::string model;
  int tp = 1;  // with per-stage sizes (PlanStage::tp) the largest of them
  int pp = 1;
  int dp = 1;
  // Model chunks per stage of an interleaved pipeline (a pinned layout's virtual_stages; 1: plain
  // 1F1B), as CostModel::Evaluate costed the plan.
  int virtual_stages = 1;
  int64_t global_batch = 0;
  int64_t seq_len = 0;
  int zero_stage = 0;
  Precision precision = Precision::kBf16;
  Recompute recompute = Recompute::kNone;
  std::vector<std::string> layer_names;  // the layer list the stage ranges index
  std::vector<PlanStage> stages;
  std::vector<PlanReplica> replicas;
  std::vector<int64_t> unused_devices;  // devices the plan leaves idle (with the reason in notes)
  std::vector<std::string> notes;
  // Filled by CostModel::Evaluate.
  Prediction predicted;
  double bound_step_time_s = 0;  // model FLOPs per step ÷ the fleet's summed throughput
  double efficiency = 0;         // bound_step_time_s ÷ predicted.step_time_s
};

// Stage s's tensor-parallel size: PlanStage::tp when set, else the plan's tp.
inline int StageTp(const Plan& plan, int s) {
  const int tp = plan.stages[static_cast<size_t>(s)].tp;
  return tp > 0 ? tp : plan.tp;
}
// True when some stage's tensor-parallel size differs from another's.
bool HasUnequalStageTp(const Plan& plan);
// "4", or with per-stage sizes "[4, 4, 2, 2]" (stage order), for reports.
std::string TpText(const Plan& plan);
// The devices the plan uses: Σ over stages of StageTp × dp.
int64_t UsedDeviceCount(const Plan& plan);

// Checks the plan's structure against a fleet of `num_devices` devices and a layer list of
// `num_layers`: every layer in exactly one stage, no empty stage, every stage with one cell per
// replica of StageTp devices, no device used twice or out of range, every replica with ≥ 1 sample
// and the samples summing to global_batch. kInvalidArgument naming the first violation.
absl::Status ValidatePlan(const Plan& plan, int64_t num_devices, int64_t num_layers);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_PLAN_H_
