// Simulator speed (issue 5 targets), each beside its baseline in the same run — the closed-form
// cost model evaluating the same plan — with the ratio reported:
//   * one step of 1,024 devices × 64 micro-batches per replica: < 100 ms on one core;
//   * one step of 16,384 devices: < 2 s, memory linear in devices × micro-batches;
//   * `compare` (every strategy planned and simulated) on configs/fleets/large-4096.yaml: < 5 s.
// A correctness check runs inside: the simulated step must be within 10% of the closed form.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>

#include "orchestrator/simulator/simulator.h"
#include "partitioner/strategy.h"

namespace tangram::simulator {
namespace {

partitioner::Fleet H100Fleet(int64_t nodes) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn().value();
  std::string yaml = "name: bench\nnodes:\n  - device: H100\n    devices_per_node: 8\n    count: " +
                     std::to_string(nodes) + "\n";
  return partitioner::ParseFleet(yaml, "bench.yaml", catalog).value();
}

partitioner::ModelSpec Llama70B() {
  partitioner::ModelSpec m;
  m.name = "llama-70b-like";
  m.layers = 80;
  m.hidden = 8192;
  m.ffn_hidden = 28672;
  m.heads = 64;
  m.kv_heads = 8;
  m.vocab = 32000;
  m.seq_len = 4096;
  m.mlp = partitioner::MlpKind::kSwiGlu;
  return m;
}

// devices = tp·pp·dp on H100 nodes, 64 micro-batches of 1 per replica, pinned layout.
void RunStep(benchmark::State& state, int tp, int pp, int dp) {
  partitioner::TrainingSpec t;
  t.micro_batch = 1;
  t.global_batch = int64_t{64} * dp;
  t.zero_stage = 1;
  t.recompute = partitioner::Recompute::kFull;  // tp 1 at 16 stages fits only with it
  t.layout.tp = tp;
  t.layout.pp = pp;
  t.layout.dp = dp;
  auto cost = partitioner::CostModel::Create(H100Fleet(int64_t{tp} * pp * dp / 8), Llama70B(), t);
  auto plan = partitioner::MakePlan(*cost, "uniform");
  if (!plan.ok()) {
    state.SkipWithError(std::string(plan.status().message()).c_str());
    return;
  }
  double cost_model_s = 0;
  {
    const auto start = std::chrono::steady_clock::now();
    constexpr int kReps = 20;
    for (int i = 0; i < kReps; ++i) {
      partitioner::Plan copy = *plan;
      benchmark::DoNotOptimize(cost->Evaluate(&copy));
    }
    cost_model_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / kReps;
  }
  double step = 0;
  int64_t events = 0;
  for (auto _ : state) {
    auto res = Simulate(*cost, *plan, SimOptions{});
    step = res->step_time_s;
    events = res->events;
  }
  state.counters["devices"] = tp * pp * dp;
  state.counters["events"] = static_cast<double>(events);
  state.counters["cost_model_ms"] = cost_model_s * 1e3;
  state.counters["sim_over_closed_form_step"] = step / plan->predicted.step_time_s;
  if (std::abs(step / plan->predicted.step_time_s - 1) > 0.10) {
    state.SkipWithError("simulated step differs from the closed form by more than 10%");
  }
}

void BM_Step1024x64(benchmark::State& state) { RunStep(state, 1, 16, 64); }
void BM_Step16384(benchmark::State& state) { RunStep(state, 8, 16, 128); }

void BM_Compare4096(benchmark::State& state) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn().value();
  // The shipped configs: TANGRAM_SOURCE_DIR when set, else the tree this binary was built from.
  const char* root = std::getenv("TANGRAM_SOURCE_DIR");
  const std::string dir = std::string(root != nullptr ? root : TANGRAM_BUILT_FROM) + "/configs/";
  auto fleet = partitioner::LoadFleet(dir + "fleets/large-4096.yaml", catalog);
  auto model = partitioner::LoadModel(dir + "models/llama3-70b.yaml");
  if (!fleet.ok() || !model.ok()) {
    state.SkipWithError("set TANGRAM_SOURCE_DIR to the repository root");
    return;
  }
  partitioner::TrainingSpec t;
  t.global_batch = 2048;
  t.micro_batch = 1;
  t.recompute = partitioner::Recompute::kSelective;
  auto cost = partitioner::CostModel::Create(*fleet, *model, t);
  double planning_s = 0;
  for (auto _ : state) {
    planning_s = 0;
    for (const std::string& name : partitioner::StrategyNames()) {
      const auto start = std::chrono::steady_clock::now();
      auto plan = partitioner::MakePlan(*cost, name);
      planning_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (plan.ok()) benchmark::DoNotOptimize(Simulate(*cost, *plan, SimOptions{}));
    }
  }
  state.counters["planning_only_ms"] = planning_s * 1e3;  // the baseline: plan without simulating
}

BENCHMARK(BM_Step1024x64)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Step16384)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_Compare4096)->Unit(benchmark::kMillisecond)->Iterations(2);

}  // namespace
}  // namespace tangram::simulator

BENCHMARK_MAIN();
