#include "orchestrator/probe/fleet_probe.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "orchestrator/model/corpus.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/probe/collective_probe.h"
#include "orchestrator/probe/cpu_pool_probe.h"
#include "orchestrator/runtime/comm_util.h"
#include "orchestrator/runtime/coordinator.h"
#include "orchestrator/version.h"

namespace tangram::orchestrator {
namespace {

// `emulate`: false measures the rank's own rate, without its EMULATION slowdown.
absl::StatusOr<NodeReport> MeasureCompute(int rank, const partitioner::Fleet& fleet,
                                          const JobConfig& job, bool emulate = true) {
  absl::StatusOr<train::GptSpec> spec = train::GptSpecFromModel(job.model);
  if (!spec.ok()) {
    return Annotate(spec.status(), "the probe measures compute on the CPU reference GPT's layers");
  }
  train::GptOptions model;
  model.spec = *spec;
  model.granularity = train::Granularity::kBlock;
  model.seed = job.seed;
  train::CorpusOptions corpus_options;
  corpus_options.seed = job.seed;
  corpus_options.seq_len = job.model.seq_len;
  TANGRAM_ASSIGN_OR_RETURN(auto corpus, train::MarkovCorpus::Create(corpus_options));
  auto slots = partitioner::FlattenFleet(fleet);
  double slowdown = rank < static_cast<int>(slots.size())
                        ? fleet.groups[slots[rank].group].emulate_slowdown
                        : 1.0;
  return CalibrateThisRank(rank, model, corpus, job.training.micro_batch, emulate ? slowdown : 1.0);
}

std::string UtcNow() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

}  // namespace

std::vector<RankPlace> PlacesOf(const std::vector<NodeReport>& reports,
                                const partitioner::Fleet& fleet) {
  auto slots = partitioner::FlattenFleet(fleet);
  std::vector<RankPlace> places;
  for (size_t r = 0; r < reports.size(); ++r) {
    places.push_back({reports[r].host, r < slots.size() ? slots[r].island : 0});
  }
  return places;
}

namespace {

// This rank's report: its host, and its compute rate when there is a job to measure it with.
absl::StatusOr<NodeReport> DescribeRank(collectives::Communicator& world,
                                        const partitioner::Fleet& fleet,
                                        const FleetProbeOptions& options) {
  NodeReport mine = DescribeThisHost(world.rank());
  if (options.job != nullptr) {
    absl::StatusOr<NodeReport> measured = MeasureCompute(world.rank(), fleet, *options.job);
    if (!measured.ok()) {
      return Annotate(measured.status(), absl::StrCat("compute probe on rank ", world.rank()));
    }
    mine = *measured;
  }
  if (!options.hosts.empty()) {
    if (static_cast<int>(options.hosts.size()) != world.size()) {
      return absl::InvalidArgumentError("probe: one host per rank expected");
    }
    mine.host = options.hosts[world.rank()];
  }
  return mine;
}

// Per group: the slowest of its ranks; its host when it is one node and they agree.
void ApplyGroupFigures(const partitioner::Fleet& fleet, const FleetProbeOptions& options,
                       FleetProbeResult& result) {
  auto slots = partitioner::FlattenFleet(fleet);
  partitioner::Measurements& m = result.measured;
  m.group_tflops.assign(fleet.groups.size(), 0);
  std::vector<std::set<std::string>> group_hosts(fleet.groups.size());
  for (size_t r = 0; r < result.reports.size() && r < slots.size(); ++r) {
    const int g = slots[r].group;
    double t = result.reports[r].measured_tflops;
    if (t > 0) m.group_tflops[g] = m.group_tflops[g] > 0 ? std::min(m.group_tflops[g], t) : t;
    group_hosts[g].insert(result.reports[r].host);
  }
  for (size_t g = 0; g < fleet.groups.size(); ++g) {
    if (options.hosts.empty() && fleet.groups[g].count == 1 && group_hosts[g].size() == 1) {
      result.fleet.groups[g].host = *group_hosts[g].begin();
    }
  }
}

// One small tensor-parallel allreduce as training pays it (collective_probe.h): the compute
// between two collectives is a micro-batch's at the all-busy rate over tp × 4 per block.
absl::Status ProbeTensorParallelCollective(collectives::Communicator& world,
                                           const partitioner::Fleet& fleet, const JobConfig& job,
                                           int tp, const NodeReport& mine,
                                           FleetProbeResult& result) {
  CollectiveProbeOptions o;
  o.group_size = tp;
  o.compute_s = mine.seconds_per_sample * static_cast<double>(job.training.micro_batch) /
                std::max(1.0, mine.emulate_slowdown) / tp /
                (4.0 * static_cast<double>(job.model.layers));
  o.bytes =
      static_cast<size_t>(job.training.micro_batch * job.model.seq_len * job.model.hidden * 4);
  TANGRAM_ASSIGN_OR_RETURN(std::optional<double> seconds,
                           ProbeGroupCollective(world, PlacesOf(result.reports, fleet), o));
  for (auto& l : result.measured.links) {
    if (seconds && l.link_class == partitioner::LinkClass::kSameNode) {
      l.collective_us = *seconds * 1e6;
    }
  }
  return absl::OkStatus();
}

// The links' figures into `result` and how they were measured onto `how`.
absl::Status ProbeFleetLinks(collectives::Communicator& world, const partitioner::Fleet& fleet,
                             const FleetProbeOptions& options, const NodeReport& mine,
                             FleetProbeResult& result, std::string& how) {
  partitioner::Measurements& m = result.measured;
  const absl::Time link_start = absl::Now();
  // Islands come from the fleet as given; hosts from where the ranks run.
  TANGRAM_ASSIGN_OR_RETURN(
      LinkProbeResult links,
      ProbeLinks(world, PlacesOf(result.reports, result.fleet), options.link_options));
  result.link_seconds = absl::ToDoubleSeconds(absl::Now() - link_start);
  m.links = links.links;
  m.nic = links.nic;
  m.allreduce = links.allreduce;
  const int tp = options.job != nullptr ? options.job->training.layout.tp.value_or(1) : 1;
  if (tp > 1 && options.hosts.empty() && links.timed) {
    TANGRAM_RETURN_IF_ERROR(
        ProbeTensorParallelCollective(world, fleet, *options.job, tp, mine, result));
  }
  absl::StrAppend(&how, links.timed ? absl::StrCat("; links: ", world.transport_name(),
                                                   " ping-pong per link class, weighted "
                                                   "least-squares alpha-beta fit, token bucket "
                                                   "from sends after idle gaps, bidirectional "
                                                   "exchange, concurrent sends from one node, "
                                                   "ring allreduce")
                                    : std::string("; links: not timed (the transport's clock did "
                                                  "not move)"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FleetProbeResult> ProbeFleet(collectives::Communicator& world,
                                            const partitioner::Fleet& fleet,
                                            const FleetProbeOptions& options) {
  const absl::Time start = absl::Now();
  FleetProbeResult result;
  TANGRAM_ASSIGN_OR_RETURN(NodeReport mine, DescribeRank(world, fleet, options));
  TANGRAM_ASSIGN_OR_RETURN(auto texts, AllGatherStrings(world, mine.ToJson().dump()));
  for (const auto& text : texts) {
    TANGRAM_ASSIGN_OR_RETURN(NodeReport r, NodeReport::FromJson(text));
    result.reports.push_back(r);
  }
  partitioner::Measurements& m = result.measured;
  m.when = UtcNow();
  m.tool_version = kTangramVersion;
  m.ranks = world.size();
  for (const auto& r : result.reports) {
    if (std::find(m.hosts.begin(), m.hosts.end(), r.host) == m.hosts.end())
      m.hosts.push_back(r.host);
  }
  result.fleet = fleet;
  if (options.job != nullptr && options.hosts.empty()) {
    // Ranks sharing one machine's cores, and one rank's rate alone (cpu_pool_probe.h). Not with
    // given hosts: those ranks stand for other machines (the simulated transport).
    const double slowdown = std::max(1.0, mine.emulate_slowdown);
    TANGRAM_ASSIGN_OR_RETURN(
        m.cpu_pools, ProbeCpuPools(world, mine.measured_tflops * slowdown, 1 / slowdown,
                                   [&]() -> absl::StatusOr<double> {
                                     TANGRAM_ASSIGN_OR_RETURN(
                                         NodeReport alone,
                                         MeasureCompute(world.rank(), fleet, *options.job, false));
                                     return alone.measured_tflops;
                                   }));
  }
  ApplyGroupFigures(fleet, options, result);
  std::string layer_how;
  if (options.job != nullptr && options.layer_times) {
    const auto places = PlacesOf(result.reports, fleet);
    TANGRAM_ASSIGN_OR_RETURN(m.layer_times, ProbeLayerTimes(world, fleet, *options.job, places));
    std::vector<int> degrees = {1};
    for (int t : CandidateTpDegrees(world.size(), places, fleet, *options.job)) {
      degrees.push_back(t);
    }
    layer_how = absl::StrCat(
        "; layer times: embedding, one block and head of a one-block copy, forward and backward, "
        "at tp ",
        absl::StrJoin(degrees, "/"), ", median of 9 passes, slowest rank per group");
  }
  std::string how =
      options.job != nullptr
          ? absl::StrCat("compute: forward + backward of every layer of ", options.job->model.name,
                         " (micro-batch ", options.job->training.micro_batch,
                         "), all ranks at once, median of 3 probes of 10 passes")
          : std::string("compute: not measured (no --job)");
  how += layer_how;
  if (options.links) {
    TANGRAM_RETURN_IF_ERROR(ProbeFleetLinks(world, fleet, options, mine, result, how));
  }
  m.how = how;
  result.fleet.measured = m;
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

std::vector<std::string> SimHosts(const partitioner::Fleet& fleet) {
  std::vector<std::string> hosts;
  for (const auto& slot : partitioner::FlattenFleet(fleet)) {
    const std::string& named = fleet.groups[slot.group].host;
    hosts.push_back(named.empty() ? absl::StrCat("node", slot.node) : named);
  }
  return hosts;
}

absl::StatusOr<collectives::LinkModel> SimLinks(const partitioner::Fleet& fleet, int ranks) {
  if (fleet.groups.empty()) return absl::InvalidArgumentError("the fleet has no nodes");
  std::vector<int> node_of, island_of;
  for (const auto& slot : partitioner::FlattenFleet(fleet)) {
    node_of.push_back(static_cast<int>(slot.node));
    island_of.push_back(slot.island);
    if (static_cast<int>(node_of.size()) == ranks) break;
  }
  const partitioner::NodeGroup& g = fleet.groups[0];
  const partitioner::NetworkSpec& n = fleet.network;
  collectives::LinkCost same_node{n.intra_node_latency_us * 1e-6,
                                  g.device.intra_node_link_gbs * 1e9};
  collectives::LinkCost same_island{n.inter_node_latency_us * 1e-6,
                                    g.nic_gbps / g.devices_per_node / 8 * 1e9};
  collectives::LinkCost across{n.inter_island_latency_us * 1e-6,
                               n.inter_island_gbps / g.devices_per_node / 8 * 1e9};
  return collectives::LinkModel::Hierarchical(node_of, island_of, same_node, same_island, across);
}

std::string FleetToYaml(const partitioner::Fleet& fleet) {
  std::string out = absl::StrCat(
      "# Written by `tangram probe`: the fleet as given, and what its machines measured.\n",
      "# The measured: section replaces catalog figures in plan, simulate and compare.\n",
      "name: ", fleet.name, "\n", "nodes:\n");
  for (const auto& g : fleet.groups) {
    absl::StrAppend(&out, "  - device: ", g.device.kind, "\n");
    absl::StrAppend(&out, "    devices_per_node: ", g.devices_per_node, "\n");
    absl::StrAppend(&out, "    count: ", g.count, "\n");
    if (g.nic_gbps != g.device.nic_gbps * g.devices_per_node) {
      absl::StrAppend(&out, absl::StrFormat("    nic_gbps: %g\n", g.nic_gbps));
    }
    if (g.measured_tflops) {
      absl::StrAppend(&out, absl::StrFormat("    measured_tflops: %.6g\n", *g.measured_tflops));
    }
    absl::StrAppend(&out, "    island: ", g.island, "\n");
    if (!g.host.empty()) absl::StrAppend(&out, "    host: ", g.host, "\n");
    if (g.emulate_slowdown != 1) {
      absl::StrAppend(&out, absl::StrFormat("    emulate_slowdown: %g    # EMULATION, not a device "
                                            "property\n",
                                            g.emulate_slowdown));
    }
  }
  const auto& n = fleet.network;
  absl::StrAppend(&out, "network:\n",
                  absl::StrFormat("  intra_node_latency_us: %g\n", n.intra_node_latency_us),
                  absl::StrFormat("  inter_node_latency_us: %g\n", n.inter_node_latency_us),
                  absl::StrFormat("  inter_island_gbps: %g\n", n.inter_island_gbps),
                  absl::StrFormat("  inter_island_latency_us: %g\n", n.inter_island_latency_us));
  if (fleet.measured) absl::StrAppend(&out, partitioner::MeasurementsToYaml(*fleet.measured));
  return out;
}

}  // namespace tangram::orchestrator
