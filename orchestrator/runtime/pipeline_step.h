// One training step of one rank under a plan: the 1F1B schedule of its replica's micro-batches
// through its stage, activations and gradients exchanged with the pipeline neighbours, then the
// data-parallel gradient allreduce and the optimizer step.
//
// With tensor parallelism every rank of a cell runs the same schedule on the same micro-batches:
// its sharded layers sum partial results over the cell (inside Forward and Backward), its pipeline
// neighbours are the ranks of the same tp_rank in the adjacent stages, and its gradient allreduce
// runs over the ranks of the same stage and tp_rank in the other replicas (its shard).
//
// 1F1B (Narayanan et al. 2021): stage s of p runs min(p−s−1, m) warm-up forwards, then alternates
// one forward and one backward, then drains the remaining backwards; at most p−s micro-batches are
// in flight. Sends are non-blocking and waited at the end of the step, so a rank never blocks on a
// send while its neighbour blocks on one too; while sends are pending, the stage progresses them
// between its layers (Communicator::Progress), since MPI moves a large message only while its
// sender is inside an MPI call.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_PIPELINE_STEP_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_PIPELINE_STEP_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "collectives/communicator.h"
#include "orchestrator/model/adamw.h"
#include "orchestrator/model/corpus.h"
#include "orchestrator/model/probe.h"
#include "orchestrator/model/stage.h"
#include "orchestrator/runtime/comm_util.h"
#include "orchestrator/runtime/placement.h"

namespace tangram::orchestrator {

struct StepContext {
  train::Stage* stage = nullptr;
  const RankRole* role = nullptr;
  collectives::Communicator* pipeline = nullptr;       // this replica and tp_rank, by stage
  collectives::Communicator* data_parallel = nullptr;  // this stage and tp_rank, by replica
  // The group the stage's layers were built over (its seconds count as communication); may be
  // nullptr at tp = 1.
  const CommTensorParallelGroup* tensor_parallel = nullptr;
  const train::MarkovCorpus* corpus = nullptr;
  int64_t step = 0;
  int64_t global_batch = 0;
  int64_t hidden = 0;  // width of the activations between stages
  train::AdamWOptions adamw;
  train::ComputeEmulation* emulation = nullptr;  // EMULATION of a slower device; may be inactive
};

struct StepStats {
  double compute_s = 0;   // forward, backward and optimizer, including emulated stretching
  double emulated_s = 0;  // of which sleep added by emulation
  double comm_s = 0;      // blocked in receives, send completion, tensor-parallel and gradient
                          // allreduces
  double loss_sum = 0;    // last stage, tp_rank 0 only: Σ micro-batch mean loss × its samples
  int64_t samples = 0;    // sequences this rank processed
  double flops = 0;       // model FLOPs of this rank's layers (its shards) for those sequences
                          // (3 × forward)
};

// Runs one step (see the file comment). On an error the stage may hold partial gradients; the
// caller abandons the run.
absl::StatusOr<StepStats> RunPipelineStep(const StepContext& ctx);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_PIPELINE_STEP_H_
