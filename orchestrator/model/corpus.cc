#include "orchestrator/model/corpus.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "orchestrator/model/random.h"

namespace tangram::train {
namespace {

constexpr int32_t kFirstSymbol = ' ';

int Draw(const std::vector<double>& cumulative, double u) {
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
  return static_cast<int>(
      std::min<ptrdiff_t>(it - cumulative.begin(), static_cast<ptrdiff_t>(cumulative.size()) - 1));
}

}  // namespace

absl::StatusOr<MarkovCorpus> MarkovCorpus::Create(const CorpusOptions& o) {
  if (o.alphabet < 2 || o.alphabet > 95 || o.branching < 1 || o.branching > o.alphabet ||
      o.seq_len < 1) {
    return absl::InvalidArgumentError(absl::StrCat("corpus: alphabet ", o.alphabet, ", branching ",
                                                   o.branching, ", seq_len ", o.seq_len,
                                                   " (need 2 <= alphabet <= 95, 1 <= branching "
                                                   "<= alphabet, seq_len >= 1)"));
  }
  MarkovCorpus corpus(o);
  const int a = o.alphabet;
  Rng rng = Rng::ForKey(o.seed, "corpus.transitions");
  std::vector<std::vector<double>> prob(a);
  for (int s = 0; s < a; ++s) {
    std::vector<int> next = {(s + 1) % a};
    while (static_cast<int>(next.size()) < o.branching) {
      const int c = static_cast<int>(rng.Next() % static_cast<uint64_t>(a));
      if (std::find(next.begin(), next.end(), c) == next.end()) next.push_back(c);
    }
    std::vector<double> p(next.size());
    double sum = 0;
    for (double& x : p) sum += (x = 0.1 + rng.Uniform());
    for (double& x : p) x /= sum;
    corpus.next_.push_back(next);
    prob[s] = p;
    std::vector<double> cumulative(p.size());
    double acc = 0;
    for (size_t i = 0; i < p.size(); ++i) cumulative[i] = (acc += p[i]);
    corpus.cumulative_.push_back(cumulative);
  }
  // Stationary distribution by power iteration on the lazy chain (same fixed point, always
  // converges, even for a periodic chain).
  std::vector<double> pi(a, 1.0 / a);
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<double> next_pi(a, 0.0);
    for (int s = 0; s < a; ++s) {
      next_pi[s] += 0.5 * pi[s];
      for (size_t i = 0; i < corpus.next_[s].size(); ++i) {
        next_pi[corpus.next_[s][i]] += 0.5 * pi[s] * prob[s][i];
      }
    }
    double diff = 0;
    for (int s = 0; s < a; ++s) diff += std::abs(next_pi[s] - pi[s]);
    pi.swap(next_pi);
    if (diff < 1e-15) break;
  }
  double acc = 0, h = 0;
  for (int s = 0; s < a; ++s) {
    corpus.stationary_cumulative_.push_back(acc += pi[s]);
    for (double p : prob[s]) h -= pi[s] * p * std::log(p);
  }
  corpus.entropy_rate_ = h;
  return corpus;
}

void MarkovCorpus::Sample(int64_t index, int32_t* inputs, int32_t* targets) const {
  Rng rng = Rng::ForKey(options_.seed, absl::StrCat("corpus.sample.", index));
  int s = Draw(stationary_cumulative_, rng.Uniform() * stationary_cumulative_.back());
  for (int64_t t = 0; t < options_.seq_len; ++t) {
    inputs[t] = kFirstSymbol + s;
    s = next_[s][Draw(cumulative_[s], rng.Uniform() * cumulative_[s].back())];
    targets[t] = kFirstSymbol + s;
  }
}

MicroBatch MarkovCorpus::MakeMicroBatch(int64_t id, int64_t first_sample, int64_t count) const {
  MicroBatch mb;
  mb.id = id;
  mb.batch = count;
  mb.seq_len = options_.seq_len;
  mb.inputs.resize(count * mb.seq_len);
  mb.targets.resize(count * mb.seq_len);
  for (int64_t i = 0; i < count; ++i) {
    Sample(first_sample + i, mb.inputs.data() + i * mb.seq_len, mb.targets.data() + i * mb.seq_len);
  }
  return mb;
}

}  // namespace tangram::train
