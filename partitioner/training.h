// How a model is trained, as far as planning cares: batch sizes, precision, ZeRO stage,
// activation recompute, and an optional pinned parallel layout. The job file carries these.
#ifndef TANGRAM_PARTITIONER_TRAINING_H_
#define TANGRAM_PARTITIONER_TRAINING_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tangram::partitioner {

enum class Precision { kBf16, kFp16, kFp32 };
enum class Recompute { kNone, kSelective, kFull };
// The dtype gradients travel in for the data-parallel reduction. kModel: the training precision
// (bf16 runs reduce bf16 gradients, as PyTorch DDP/FSDP with bf16 parameters do); kFp32: fp32
// gradient buffers reduced in fp32 (Megatron-LM's default for bf16,
// accumulate_allreduce_grads_in_fp32; DeepSpeed ZeRO with fp32 communication_data_type), twice the
// bytes of bf16.
enum class GradReduceDtype { kModel, kFp32, kBf16 };
// How pipeline stages exchange activations and gradients.
// kPosted: the receiver has its receive posted ahead (Megatron-LM's batch_isend_irecv, which
// also pairs a send with the opposite direction's receive in one batch); only the sender waits,
// for its own transfer. kRendezvous: DeepSpeed's pipeline engine (deepspeed/runtime/pipe/p2p.py
// @ e2fdd254, 2021: a blocking torch.distributed.send/recv, or before torch 1.8 a broadcast in
// the 2-rank group of the two stages) issued one call at a time in schedule.py TrainSchedule's
// order (a forward step: RecvActivation, then SendGrad of the previous backward; a backward
// step: SendActivation of the previous forward, then RecvGrad). A transfer starts only when both
// sides have reached their call, and both wait until it ends, so a stage is busy with its
// receives as well as its sends, one after another. kOverlapped: sends and receives issued
// non-blocking and waited for only when their data are needed, so a stage computes its next
// micro-batch while its last one's activations travel: Megatron-Core's
// --overlap-p2p-communication / NeMo's overlap_p2p_comm (interleaved schedule), Llama 3's
// "asynchronous point-to-point communication in PP" (Dubey et al. 2024, §3.3.2).
// One job key, `pipeline_p2p: posted|overlapped|rendezvous`, since the three exclude each other.
enum class PipelineP2p { kPosted, kOverlapped, kRendezvous };

inline const char* PipelineP2pName(PipelineP2p p) {
  return p == PipelineP2p::kPosted       ? "posted"
         : p == PipelineP2p::kOverlapped ? "overlapped"
                                         : "rendezvous";
}

inline const char* PrecisionName(Precision p) {
  return p == Precision::kBf16 ? "bf16" : p == Precision::kFp16 ? "fp16" : "fp32";
}
inline const char* RecomputeName(Recompute r) {
  return r == Recompute::kNone ? "none" : r == Recompute::kSelective ? "selective" : "full";
}

// How an interleaved stage's layers split over its model chunks (chunks.h).
enum class ChunkSplit { kDecoder, kAllLayers };

// A parallel layout fixed by the user (to re-simulate a run exactly as it ran); unset = search.
struct PinnedLayout {
  std::optional<int> tp, pp, dp, virtual_stages;
  // A tensor-parallel size per pipeline stage (the job's `layout: {tp: [4, 4, 2, 2]}`), pp of
  // them; empty when one tp serves every stage. Stage s then takes dp cells of stage_tp[s]
  // devices, in Megatron's rank order (PinnedStageTpPlans in strategy.h).
  std::vector<int> stage_tp;
  ChunkSplit chunk_split = ChunkSplit::kDecoder;
};

// The model chunks per stage a pipeline of `pp` stages runs under `layout`: its virtual_stages
// (at least 1), and 1 without a pipeline.
inline int VirtualStagesOf(const PinnedLayout& layout, int pp) {
  return pp > 1 ? std::max(1, layout.virtual_stages.value_or(1)) : 1;
}

struct TrainingSpec {
  int64_t global_batch = 1;  // sequences per optimizer step
  int64_t micro_batch = 1;   // sequences per micro-batch
  Precision precision = Precision::kBf16;
  // fp32 only: whether fp32 matmuls may run on TF32 tensor cores. Off by default, as in PyTorch
  // since 1.12 (torch.backends.cuda.matmul.allow_tf32 = False; "TensorFloat-32 (TF32) on Ampere
  // (and later) devices", PyTorch docs, CUDA semantics); on, they run at the kind's TF32 peak.
  bool allow_tf32 = false;
  int zero_stage = 1;  // 0..3
  Recompute recompute = Recompute::kNone;
  // FlashAttention keeps no s×s score matrix (no 5·a·s bytes per token stored, no memory-bound
  // softmax and dropout over the scores). Off: Megatron-LM's unfused attention (its published
  // runs up to 2022 and its activation formulas).
  bool flash_attention = true;
  // Sequence parallelism (Korthikanti et al. 2022) splits norms, dropout and residual adds over
  // the tensor-parallel ranks too; off (Megatron-LM before 2022), each rank holds them whole.
  bool sequence_parallel = true;
  // Whether the data-parallel gradient reduction runs behind the backward pass (PyTorch DDP,
  // Megatron-LM's overlap_grad_reduce) or after it (Megatron-LM before 2023, DeepSpeed ZeRO-1/2
  // without overlap_comm).
  bool overlap_grad_reduce = true;
  // Tensor-parallel communication overlapped with the GEMMs it feeds: Megatron-Core's
  // --tp-comm-overlap / NeMo's tp_comm_overlap, TransformerEngine's userbuffers (the allgather
  // before a column-parallel GEMM and the reduce-scatter after a row-parallel one are split into
  // tp chunks and pipelined with the GEMM's chunks; Megatron-Core docs, "Communication overlap";
  // TransformerEngine transformer_engine/pytorch/module/base.py, initialize_ub). Needs sequence
  // parallelism in those stacks; off: every tensor-parallel collective is on the critical path.
  bool tp_comm_overlap = false;
  // ZeRO-2 (zero_stage 2): the parameter allgather after the optimizer step runs behind the next
  // step's forward (Megatron-Core's --overlap-param-gather with the distributed optimizer); off:
  // it follows the optimizer step on the critical path (DeepSpeed ZeRO-2).
  bool overlap_param_gather = false;
  GradReduceDtype grad_reduce_dtype = GradReduceDtype::kModel;
  PipelineP2p pipeline_p2p = PipelineP2p::kPosted;
  PinnedLayout layout;
};

// Bytes per gradient element on the wire.
inline double GradReduceElementBytes(const TrainingSpec& t) {
  switch (t.grad_reduce_dtype) {
    case GradReduceDtype::kFp32:
      return 4;
    case GradReduceDtype::kBf16:
      return 2;
    case GradReduceDtype::kModel:
      break;
  }
  return t.precision == Precision::kFp32 ? 4 : 2;
}

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_TRAINING_H_
