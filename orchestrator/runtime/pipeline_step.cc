#include "orchestrator/runtime/pipeline_step.h"

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"

namespace tangram::orchestrator {
namespace {

using collectives::DataType;

constexpr int kForwardTag = 1;
constexpr int kBackwardTag = 2;

double Seconds(absl::Time since) { return absl::ToDoubleSeconds(absl::Now() - since); }

class StepRunner {
 public:
  explicit StepRunner(const StepContext& ctx) : ctx_(ctx), role_(*ctx.role) {}

  absl::StatusOr<StepStats> Run() {
    // A send posted before a compute phase moves only while this rank is inside the transport
    // (Communicator::Progress): progress the pending ones between the layers of every phase, so
    // that a neighbour waiting for one is not held until this rank's next receive.
    struct HookGuard {
      train::Stage* stage;
      ~HookGuard() { stage->set_between_layers(nullptr); }
    } guard{ctx_.stage};
    if (ctx_.pipeline != nullptr && role_.pp > 1) {
      ctx_.stage->set_between_layers([this] {
        if (!sends_.empty()) ctx_.pipeline->Progress();
      });
    }
    const int64_t m = static_cast<int64_t>(role_.micro_batches.size());
    const int64_t warmup = std::min<int64_t>(role_.pp - role_.stage - 1, m);
    int64_t next_forward = 0, next_backward = 0;
    for (int64_t i = 0; i < warmup; ++i) TANGRAM_RETURN_IF_ERROR(Forward(next_forward++));
    while (next_forward < m) {
      TANGRAM_RETURN_IF_ERROR(Forward(next_forward++));
      TANGRAM_RETURN_IF_ERROR(Backward(next_backward++));
    }
    while (next_backward < m) TANGRAM_RETURN_IF_ERROR(Backward(next_backward++));
    absl::Time start = absl::Now();
    for (auto& send : sends_) TANGRAM_RETURN_IF_ERROR(send.request->Wait());
    sends_.clear();
    stats_.comm_s += Seconds(start);
    TANGRAM_RETURN_IF_ERROR(AllReduceGradients());
    TANGRAM_RETURN_IF_ERROR(Compute([&] { return ctx_.stage->Step(ctx_.adamw); }));
    ctx_.stage->ZeroGradients();
    return stats_;
  }

 private:
  struct PendingSend {
    std::unique_ptr<train::Tensor> tensor;  // kept alive until the send completes
    std::unique_ptr<collectives::Request> request;
  };

  bool first_stage() const { return role_.stage == 0; }
  bool last_stage() const { return role_.stage == role_.pp - 1; }

  int64_t FirstSample(int64_t index) const {
    int64_t first = ctx_.step * ctx_.global_batch + role_.sample_offset;
    for (int64_t i = 0; i < index; ++i) first += role_.micro_batches[i];
    return first;
  }

  // Runs a compute phase, stretched by the emulation when one is active. Only the phase's own
  // compute is stretched, not the time it spent in its cell's allreduces: those include waiting for
  // the cell's other ranks, and stretching waits for ranks that stretch theirs too would compound
  // phase after phase.
  absl::Status Compute(const std::function<absl::Status()>& phase) {
    absl::Time start = absl::Now();
    absl::Duration added_before = ctx_.emulation ? ctx_.emulation->added() : absl::ZeroDuration();
    const double tp_before = ctx_.tensor_parallel ? ctx_.tensor_parallel->seconds() : 0;
    absl::Status status = phase();
    const double tp_comm = ctx_.tensor_parallel ? ctx_.tensor_parallel->seconds() - tp_before : 0;
    if (ctx_.emulation) {
      ctx_.emulation->Stretch(absl::Seconds(std::max(0.0, Seconds(start) - tp_comm)));
    }
    stats_.compute_s += Seconds(start) - tp_comm;
    stats_.comm_s += tp_comm;
    if (ctx_.emulation) {
      stats_.emulated_s += absl::ToDoubleSeconds(ctx_.emulation->added() - added_before);
    }
    return status;
  }

  absl::StatusOr<train::Tensor> Receive(int64_t batch, int peer, int tag) {
    train::Tensor t =
        train::Tensor::Zeros("", {batch, ctx_.corpus->options().seq_len, ctx_.hidden});
    absl::Time start = absl::Now();
    TANGRAM_RETURN_IF_ERROR(
        ctx_.pipeline->Recv(t.data.data(), t.data.size(), DataType::kF32, peer, tag));
    stats_.comm_s += Seconds(start);
    return t;
  }

  absl::Status Send(train::Tensor tensor, int peer, int tag) {
    PendingSend send;
    send.tensor = std::make_unique<train::Tensor>(std::move(tensor));
    TANGRAM_ASSIGN_OR_RETURN(
        send.request, ctx_.pipeline->ISend(send.tensor->data.data(), send.tensor->data.size(),
                                           DataType::kF32, peer, tag));
    sends_.push_back(std::move(send));
    return absl::OkStatus();
  }

  absl::Status Forward(int64_t index) {
    const int64_t batch = role_.micro_batches[index];
    train::MicroBatch mb = ctx_.corpus->MakeMicroBatch(index, FirstSample(index), batch);
    train::Tensor input;
    if (!first_stage()) {
      TANGRAM_ASSIGN_OR_RETURN(input, Receive(batch, role_.stage - 1, kForwardTag));
    }
    train::Tensor output;
    TANGRAM_RETURN_IF_ERROR(Compute([&]() -> absl::Status {
      TANGRAM_ASSIGN_OR_RETURN(output, ctx_.stage->Forward(mb, input));
      return absl::OkStatus();
    }));
    stats_.samples += batch;
    for (int64_t l = 0; l < ctx_.stage->size(); ++l) {
      stats_.flops +=
          3.0 * ctx_.stage->layer(l).ForwardFlopsPerToken(mb.seq_len) * batch * mb.seq_len;
    }
    if (last_stage()) {
      if (output.data.size() != 1) {
        return absl::InternalError("the last stage did not end with the loss layer");
      }
      // Every rank of the cell computes the same loss; one of them reports it.
      if (role_.tp_rank == 0) stats_.loss_sum += static_cast<double>(output.data[0]) * batch;
      return absl::OkStatus();
    }
    return Send(std::move(output), role_.stage + 1, kForwardTag);
  }

  absl::Status Backward(int64_t index) {
    const int64_t batch = role_.micro_batches[index];
    train::Tensor grad;
    if (last_stage()) {
      grad = train::LossGradient(batch, ctx_.global_batch);
    } else {
      TANGRAM_ASSIGN_OR_RETURN(grad, Receive(batch, role_.stage + 1, kBackwardTag));
    }
    train::Tensor grad_input;
    TANGRAM_RETURN_IF_ERROR(Compute([&]() -> absl::Status {
      TANGRAM_ASSIGN_OR_RETURN(grad_input, ctx_.stage->Backward(index, grad));
      return absl::OkStatus();
    }));
    if (first_stage()) return absl::OkStatus();
    return Send(std::move(grad_input), role_.stage - 1, kBackwardTag);
  }

  // Sum over replicas: each micro-batch's loss gradient was scaled by samples / global batch, so
  // the sum is the full-batch gradient whatever the shares.
  absl::Status AllReduceGradients() {
    if (role_.dp <= 1 || ctx_.data_parallel == nullptr || ctx_.data_parallel->size() <= 1) {
      return absl::OkStatus();
    }
    absl::Time start = absl::Now();
    ctx_.stage->CopyGradients(&flat_);
    TANGRAM_RETURN_IF_ERROR(ctx_.data_parallel->AllReduce(
        flat_.data(), flat_.data(), flat_.size(), DataType::kF32, collectives::ReduceOp::kSum));
    TANGRAM_RETURN_IF_ERROR(ctx_.stage->SetGradients(flat_));
    stats_.comm_s += Seconds(start);
    return absl::OkStatus();
  }

  const StepContext& ctx_;
  const RankRole& role_;
  StepStats stats_;
  std::vector<PendingSend> sends_;
  std::vector<float> flat_;
};

}  // namespace

absl::StatusOr<StepStats> RunPipelineStep(const StepContext& ctx) {
  if (ctx.stage == nullptr || ctx.role == nullptr || ctx.corpus == nullptr || !ctx.role->active) {
    return absl::InvalidArgumentError("RunPipelineStep: incomplete context or idle rank");
  }
  if (ctx.role->pp > 1 && ctx.pipeline == nullptr) {
    return absl::InvalidArgumentError("RunPipelineStep: a pipeline needs its communicator");
  }
  StepRunner runner(ctx);
  return runner.Run();
}

}  // namespace tangram::orchestrator
