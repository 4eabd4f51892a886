// Where a rank sits in a plan: its pipeline stage, data-parallel replica and place in its cell's
// tensor-parallel group, its layer range, its replica's share of the global batch and the
// micro-batches that share is cut into.
//
// Ranks are fleet devices in FlattenFleet order: the runtime's measured fleet has one device per
// rank, so plan device index == world rank. Plain data; pure functions.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_PLACEMENT_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_PLACEMENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/plan.h"

namespace tangram::orchestrator {

struct RankRole {
  bool active = false;  // false: the plan leaves this rank idle (it still joins world collectives)
  int stage = -1;
  int replica = -1;
  int tp_rank = 0;  // position in its cell's devices: which shard of each block it holds
  int tp = 1;
  int pp = 1;
  int dp = 1;
  int64_t layer_begin = 0;  // [layer_begin, layer_end) into the plan's layer list
  int64_t layer_end = 0;
  int64_t samples = 0;                 // this replica's sequences per step
  int64_t sample_offset = 0;           // where the replica's share starts inside each global batch
  std::vector<int64_t> micro_batches;  // sizes, summing to `samples`
};

// The role of world rank `rank` in `plan`. kInvalidArgument when the plan places a rank twice.
absl::StatusOr<RankRole> RoleOf(const partitioner::Plan& plan, int rank);

// Split colours: ranks with the same colour form a communicator. Idle ranks get a colour of their
// own (Split requires colour >= 0 from every rank).
//   tensor parallel: the tp ranks of one cell (one stage of one replica), keyed by tp_rank;
//   pipeline:        one replica's ranks of one tp_rank, keyed by stage;
//   data parallel:   one stage's ranks of one tp_rank, keyed by replica.
int TensorParallelColor(const RankRole& role, int rank);
int PipelineColor(const RankRole& role, int rank);
int DataParallelColor(const RankRole& role, int rank);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_PLACEMENT_H_
