// Planning time per strategy and fleet size, with uniform as the baseline in the same run.
//
// Fleets are built inline in the shapes of the shipped ones: 64 devices of 2 kinds (H200 + H20),
// 1,024 of 3 kinds (+ Ascend 910B), 4,096 of 4 kinds (configs/fleets/large-4096.yaml: H200, H20,
// 910B, A100) and 16,384 (the same four kinds ×4). Models: Llama-2 70B for 64 and 1,024 devices,
// Llama-3 405B (126 decoder layers) for 4,096 and 16,384. Each benchmark reports, besides the
// time: the plan's predicted step time, its efficiency (bound ÷ step), and its throughput relative
// to uniform's plan on the same fleet (speedup_vs_uniform) — the correctness check inside the
// benchmark: a searching strategy must never be slower than the baseline.
// Also: re-planning at 1,024 devices after one node is removed or slowed down. After the runs,
// the scaling curve: devices against auto's planning time (process CPU time, single-threaded),
// with uniform's time beside it as the baseline and the ratio of the two.
#include <cstdio>
#include <map>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "partitioner/strategy.h"

namespace tangram::partitioner {
namespace {

const DeviceCatalog& Catalog() {
  static const DeviceCatalog* c = new DeviceCatalog(DeviceCatalog::BuiltIn().value());
  return *c;
}

Fleet MakeFleet(int64_t devices, const std::string& slow_h200 = "", bool drop_node = false) {
  // Node counts per kind, in large-4096's proportions.
  const std::vector<std::pair<std::string, double>> kinds =
      devices <= 64 ? std::vector<std::pair<std::string, double>>{{"H200", .5}, {"H20", .5}}
      : devices <= 1024
          ? std::vector<std::pair<std::string, double>>{{"H200", .25},
                                                        {"H20", .25},
                                                        {"Ascend910B", .5}}
          : std::vector<std::pair<std::string, double>>{
                {"H200", .25}, {"H20", .25}, {"Ascend910B", .375}, {"A100-80G", .125}};
  std::string yaml = "name: bench\nnodes:\n";
  for (const auto& [kind, share] : kinds) {
    int64_t nodes = static_cast<int64_t>(devices / 8 * share);
    if (kind == "H200" && drop_node) --nodes;
    if (kind == "H200" && !slow_h200.empty()) {
      --nodes;  // one node measured slower
      absl::StrAppend(&yaml, "  - device: H200\n    devices_per_node: 8\n    count: 1\n",
                      "    measured_tflops: ", slow_h200, "\n");
    }
    absl::StrAppend(&yaml, "  - device: ", kind, "\n    devices_per_node: 8\n    count: ", nodes,
                    "\n");
  }
  return ParseFleet(yaml, "bench", Catalog()).value();
}

ModelSpec Model(int64_t devices) {
  ModelSpec m;
  if (devices <= 1024) {  // Llama 2 70B
    m = {"llama2-70b", 80, 8192, 28672, 64, 8, 32000, 4096, MlpKind::kSwiGlu, false, ""};
  } else {  // Llama 3 405B
    m = {"llama3-405b", 126, 16384, 53248, 128, 8, 128256, 8192, MlpKind::kSwiGlu, false, ""};
  }
  return m;
}

CostModel MakeCost(int64_t devices, const std::string& slow = "", bool drop = false) {
  TrainingSpec t;
  t.global_batch = std::max<int64_t>(1024, devices);
  t.micro_batch = 1;
  t.zero_stage = 1;
  t.recompute = Recompute::kSelective;
  return CostModel::Create(MakeFleet(devices, slow, drop), Model(devices), t).value();
}

// The uniform plan's tokens/s per fleet size, computed once.
double UniformTokens(int64_t devices) {
  static std::map<int64_t, double> cache;
  auto it = cache.find(devices);
  if (it != cache.end()) return it->second;
  auto plan = MakePlan(MakeCost(devices), "uniform");
  return cache[devices] = plan.ok() ? plan->predicted.tokens_per_s : 0;
}

void BM_Plan(benchmark::State& state, const std::string& strategy) {
  const int64_t devices = state.range(0);
  const CostModel cost = MakeCost(devices);
  auto s = CreateStrategy(strategy).value();
  absl::StatusOr<std::vector<Plan>> plans;
  for (auto _ : state) {
    plans = s->Generate(cost, {});
    benchmark::DoNotOptimize(plans);
  }
  if (!plans.ok()) {
    state.SkipWithError(std::string(plans.status().message()).c_str());
    return;
  }
  const Plan& p = plans->front();
  state.counters["step_s"] = p.predicted.step_time_s;
  state.counters["efficiency"] = p.efficiency;
  const double uniform = UniformTokens(devices);
  state.counters["speedup_vs_uniform"] = uniform > 0 ? p.predicted.tokens_per_s / uniform : 0;
  state.SetLabel(absl::StrCat("tp", p.tp, " pp", p.pp, " dp", p.dp));
}

// Re-planning at 1,024 devices after one H200 node is removed, or measured 40% slower.
void BM_Replan(benchmark::State& state) {
  const bool drop = state.range(0) == 0;
  const CostModel cost = MakeCost(1024, drop ? "" : "267", drop);
  auto s = CreateStrategy("auto").value();
  for (auto _ : state) benchmark::DoNotOptimize(s->Generate(cost, {}));
  state.SetLabel(drop ? "one node removed" : "one node 40% slower");
}

#define TANGRAM_PLAN_BENCH(name, strategy)                \
  BENCHMARK_CAPTURE(BM_Plan, name, std::string(strategy)) \
      ->Arg(64)                                           \
      ->Arg(1024)                                         \
      ->Arg(4096)                                         \
      ->Arg(16384)                                        \
      ->Unit(benchmark::kMillisecond)                     \
      ->MeasureProcessCPUTime()                           \
      ->UseRealTime()

TANGRAM_PLAN_BENCH(uniform, "uniform");
TANGRAM_PLAN_BENCH(proportional, "proportional");
TANGRAM_PLAN_BENCH(hetero_pipeline, "hetero-pipeline");
TANGRAM_PLAN_BENCH(auto, "auto");
BENCHMARK(BM_Replan)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The console output, plus each BM_Plan run's CPU time per iteration, kept for the curve.
class CurveReporter : public benchmark::ConsoleReporter {
 public:
  // strategy → devices → milliseconds of CPU time per plan.
  std::map<std::string, std::map<int64_t, double>> ms;

  void ReportRuns(const std::vector<Run>& runs) override {
    static const std::regex name(R"(BM_Plan/([a-z_]+)/([0-9]+)/.*)");
    for (const Run& r : runs) {
      std::smatch m;
      const std::string n = r.benchmark_name();
      if (r.error_occurred || r.run_type != Run::RT_Iteration || !std::regex_match(n, m, name)) {
        continue;
      }
      ms[m[1]][std::stoll(m[2])] = r.GetAdjustedCPUTime() *
                                   benchmark::GetTimeUnitMultiplier(benchmark::kMillisecond) /
                                   benchmark::GetTimeUnitMultiplier(r.time_unit);
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

void PrintCurve(const CurveReporter& reporter) {
  auto get = [&](const std::string& strategy, int64_t devices) {
    auto s = reporter.ms.find(strategy);
    if (s == reporter.ms.end()) return -1.0;
    auto d = s->second.find(devices);
    return d == s->second.end() ? -1.0 : d->second;
  };
  std::printf(
      "\nScaling curve (CPU ms per plan, one core; target: auto < 10 / 100 / 1000 / 5000 ms)\n");
  std::printf("%8s %12s %12s %14s\n", "devices", "auto_ms", "uniform_ms", "auto/uniform");
  for (int64_t devices : {64, 1024, 4096, 16384}) {
    const double a = get("auto", devices), u = get("uniform", devices);
    if (a < 0 && u < 0) continue;
    std::printf("%8lld %12.3f %12.3f %14.1f\n", static_cast<long long>(devices), a, u,
                a > 0 && u > 0 ? a / u : 0.0);
  }
}

}  // namespace
}  // namespace tangram::partitioner

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  tangram::partitioner::CurveReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  tangram::partitioner::PrintCurve(reporter);
  benchmark::Shutdown();
  return 0;
}
