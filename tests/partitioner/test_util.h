// Small fleets, models and jobs built inline for the partitioner tests.
#ifndef TANGRAM_TESTS_PARTITIONER_TEST_UTIL_H_
#define TANGRAM_TESTS_PARTITIONER_TEST_UTIL_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/model.h"

namespace tangram::partitioner::testing {

inline const DeviceCatalog& Catalog() {
  static const DeviceCatalog* catalog = new DeviceCatalog(DeviceCatalog::BuiltIn().value());
  return *catalog;
}

// "H200:8x1,H20:8x1" → a fleet of those node groups (kind:devices_per_node x count).
inline Fleet MakeFleet(const std::string& spec, const std::string& extra = "") {
  std::string yaml = "name: test\nnodes:\n";
  size_t start = 0;
  while (start < spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    std::string item = spec.substr(start, end - start);
    size_t colon = item.find(':'), x = item.find('x');
    absl::StrAppend(&yaml, "  - device: ", item.substr(0, colon),
                    "\n    devices_per_node: ", item.substr(colon + 1, x - colon - 1),
                    "\n    count: ", item.substr(x + 1), "\n");
    start = end + 1;
  }
  yaml += extra;
  auto fleet = ParseFleet(yaml, "test-fleet.yaml", Catalog());
  EXPECT_TRUE(fleet.ok()) << fleet.status() << "\n" << yaml;
  return *fleet;
}

inline ModelSpec MakeModel(int64_t layers, int64_t hidden, int64_t heads, int64_t seq,
                           int64_t vocab = 32000, bool swiglu = true, int64_t kv_heads = 0) {
  ModelSpec m;
  m.name = absl::StrCat("test-", layers, "x", hidden);
  m.layers = layers;
  m.hidden = hidden;
  m.ffn_hidden = swiglu ? hidden * 8 / 3 : 4 * hidden;
  m.heads = heads;
  m.kv_heads = kv_heads > 0 ? kv_heads : heads;
  m.vocab = vocab;
  m.seq_len = seq;
  m.mlp = swiglu ? MlpKind::kSwiGlu : MlpKind::kGelu;
  return m;
}

// Llama 2 7B (configs/models/llama2-7b.yaml).
inline ModelSpec Llama2_7B() {
  ModelSpec m = MakeModel(32, 4096, 32, 4096);
  m.name = "llama2-7b";
  m.ffn_hidden = 11008;
  return m;
}

// GPT-3 175B (Brown et al. 2020): 96 layers, h 12288, 96 heads, s 2048, GELU.
inline ModelSpec Gpt3_175B() {
  ModelSpec m = MakeModel(96, 12288, 96, 2048, 51200, /*swiglu=*/false);
  m.name = "gpt3-175b";
  return m;
}

inline TrainingSpec Job(int64_t global_batch, int64_t micro_batch = 1, int zero = 1,
                        Recompute recompute = Recompute::kSelective) {
  TrainingSpec t;
  t.global_batch = global_batch;
  t.micro_batch = micro_batch;
  t.zero_stage = zero;
  t.recompute = recompute;
  return t;
}

inline CostModel MakeCost(const Fleet& fleet, const ModelSpec& model, const TrainingSpec& job,
                          CostOptions options = {}) {
  auto cost = CostModel::Create(fleet, model, job, options);
  EXPECT_TRUE(cost.ok()) << cost.status();
  return *std::move(cost);
}

}  // namespace tangram::partitioner::testing

#endif  // TANGRAM_TESTS_PARTITIONER_TEST_UTIL_H_
