// The reference model's data: a corpus generated in the repository (no downloads) whose entropy
// is known, so that "the loss approaches its floor" can be checked.
//
// The source is a seeded order-1 Markov chain over `alphabet` printable bytes (' ' + i): each
// symbol has `branching` successors with random probabilities (symbol i+1 is always one, so the
// chain is irreducible). Sample i is seq_len + 1 symbols drawn from the keyed stream (seed, i),
// starting from the stationary distribution, so every position is stationary and the best
// achievable mean cross-entropy of next-token prediction is exactly the entropy rate
//   H = Σ_s π(s) · H(P(s, ·))   (nats per token).
// Sample i is a pure function of (options, i): data-parallel replicas with uneven shares take the
// disjoint slices [step·G + offset, step·G + offset + share) of each global batch G. Thread-safe
// after construction (const methods only).
#ifndef TANGRAM_ORCHESTRATOR_MODEL_CORPUS_H_
#define TANGRAM_ORCHESTRATOR_MODEL_CORPUS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "orchestrator/model/layer.h"

namespace tangram::train {

struct CorpusOptions {
  uint64_t seed = 1;
  int alphabet = 32;  // symbols used, at most 95 (printable ASCII); vocabulary stays 256
  int branching = 4;  // successors per symbol
  int64_t seq_len = 64;
};

class MarkovCorpus {
 public:
  // kInvalidArgument for an alphabet outside [2, 95], branching outside [1, alphabet] or
  // seq_len < 1.
  static absl::StatusOr<MarkovCorpus> Create(const CorpusOptions& options);

  // The entropy rate, nats per token: the floor of the mean cross-entropy loss.
  double entropy_rate() const { return entropy_rate_; }
  const CorpusOptions& options() const { return options_; }

  // Sample `index`: inputs and targets, seq_len bytes each (targets are inputs shifted by one).
  void Sample(int64_t index, int32_t* inputs, int32_t* targets) const;

  // A micro-batch of samples [first_sample, first_sample + count), with id `id`.
  MicroBatch MakeMicroBatch(int64_t id, int64_t first_sample, int64_t count) const;

 private:
  explicit MarkovCorpus(const CorpusOptions& options) : options_(options) {}

  CorpusOptions options_;
  std::vector<std::vector<int>> next_;           // successors of each symbol
  std::vector<std::vector<double>> cumulative_;  // their cumulative probabilities
  std::vector<double> stationary_cumulative_;
  double entropy_rate_ = 0;
};

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_CORPUS_H_
