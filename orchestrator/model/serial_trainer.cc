#include "orchestrator/model/serial_trainer.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace tangram::train {

std::vector<int64_t> SplitBatch(int64_t samples, int64_t micro_batch) {
  std::vector<int64_t> sizes;
  for (int64_t done = 0; done < samples; done += micro_batch) {
    sizes.push_back(std::min(micro_batch, samples - done));
  }
  return sizes;
}

absl::StatusOr<double> RunMicroBatch(Stage& stage, const MicroBatch& mb, int64_t global_batch) {
  TANGRAM_ASSIGN_OR_RETURN(Tensor loss, stage.Forward(mb, Tensor{}));
  if (loss.size() != 1) {
    stage.Discard(mb.id);
    return absl::FailedPreconditionError("RunMicroBatch: the stage does not end with the loss");
  }
  TANGRAM_RETURN_IF_ERROR(stage.Backward(mb.id, LossGradient(mb.batch, global_batch)).status());
  return static_cast<double>(loss.data[0]);
}

absl::StatusOr<std::unique_ptr<SerialTrainer>> SerialTrainer::Create(
    const SerialTrainerOptions& options) {
  if (options.global_batch < 1 || options.micro_batch < 1) {
    return absl::InvalidArgumentError(absl::StrCat("global_batch ", options.global_batch,
                                                   " and micro_batch ", options.micro_batch,
                                                   " must be positive"));
  }
  if (options.corpus.seq_len > options.model.spec.seq_len) {
    return absl::InvalidArgumentError(absl::StrCat("corpus seq_len ", options.corpus.seq_len,
                                                   " exceeds the model's ",
                                                   options.model.spec.seq_len));
  }
  TANGRAM_ASSIGN_OR_RETURN(MarkovCorpus corpus, MarkovCorpus::Create(options.corpus));
  const int64_t count =
      static_cast<int64_t>(GptLayerNames(options.model.spec, options.model.granularity).size());
  TANGRAM_ASSIGN_OR_RETURN(auto layers, BuildGptLayers(options.model, 0, count));
  return std::unique_ptr<SerialTrainer>(
      new SerialTrainer(options, std::move(corpus), std::make_unique<Stage>(std::move(layers))));
}

absl::StatusOr<double> SerialTrainer::Step() {
  const int64_t g = options_.global_batch;
  double loss = 0;
  int64_t offset = 0, id = 0;
  for (int64_t n : SplitBatch(g, options_.micro_batch)) {
    const MicroBatch mb = corpus_.MakeMicroBatch(id++, step_ * g + offset, n);
    TANGRAM_ASSIGN_OR_RETURN(double mb_loss, RunMicroBatch(*stage_, mb, g));
    loss += mb_loss * static_cast<double>(n) / static_cast<double>(g);
    offset += n;
  }
  TANGRAM_RETURN_IF_ERROR(stage_->Step(options_.adamw));
  stage_->ZeroGradients();
  ++step_;
  return loss;
}

absl::Status SerialTrainer::Save(const std::string& dir) {
  std::vector<LayerFileInfo> files;
  for (int64_t i = 0; i < stage_->size(); ++i) {
    TANGRAM_ASSIGN_OR_RETURN(LayerFileInfo info,
                             WriteLayerCheckpoint(dir, step_, stage_->ExportLayer(i)));
    files.push_back(std::move(info));
  }
  return CommitCheckpoint(dir, step_, files);
}

absl::Status SerialTrainer::Restore(const Checkpoint& checkpoint) {
  for (int64_t i = 0; i < stage_->size(); ++i) {
    const LayerState* state = checkpoint.Find(stage_->layer(i).name());
    if (state == nullptr) {
      return absl::NotFoundError(absl::StrCat("checkpoint step ", checkpoint.step, " has no layer ",
                                              stage_->layer(i).name()));
    }
    TANGRAM_RETURN_IF_ERROR(stage_->ImportLayer(*state));
  }
  step_ = checkpoint.step;
  return absl::OkStatus();
}

}  // namespace tangram::train
