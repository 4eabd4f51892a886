// Measured layer times per kind and tensor-parallel degree (the `measured:` section's
// layer_times, partitioner/measurements.h), taken by `tangram probe --job` on the CPU runtime.
//
// Why: one rate per group costs every layer alike, but a model's head (one large GEMM and the
// loss) and its blocks (many small kernels) run at different rates, and a block at tp t is not
// 1/t of the block at tp 1 where launches or collectives dominate (or, on the CPU runtime, where
// the embedding and head are not sharded at all). So every rank runs a one-block copy of the job's
// model — embedding, one block, head, at the job's micro-batch — forward and backward, at tp 1 and
// at each candidate degree t (tp groups of t consecutive ranks on one host, as the trainer forms
// them, with the runtime's tensor-parallel allreduces inside), and times each layer's forward and
// backward. A group's time at a degree is the slowest of its ranks (EMULATION slowdowns applied
// as in calibration: × the factor); per layer and pass direction, the median of `passes` single
// passes. The median is the rank's time while it runs: on a host with more ranks than cores
// (CPU pools) a pass the scheduler interrupted does not count, so these figures are solo rather
// than shared rates there (docs/probe.md).
//
// tp 1 can come from the calibration that precedes it (LayerTimeProbeOptions::tp1_passes): the
// same layers at the same micro-batch, every rank computing at once, each kind's median pass.
//
// Cost: candidates (and tp 1 unless given) × (warmup + passes) passes of a one-block model, within
// a wall-clock budget: past it, a degree stops after `min_passes` timed passes (the ranks of a tp
// group agree on it after each pass, since their passes run the group's collectives).
// Thread-compatible; collective.
#ifndef TANGRAM_ORCHESTRATOR_PROBE_LAYER_TIME_PROBE_H_
#define TANGRAM_ORCHESTRATOR_PROBE_LAYER_TIME_PROBE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/communicator.h"
#include "orchestrator/job_config.h"
#include "orchestrator/model/probe.h"
#include "orchestrator/probe/link_probe.h"
#include "partitioner/fleet.h"
#include "partitioner/measurements.h"

namespace tangram::orchestrator {

struct LayerTimeProbeOptions {
  int warmup = 2;      // untimed passes per degree
  int passes = 9;      // timed single passes per degree, at most; each layer's median pass counts
  int min_passes = 3;  // timed passes per degree however short the budget
  // Wall-clock budget of the degrees timed here, warm-up included, shared equally among them;
  // infinite = none.
  absl::Duration budget = absl::InfiniteDuration();
  // This rank's calibration of the full model (CalibrateThisRank's `layers`: embedding, blocks,
  // head, each with its timed passes kept). When given on every rank, tp 1 is each kind's median
  // pass there (all blocks pooled) instead of being timed again.
  std::vector<train::LayerThroughput> tp1_passes;
};

struct LayerTimeProbeResult {
  // Per group with a rank, per degree (1 and the candidates whose tp groups lie inside the
  // group and divide its devices per node): embedding, block and head.
  std::vector<partitioner::MeasuredLayerTime> times;
  std::vector<int> degrees;           // 1 and the candidates, ascending
  bool tp1_from_calibration = false;  // tp 1 taken from tp1_passes
  int tp1_samples = 0;                // then: the fewest passes a kind's median was taken over
  // Over the degrees timed here and every rank: the fewest and most timed passes of a degree, and
  // the ranks whose budget stopped a degree short of `passes` (0 and 0 when none was timed).
  int min_passes = 0;
  int max_passes = 0;
  int ranks_over_budget = 0;
};

// The degrees t > 1 probed on `world.size()` ranks placed at `places`: t divides the rank count
// and some group's devices_per_node, every run of t consecutive ranks shares a host, and the
// model's heads and ffn_hidden divide by t. Ascending; the same on every rank.
std::vector<int> CandidateTpDegrees(int ranks, const std::vector<RankPlace>& places,
                                    const partitioner::Fleet& fleet, const JobConfig& job);

// Collective over `world` (rank r = device r of `fleet`, FlattenFleet order). Every rank returns
// the same result. kInvalidArgument when the job's model is not one the CPU runtime runs.
absl::StatusOr<LayerTimeProbeResult> ProbeLayerTimes(collectives::Communicator& world,
                                                     const partitioner::Fleet& fleet,
                                                     const JobConfig& job,
                                                     const std::vector<RankPlace>& places,
                                                     const LayerTimeProbeOptions& options = {});

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_PROBE_LAYER_TIME_PROBE_H_
