// The serial reference trainer: the whole model in one Stage, the whole global batch as
// micro-batches, in one process. Every distributed run must reach its parameters (within fp32
// tolerance); it is also the quickest way to train the reference model.
//
// Step s uses samples [s·G, (s+1)·G) of the corpus, split into micro-batches of micro_batch
// sequences (the last takes the remainder); micro-batch j's loss gradient is
// LossGradient(its samples, G), so the update is the full-batch update. Thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_SERIAL_TRAINER_H_
#define TANGRAM_ORCHESTRATOR_MODEL_SERIAL_TRAINER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "orchestrator/model/adamw.h"
#include "orchestrator/model/checkpoint.h"
#include "orchestrator/model/corpus.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/model/stage.h"

namespace tangram::train {

// Micro-batch sizes that cover `samples` sequences, `micro_batch` each, the last the remainder.
std::vector<int64_t> SplitBatch(int64_t samples, int64_t micro_batch);

// Forward and backward of `mb` through `stage`, which must hold the whole model, with the loss
// gradient LossGradient(mb.batch, global_batch). Returns the micro-batch's mean loss.
absl::StatusOr<double> RunMicroBatch(Stage& stage, const MicroBatch& mb, int64_t global_batch);

struct SerialTrainerOptions {
  GptOptions model;
  CorpusOptions corpus;  // corpus.seq_len is the training sequence length (<= model seq_len)
  int64_t global_batch = 8;
  int64_t micro_batch = 2;
  AdamWOptions adamw;
};

class SerialTrainer {
 public:
  // kInvalidArgument for a bad model, corpus or batch configuration.
  static absl::StatusOr<std::unique_ptr<SerialTrainer>> Create(const SerialTrainerOptions& options);

  // One optimizer step; returns the mean loss over the global batch (before the update).
  absl::StatusOr<double> Step();

  // Writes every layer and commits step() as a checkpoint in `dir`.
  absl::Status Save(const std::string& dir);
  // Loads every layer's state from `checkpoint` and continues from its step.
  absl::Status Restore(const Checkpoint& checkpoint);

  int64_t step() const { return step_; }
  Stage& stage() { return *stage_; }
  const MarkovCorpus& corpus() const { return corpus_; }

 private:
  SerialTrainer(const SerialTrainerOptions& options, MarkovCorpus corpus,
                std::unique_ptr<Stage> stage)
      : options_(options), corpus_(std::move(corpus)), stage_(std::move(stage)) {}

  SerialTrainerOptions options_;
  MarkovCorpus corpus_;
  std::unique_ptr<Stage> stage_;
  int64_t step_ = 0;
};

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_SERIAL_TRAINER_H_
