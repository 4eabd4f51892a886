// Shared by the model tests: a tiny GPT spec, random activations and parameter perturbation.
#ifndef TANGRAM_TESTS_MODEL_TEST_UTIL_H_
#define TANGRAM_TESTS_MODEL_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/model/layer.h"
#include "orchestrator/model/random.h"
#include "orchestrator/model/stage.h"

namespace tangram::train::testing {

// Small enough for finite differences over every parameter.
inline GptSpec TinySpec() {
  GptSpec s;
  s.vocab = 13;
  s.seq_len = 5;
  s.hidden = 8;
  s.heads = 2;
  s.ffn_hidden = 16;
  s.layers = 2;
  return s;
}

inline GptOptions TinyOptions(Granularity g = Granularity::kBlock, uint64_t seed = 7) {
  GptOptions o;
  o.spec = TinySpec();
  o.granularity = g;
  o.seed = seed;
  return o;
}

// A micro-batch of random tokens below `vocab`.
inline MicroBatch RandomMicroBatch(int64_t id, int64_t batch, int64_t seq_len, int64_t vocab,
                                   uint64_t seed) {
  Rng rng(seed);
  MicroBatch mb;
  mb.id = id;
  mb.batch = batch;
  mb.seq_len = seq_len;
  for (int64_t i = 0; i < batch * seq_len; ++i) {
    mb.inputs.push_back(static_cast<int32_t>(rng.Next() % vocab));
    mb.targets.push_back(static_cast<int32_t>(rng.Next() % vocab));
  }
  return mb;
}

inline Tensor RandomTensor(std::vector<int64_t> shape, double stddev, uint64_t seed) {
  Tensor t = Tensor::Zeros("", std::move(shape));
  Rng rng(seed);
  for (float& x : t.data) x = static_cast<float>(stddev * rng.Normal());
  return t;
}

// Adds N(0, stddev) to every parameter, so that gradient checks do not sit at the symmetric init
// (unit norm gains, zero biases).
inline void Perturb(Layer& layer, double stddev, uint64_t seed) {
  Rng rng(seed);
  for (Tensor* p : layer.parameters()) {
    for (float& x : p->data) x += static_cast<float>(stddev * rng.Normal());
  }
}

inline std::vector<std::unique_ptr<Layer>> Build(const GptOptions& o, int64_t begin, int64_t end) {
  auto layers = BuildGptLayers(o, begin, end);
  EXPECT_TRUE(layers.ok()) << layers.status();
  return layers.ok() ? std::move(*layers) : std::vector<std::unique_ptr<Layer>>{};
}

inline int64_t LayerCount(const GptOptions& o) {
  return static_cast<int64_t>(GptLayerNames(o.spec, o.granularity).size());
}

}  // namespace tangram::train::testing

#endif  // TANGRAM_TESTS_MODEL_TEST_UTIL_H_
