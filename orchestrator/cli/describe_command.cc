// `tangram describe --fleet F [--model M] | --job J`: what a fleet holds (devices, counts,
// aggregate catalog peak, memory) and what a model needs (parameters, FLOPs, training state).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "orchestrator/cli/cli_util.h"

namespace tangram::orchestrator {
namespace {

void PrintFleet(const partitioner::Fleet& fleet, const std::string& path) {
  std::cout << "Fleet " << fleet.name << " (" << path << ")\n";
  Table t({"device", "vendor", "nodes", "per node", "devices", "peak TFLOP/s", "measured",
           "memory GiB", "NIC Gb/s/node", "island"});
  bool emulated = false;
  for (const auto& g : fleet.groups) {
    std::string measured = g.measured_tflops ? Fixed(*g.measured_tflops, 0) : "-";
    std::string kind = g.device.kind;
    if (g.emulate_slowdown != 1.0) {
      kind += absl::StrFormat(" (emulated %gx slower)", g.emulate_slowdown);
      emulated = true;
    }
    t.AddRow({kind, g.device.vendor, std::to_string(g.count), std::to_string(g.devices_per_node),
              std::to_string(g.num_devices()), Fixed(g.device.peak_tflops_bf16, 0), measured,
              Fixed(g.device.memory_gib, 1), Fixed(g.nic_gbps, 0), g.island});
  }
  std::cout << t.Render();
  std::cout << absl::StrFormat(
      "  total: %d devices on %d nodes, %d kinds; aggregate peak %.1f TFLOP/s bf16 (catalog); "
      "memory %.1f TiB\n",
      fleet.num_devices(), fleet.num_nodes(), fleet.kinds().size(), fleet.total_peak_tflops(),
      fleet.total_memory_gib() / 1024);
  if (emulated) {
    std::cout << "  note: emulate_slowdown is EMULATION for one-machine demos: those ranks stretch "
                 "their compute, no real device is that slow\n";
  }
}

void PrintModel(const partitioner::ModelSpec& m, const std::string& path,
                const partitioner::Fleet* fleet) {
  double params = static_cast<double>(m.TotalParameters());
  double state_gib = params * kTrainingStateBytesPerParam / (1 << 30);
  std::cout << "Model " << m.name << " (" << path << ")\n";
  std::cout << absl::StrFormat(
      "  %d layers, hidden %d, ffn %d, heads %d (kv %d), vocab %d, seq %d, %s MLP\n", m.layers,
      m.hidden, m.ffn_hidden, m.heads, m.kv_heads, m.vocab, m.seq_len,
      m.mlp == partitioner::MlpKind::kSwiGlu ? "SwiGLU" : "GELU");
  std::cout << "  parameters: " << Human(params) << "\n";
  std::cout << "  training FLOPs per token: " << Human(m.TrainingFlopsPerToken())
            << " (forward + backward, no recompute)\n";
  std::cout << absl::StrFormat(
      "  weights + gradients + Adam states: %.1f GiB (%.0f bytes/param, mixed precision)\n",
      state_gib, kTrainingStateBytesPerParam);
  if (fleet != nullptr) {
    double share = state_gib / fleet->total_memory_gib();
    std::cout << absl::StrFormat(
        "  on this fleet: training state is %.1f%% of total memory; one step of 1M tokens at "
        "catalog peak takes at least %.3f s\n",
        100 * share, 1e6 * m.TrainingFlopsPerToken() / (fleet->total_peak_tflops() * 1e12));
  }
}

class DescribeCommand : public Command {
 public:
  std::string Name() const override { return "describe"; }
  std::string Description() const override {
    return "Describe a fleet (devices, aggregate peak, memory) and a model (parameters, FLOPs)";
  }
  void Configure(CLI::App* sub) override {
    sub->add_option("--fleet", fleet_path_, "Fleet file (configs/fleets/*.yaml)");
    sub->add_option("--model", model_path_, "Model file (configs/models/*.yaml)");
    sub->add_option("--job", job_path_, "Job file: describes its fleet and model");
  }

  absl::Status Run(const GlobalOptions& global) override {
    if (job_path_.empty() && fleet_path_.empty() && model_path_.empty()) {
      return absl::InvalidArgumentError("give --fleet, --model or --job");
    }
    TANGRAM_ASSIGN_OR_RETURN(auto catalog, LoadCatalog(global));
    std::optional<partitioner::Fleet> fleet;
    std::optional<partitioner::ModelSpec> model;
    std::string fleet_path = fleet_path_, model_path = model_path_;
    if (!job_path_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(JobConfig job, LoadJob(job_path_, catalog));
      fleet = job.fleet;
      model = job.model;
      fleet_path = job.fleet_path;
      model_path = job.model_path;
    }
    // --fleet and --model replace the job's, as in plan and simulate: the heading names the file
    // described (it named the job's fleet file above another fleet).
    if (!fleet_path_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(fleet, partitioner::LoadFleet(fleet_path_, catalog));
      fleet_path = fleet_path_;
    }
    if (!model_path_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(model, partitioner::LoadModel(model_path_));
      model_path = model_path_;
    }
    if (global.json) {
      nlohmann::json out;
      if (fleet) out["fleet"] = FleetSummaryJson(*fleet);
      if (model) out["model"] = ModelSummaryJson(*model);
      PrintJson(out);
      return absl::OkStatus();
    }
    if (fleet) PrintFleet(*fleet, fleet_path);
    if (model) PrintModel(*model, model_path, fleet ? &*fleet : nullptr);
    return absl::OkStatus();
  }

 private:
  std::string fleet_path_, model_path_, job_path_;
};

}  // namespace

std::unique_ptr<Command> MakeDescribeCommand() { return std::make_unique<DescribeCommand>(); }

}  // namespace tangram::orchestrator
