// `tangram probe --fleet F [--job J] --out measured-fleet.yaml`: every rank measures its compute
// on the job's layers and the network it runs on; rank 0 writes the fleet with a `measured:`
// section that plan, simulate and compare use in place of catalog figures. Under mpirun with
// --transport mpi (the default), or as threads with --transport sim --ranks N (the links are then
// the fleet's own figures, which the probe recovers: a check of the method, not a measurement).
#include <iostream>
#include <optional>

#include "absl/strings/str_format.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "collectives/sim/sim_world.h"
#include "orchestrator/cli/cli_util.h"
#include "orchestrator/probe/fleet_probe.h"

namespace tangram::orchestrator {
namespace {

class ProbeCommand : public Command {
 public:
  std::string Name() const override { return "probe"; }
  std::string Description() const override {
    return "Measure every rank's compute and the network's links; write a measured fleet file";
  }
  void Configure(CLI::App* sub) override {
    sub->add_option("--fleet", fleet_path_, "Fleet file (default: the job's)");
    sub->add_option("--job", job_path_, "Job whose layers the compute probe runs");
    sub->add_option("--out", out_path_, "Write the measured fleet here")
        ->required()
        ->check(OutputPath());
    sub->add_option("--transport", transport_, "mpi (default) | sim");
    sub->add_option("--ranks", ranks_, "sim: ranks to run (default: one per fleet device)");
    sub->add_flag("--no-links", no_links_, "Measure compute only");
    sub->add_flag("--no-layer-times", no_layer_times_,
                  "With --job: skip the per-kind, per-tp-degree layer times");
    sub->add_option("--probe-budget-s", budget_s_,
                    "Wall-clock seconds for the compute parts together (calibration, CPU pools, "
                    "layer times); each stops at its pass count or its share, whichever comes "
                    "first, after its minimum passes; 0 = no budget (default 20)");
    sub->add_option("--timeout", timeout_s_, "Seconds before a communication call fails");
  }

  absl::Status Run(const GlobalOptions& global) override {
    TANGRAM_ASSIGN_OR_RETURN(auto catalog, LoadCatalog(global));
    std::optional<JobConfig> job;
    if (!job_path_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(job, LoadJob(job_path_, catalog));
    }
    partitioner::Fleet fleet;
    if (!fleet_path_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(fleet, partitioner::LoadFleet(fleet_path_, catalog));
    } else if (job) {
      fleet = job->fleet;
    } else {
      return absl::InvalidArgumentError("probe: give --fleet, --job, or both");
    }
    FleetProbeOptions options;
    options.job = job ? &*job : nullptr;
    options.links = !no_links_;
    options.layer_times = !no_layer_times_;
    TANGRAM_ASSIGN_OR_RETURN(options.budget, ProbeBudgetFromFlag(budget_s_));
    std::optional<absl::StatusOr<FleetProbeResult>> root;
    if (transport_ == "sim") {
      collectives::SimOptions sim;
      sim.ranks = ranks_ > 0 ? ranks_ : static_cast<int>(fleet.num_devices());
      if (sim.ranks > fleet.num_devices()) {
        return absl::InvalidArgumentError(absl::StrCat("--ranks ", sim.ranks, ": the fleet has ",
                                                       fleet.num_devices(), " devices"));
      }
      TANGRAM_ASSIGN_OR_RETURN(sim.links, SimLinks(fleet, sim.ranks));
      sim.timeout = absl::Seconds(timeout_s_);
      auto hosts = SimHosts(fleet);
      hosts.resize(sim.ranks);
      options.hosts = hosts;
      TANGRAM_ASSIGN_OR_RETURN(auto world, collectives::SimWorld::Create(sim));
      auto statuses = world->Run([&](collectives::Communicator& comm) {
        absl::StatusOr<FleetProbeResult> r = ProbeFleet(comm, fleet, options);
        absl::Status s = r.status();
        if (comm.rank() == 0) root = std::move(r);
        return s;
      });
      for (const auto& s : statuses) TANGRAM_RETURN_IF_ERROR(s);
    } else if (transport_ == "mpi") {
      collectives::CommunicatorOptions comm_options;
      comm_options.timeout = absl::Seconds(timeout_s_);
      TANGRAM_ASSIGN_OR_RETURN(auto world, collectives::CreateCommunicator("mpi", comm_options));
      root = ProbeFleet(*world, fleet, options);
      if (world->rank() != 0) return root->status();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown transport \"", transport_, "\" (known: mpi, sim)"));
    }
    if (!root.has_value()) return absl::InternalError("rank 0 returned no result");
    TANGRAM_ASSIGN_OR_RETURN(FleetProbeResult result, std::move(*root));
    TANGRAM_RETURN_IF_ERROR(WriteTextFile(out_path_, FleetToYaml(result.fleet)));
    Report(result, global.json);
    return absl::OkStatus();
  }

 private:
  void ReportJson(const FleetProbeResult& r) const {
    const partitioner::Measurements& m = r.measured;
    nlohmann::json links = nlohmann::json::array();
    for (const auto& l : m.links) {
      links.push_back({{"class", partitioner::LinkClassName(l.link_class)},
                       {"latency_us", l.latency_us},
                       {"bandwidth_gbs", l.bandwidth_gbs},
                       {"bidirectional_gbs", l.bidirectional_gbs.value_or(0)},
                       {"pair", l.pair}});
      if (l.allreduce_gbs) links.back()["allreduce_gbs"] = *l.allreduce_gbs;
      if (l.pair_allreduce_gbs) links.back()["pair_allreduce_gbs"] = *l.pair_allreduce_gbs;
    }
    nlohmann::json allreduce = nlohmann::json::array();
    for (const auto& s : m.allreduce)
      allreduce.push_back({{"bytes", s.bytes}, {"seconds", s.seconds}});
    nlohmann::json host_links = nlohmann::json::array();
    for (const auto& l : m.host_links) {
      host_links.push_back({{"hosts", {l.a, l.b}}, {"bandwidth_gbs", l.bandwidth_gbs}});
    }
    nlohmann::json reports = nlohmann::json::array();
    for (const auto& rep : r.reports) reports.push_back(rep.ToJson());
    PrintJson({{"out", out_path_},
               {"reports", reports},
               {"ranks", m.ranks},
               {"hosts", m.hosts},
               {"group_tflops", m.group_tflops},
               {"group_optimizer_ns", m.group_optimizer_ns},
               {"links", links},
               {"nic_aggregate_gbs", m.nic ? m.nic->aggregate_gbs : 0.0},
               {"nic_senders", m.nic ? m.nic->senders : 0},
               {"host_links", host_links},
               {"fanout_links", m.fanout ? m.fanout->links : 1.0},
               {"allreduce", allreduce},
               {"how", m.how},
               {"seconds", r.seconds},
               {"compute_seconds", r.compute_seconds},
               {"cpu_pool_seconds", r.cpu_pool_seconds},
               {"layer_time_seconds", r.layer_time_seconds},
               {"link_seconds", r.link_seconds},
               {"collective_seconds", r.collective_seconds}});
  }

  void Report(const FleetProbeResult& r, bool json) const {
    if (json) return ReportJson(r);
    const partitioner::Measurements& m = r.measured;
    std::cout << absl::StrFormat(
        "probed %d ranks on %d hosts in %.2f s (compute %.2f s, cpu pools %.2f s, layer times "
        "%.2f s, network %.2f s, tp collective %.2f s)\n",
        m.ranks, m.hosts.size(), r.seconds, r.compute_seconds, r.cpu_pool_seconds,
        r.layer_time_seconds, r.link_seconds, r.collective_seconds);
    for (size_t g = 0; g < m.group_tflops.size(); ++g) {
      const auto& group = r.fleet.groups[g];
      const double optimizer_ns = g < m.group_optimizer_ns.size() ? m.group_optimizer_ns[g] : 0;
      std::cout << absl::StrFormat(
          "  nodes[%d] %s%s: %s%s%s\n", g, group.device.kind,
          group.host.empty() ? "" : " on " + group.host,
          m.group_tflops[g] > 0 ? absl::StrFormat("%.4g TFLOP/s measured", m.group_tflops[g])
                                : "not measured (catalog figure kept)",
          optimizer_ns > 0 ? absl::StrFormat(", optimizer %.3g ns per parameter", optimizer_ns)
                           : "",
          group.emulate_slowdown != 1
              ? absl::StrFormat(" (EMULATION: compute stretched %gx)", group.emulate_slowdown)
              : "");
    }
    for (const auto& l : m.links) {
      std::cout << absl::StrFormat(
          "  %-15s latency %9.2f us  bandwidth %9.4g GB/s%s%s%s  (ranks %s)\n",
          partitioner::LinkClassName(l.link_class), l.latency_us, l.bandwidth_gbs,
          l.bidirectional_gbs ? absl::StrFormat("  both ways %.4g GB/s each", *l.bidirectional_gbs)
                              : "",
          l.allreduce_gbs
              ? absl::StrFormat("  in training's allreduce %.4g GB/s each way", *l.allreduce_gbs)
              : "",
          l.pair_allreduce_gbs
              ? absl::StrFormat(", %.4g over pairs of ranks", *l.pair_allreduce_gbs)
              : "",
          l.pair);
    }
    if (m.nic) {
      std::cout << absl::StrFormat("  nic: %d ranks of %s sending at once: %.4g GB/s together\n",
                                   m.nic->senders, m.nic->node, m.nic->aggregate_gbs);
    }
    for (const auto& l : m.host_links) {
      std::cout << absl::StrFormat("  hosts %s-%s: %.4g GB/s one way\n", l.a, l.b, l.bandwidth_gbs);
    }
    if (m.fanout) {
      std::cout << absl::StrFormat(
          "  fanout: a rank of %s sending to %d other hosts at once: %.2f links' worth\n",
          m.fanout->node, m.fanout->peers, m.fanout->links);
    }
    for (const auto& s : m.allreduce) {
      std::cout << absl::StrFormat("  ring allreduce %.0f bytes: %.4g s\n", s.bytes, s.seconds);
    }
    std::cout << "  how: " << m.how << "\n";
    std::cout << "wrote " << out_path_ << "\n";
  }

  std::string fleet_path_, job_path_, out_path_, transport_ = "mpi";
  int ranks_ = 0;
  bool no_links_ = false;
  bool no_layer_times_ = false;
  double budget_s_ = kDefaultProbeBudgetSeconds;
  double timeout_s_ = 120;
};

}  // namespace

std::unique_ptr<Command> MakeProbeCommand() { return std::make_unique<ProbeCommand>(); }

}  // namespace tangram::orchestrator
