// Fleets, models and plans built inline for the simulator tests.
#ifndef TANGRAM_TESTS_SIMULATOR_SIM_TEST_UTIL_H_
#define TANGRAM_TESTS_SIMULATOR_SIM_TEST_UTIL_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/model.h"
#include "partitioner/plan.h"

namespace tangram::simulator::testing {

// The built-in catalog plus "ideal": 100 TFLOP/s, links so fast that communication is ~free.
inline const partitioner::DeviceCatalog& Catalog() {
  static const partitioner::DeviceCatalog* catalog = [] {
    std::string text(partitioner::BuiltInCatalogText());
    text += R"(
  - kind: ideal
    vendor: generic
    peak_tflops_bf16: 100
    memory_gib: 1000000
    memory_bandwidth_gbs: 1.0e9
    intra_node_link_gbs: 1.0e9
    nic_gbps: 1.0e9
    collective_library: none
    confidence: uncertain
    source: "test device"
)";
    return new partitioner::DeviceCatalog(
        partitioner::DeviceCatalog::Parse(text, "test-catalog").value());
  }();
  return *catalog;
}

// `count` nodes of `per_node` devices of `kind`, optionally a second group; latencies zero for
// the ideal device.
inline partitioner::Fleet MakeFleet(const std::string& kind, int per_node, int count,
                                    const std::string& extra_groups = "") {
  std::string yaml =
      absl::StrCat("name: test\nnodes:\n  - device: ", kind, "\n    devices_per_node: ", per_node,
                   "\n    count: ", count, "\n", extra_groups);
  if (kind == "ideal") {
    yaml +=
        "network:\n  intra_node_latency_us: 1.0e-9\n  inter_node_latency_us: 1.0e-9\n"
        "  inter_island_latency_us: 1.0e-9\n  inter_island_gbps: 1.0e6\n";
  }
  auto fleet = partitioner::ParseFleet(yaml, "test-fleet.yaml", Catalog());
  EXPECT_TRUE(fleet.ok()) << fleet.status() << "\n" << yaml;
  return *fleet;
}

// A GPT-like model whose blocks dominate (tiny vocabulary: embedding and head cost ~nothing).
inline partitioner::ModelSpec BlockModel(int64_t layers, int64_t hidden = 1024, int64_t seq = 1024,
                                         int64_t vocab = 8) {
  partitioner::ModelSpec m;
  m.name = absl::StrCat("blocks-", layers);
  m.layers = layers;
  m.hidden = hidden;
  m.ffn_hidden = 4 * hidden;
  m.heads = hidden / 64;
  m.kv_heads = m.heads;
  m.vocab = vocab;
  m.seq_len = seq;
  return m;
}

inline partitioner::TrainingSpec Training(int64_t global_batch, int64_t micro_batch = 1) {
  partitioner::TrainingSpec t;
  t.global_batch = global_batch;
  t.micro_batch = micro_batch;
  t.zero_stage = 1;
  t.recompute = partitioner::Recompute::kNone;
  return t;
}

inline partitioner::CostModel MakeCost(const partitioner::Fleet& fleet,
                                       const partitioner::ModelSpec& model,
                                       const partitioner::TrainingSpec& training) {
  auto cost = partitioner::CostModel::Create(fleet, model, training);
  EXPECT_TRUE(cost.ok()) << cost.status();
  return *std::move(cost);
}

// Megatron-LM's layout: equal blocks per stage (embedding with the first, head with the last),
// ranks tensor-parallel fastest, then data, then pipeline; equal samples per replica.
inline partitioner::Plan EvenPlan(const partitioner::CostModel& cost, int tp, int pp, int dp) {
  partitioner::Plan plan;
  plan.strategy = partitioner::StrategyKind::kUniform;
  plan.tp = tp;
  plan.pp = pp;
  plan.dp = dp;
  plan.global_batch = cost.training().global_batch;
  plan.seq_len = cost.model().seq_len;
  const int64_t blocks = cost.num_layers() - 2;
  for (const auto& l : cost.layers()) plan.layer_names.push_back(l.name);
  for (int s = 0; s < pp; ++s) {
    partitioner::PlanStage st;
    st.index = s;
    st.layer_begin = s == 0 ? 0 : 1 + s * blocks / pp;
    st.layer_end = s + 1 == pp ? cost.num_layers() : 1 + (s + 1) * blocks / pp;
    for (int r = 0; r < dp; ++r) {
      partitioner::PlanCell cell;
      cell.replica = r;
      for (int t = 0; t < tp; ++t) cell.devices.push_back((int64_t{s} * dp + r) * tp + t);
      st.cells.push_back(cell);
    }
    plan.stages.push_back(st);
  }
  for (int r = 0; r < dp; ++r) {
    partitioner::PlanReplica rep;
    rep.index = r;
    rep.samples = plan.global_batch / dp + (r < plan.global_batch % dp ? 1 : 0);
    rep.micro_batch_size = cost.training().micro_batch;
    rep.micro_batches = (rep.samples + rep.micro_batch_size - 1) / rep.micro_batch_size;
    plan.replicas.push_back(rep);
  }
  return plan;
}

}  // namespace tangram::simulator::testing

#endif  // TANGRAM_TESTS_SIMULATOR_SIM_TEST_UTIL_H_
