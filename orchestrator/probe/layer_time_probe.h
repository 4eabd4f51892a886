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
// Cost: (1 + candidates) × (warmup + passes) passes of a one-block model, a small fraction of the
// full-model calibration that precedes it. Thread-compatible; collective.
#ifndef TANGRAM_ORCHESTRATOR_PROBE_LAYER_TIME_PROBE_H_
#define TANGRAM_ORCHESTRATOR_PROBE_LAYER_TIME_PROBE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "collectives/communicator.h"
#include "orchestrator/job_config.h"
#include "orchestrator/probe/link_probe.h"
#include "partitioner/fleet.h"
#include "partitioner/measurements.h"

namespace tangram::orchestrator {

struct LayerTimeProbeOptions {
  int warmup = 2;  // untimed passes per degree
  int passes = 9;  // timed single passes per degree; each layer's median pass counts
};

// The degrees t > 1 probed on `world.size()` ranks placed at `places`: t divides the rank count
// and some group's devices_per_node, every run of t consecutive ranks shares a host, and the
// model's heads and ffn_hidden divide by t. Ascending; the same on every rank.
std::vector<int> CandidateTpDegrees(int ranks, const std::vector<RankPlace>& places,
                                    const partitioner::Fleet& fleet, const JobConfig& job);

// Collective over `world` (rank r = device r of `fleet`, FlattenFleet order). Every rank returns
// the same list: per group with a rank, per degree (1 and the candidates whose tp groups lie
// inside the group), embedding, block and head. kInvalidArgument when the job's model is not one
// the CPU runtime runs.
absl::StatusOr<std::vector<partitioner::MeasuredLayerTime>> ProbeLayerTimes(
    collectives::Communicator& world, const partitioner::Fleet& fleet, const JobConfig& job,
    const std::vector<RankPlace>& places, const LayerTimeProbeOptions& options = {});

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_PROBE_LAYER_TIME_PROBE_H_
