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
#include "orchestrator/probe/probe_budget.h"
#include "orchestrator/runtime/comm_util.h"
#include "orchestrator/runtime/coordinator.h"
#include "orchestrator/version.h"

namespace tangram::orchestrator {
namespace {

// `emulate`: false measures the rank's own rate, without its EMULATION slowdown. `layers`, when
// given, receives the calibration's passes per layer (for the layer times at tp 1).
absl::StatusOr<NodeReport> MeasureCompute(int rank, const partitioner::Fleet& fleet,
                                          const JobConfig& job, bool emulate,
                                          const CalibrationOptions& calibration,
                                          std::vector<train::LayerThroughput>* layers = nullptr) {
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
  return CalibrateThisRank(rank, model, corpus, job.training.micro_batch, emulate ? slowdown : 1.0,
                           calibration, layers);
}

std::string UtcNow() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

}  // namespace

std::vector<std::string> DistinctHosts(const std::vector<NodeReport>& reports) {
  std::vector<std::string> hosts;
  for (const auto& r : reports) {
    if (std::find(hosts.begin(), hosts.end(), r.host) == hosts.end()) hosts.push_back(r.host);
  }
  return hosts;
}

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

// The compute parts that will run besides the calibration, which decides their shares of the
// budget: CPU pools (a machine with two ranks or more; not with given hosts) and layer times at a
// degree past tp 1 (tp 1 comes from the calibration).
struct ComputeParts {
  bool cpu_pools = false;
  bool layer_times = false;
};
absl::StatusOr<ComputeParts> FindComputeParts(collectives::Communicator& world,
                                              const partitioner::Fleet& fleet,
                                              const FleetProbeOptions& options) {
  ComputeParts parts;
  if (options.job == nullptr) return parts;
  const std::string host =
      options.hosts.empty() ? DescribeThisHost(world.rank()).host : options.hosts[world.rank()];
  const std::string machine = options.hosts.empty() ? DescribeThisMachine().machine : "";
  TANGRAM_ASSIGN_OR_RETURN(auto texts, AllGatherStrings(world, absl::StrCat(machine, "\n", host)));
  const auto slots = partitioner::FlattenFleet(fleet);
  std::vector<RankPlace> places;
  std::set<std::string> machines;
  for (size_t r = 0; r < texts.size(); ++r) {
    const size_t cut = texts[r].find('\n');
    const std::string m = texts[r].substr(0, cut);
    places.push_back({texts[r].substr(cut + 1), r < slots.size() ? slots[r].island : 0});
    if (!m.empty() && !machines.insert(m).second) parts.cpu_pools = true;
  }
  parts.layer_times =
      options.layer_times && !CandidateTpDegrees(world.size(), places, fleet, *options.job).empty();
  return parts;
}

// This rank's report: its host, and its compute rate when there is a job to measure it with.
absl::StatusOr<NodeReport> DescribeRank(collectives::Communicator& world,
                                        const partitioner::Fleet& fleet,
                                        const FleetProbeOptions& options, absl::Duration budget,
                                        std::vector<train::LayerThroughput>* layers) {
  NodeReport mine = DescribeThisHost(world.rank());
  if (options.job != nullptr) {
    CalibrationOptions calibration;
    calibration.budget = budget;
    absl::StatusOr<NodeReport> measured =
        MeasureCompute(world.rank(), fleet, *options.job, true, calibration, layers);
    if (!measured.ok()) {
      return Annotate(measured.status(), absl::StrCat("compute probe on rank ", world.rank()));
    }
    mine = *measured;
  }
  if (!options.hosts.empty()) mine.host = options.hosts[world.rank()];
  return mine;
}

// "all 10 on every rank" or "at least 3 on every rank".
std::string PassesDone(int fewest, int most) {
  return fewest >= most ? absl::StrCat("all ", most, " on every rank")
                        : absl::StrCat("at least ", fewest, " on every rank");
}

// `how:` of the calibration, from every rank's report.
std::string CalibrationHow(const JobConfig& job, const std::vector<NodeReport>& reports,
                           absl::Duration budget) {
  const CalibrationOptions defaults;
  int fewest = defaults.passes, reached = 0;
  for (const auto& r : reports) {
    fewest = std::min(fewest, r.calibration_passes);
    reached += r.calibration_budget_hit ? 1 : 0;
  }
  return absl::StrCat(
      "compute: forward + backward of every layer of ", job.model.name, " (micro-batch ",
      job.training.micro_batch, "), all ranks at once, median of ", defaults.probes,
      " probes, each of ", defaults.warmup, " untimed and up to ", defaults.passes,
      " timed passes per layer (", PassesDone(fewest, defaults.passes), "; ",
      DescribeBudget(budget, reached, static_cast<int>(reports.size())),
      "); optimizer: one AdamW step of the whole model per probe after them, median, "
      "per parameter");
}

// Per group: the slowest of its ranks; its host when it is one node and they agree.
void ApplyGroupFigures(const partitioner::Fleet& fleet, const FleetProbeOptions& options,
                       FleetProbeResult& result) {
  auto slots = partitioner::FlattenFleet(fleet);
  partitioner::Measurements& m = result.measured;
  m.group_tflops.assign(fleet.groups.size(), 0);
  m.group_optimizer_ns.assign(fleet.groups.size(), 0);
  std::vector<std::set<std::string>> group_hosts(fleet.groups.size());
  for (size_t r = 0; r < result.reports.size() && r < slots.size(); ++r) {
    const int g = slots[r].group;
    double t = result.reports[r].measured_tflops;
    if (t > 0) m.group_tflops[g] = m.group_tflops[g] > 0 ? std::min(m.group_tflops[g], t) : t;
    // The slowest rank's optimizer step, as its compute.
    m.group_optimizer_ns[g] =
        std::max(m.group_optimizer_ns[g], result.reports[r].optimizer_ns_per_parameter);
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
  const absl::Time start = absl::Now();
  TANGRAM_ASSIGN_OR_RETURN(std::optional<double> seconds,
                           ProbeGroupCollective(world, PlacesOf(result.reports, fleet), o));
  result.collective_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (auto& l : result.measured.links) {
    if (seconds && l.link_class == partitioner::LinkClass::kSameNode) {
      l.collective_us = *seconds * 1e6;
    }
  }
  return absl::OkStatus();
}

// Ranks sharing one machine's cores, and one rank's rate alone within `budget`
// (cpu_pool_probe.h); what ran onto `how`. Not with given hosts: those ranks stand for other
// machines (the simulated transport).
absl::Status ProbeFleetCpuPools(collectives::Communicator& world, const partitioner::Fleet& fleet,
                                const JobConfig& job, const NodeReport& mine, absl::Duration budget,
                                FleetProbeResult& result, std::string& how) {
  const double slowdown = std::max(1.0, mine.emulate_slowdown);
  const absl::Time pool_start = absl::Now();
  // The leader's passes and whether the budget cut them (-1: not a leader).
  double solo[2] = {-1, 0};
  CalibrationOptions alone_options;
  alone_options.budget = budget;
  TANGRAM_ASSIGN_OR_RETURN(
      result.measured.cpu_pools,
      ProbeCpuPools(world, mine.measured_tflops * slowdown, 1 / slowdown,
                    [&](const std::function<absl::Status()>& pulse) -> absl::StatusOr<double> {
                      alone_options.between_passes = pulse;
                      TANGRAM_ASSIGN_OR_RETURN(
                          NodeReport alone,
                          MeasureCompute(world.rank(), fleet, job, false, alone_options));
                      solo[0] = alone.calibration_passes;
                      solo[1] = alone.calibration_budget_hit ? 1 : 0;
                      return alone.measured_tflops;
                    }));
  std::vector<double> all(2 * static_cast<size_t>(world.size()));
  TANGRAM_RETURN_IF_ERROR(world.AllGather(solo, all.data(), 2, collectives::DataType::kF64));
  result.cpu_pool_seconds = absl::ToDoubleSeconds(absl::Now() - pool_start);
  if (!result.measured.cpu_pools.empty()) {
    const CalibrationOptions defaults;
    int fewest = defaults.passes, reached = 0;
    for (size_t r = 0; r < all.size() / 2; ++r) {
      if (all[2 * r] < 0) continue;
      fewest = std::min(fewest, static_cast<int>(all[2 * r]));
      reached += all[2 * r + 1] > 0 ? 1 : 0;
    }
    absl::StrAppend(
        &how, "; cpu pools: each machine's first rank alone, the same probes (",
        PassesDone(fewest, defaults.passes), "; ",
        DescribeBudget(budget, reached, static_cast<int>(result.measured.cpu_pools.size())), ")");
  }
  return absl::OkStatus();
}

// `how:` of the layer times: which degrees, from what, and what the budget did.
std::string LayerTimesHow(const LayerTimeProbeResult& layers, const LayerTimeProbeOptions& options,
                          absl::Duration budget, int ranks) {
  std::string how =
      "; layer times: embedding, one block and head, forward and backward, slowest rank per "
      "group";
  std::vector<int> timed = layers.degrees;
  if (layers.tp1_from_calibration) {
    absl::StrAppend(&how, "; tp 1: each kind's median over the compute probe's timed passes (",
                    layers.tp1_samples, " or more)");
    timed.erase(timed.begin());
  }
  if (!timed.empty()) {
    absl::StrAppend(&how, "; tp ", absl::StrJoin(timed, "/"), ": a one-block copy, median of ",
                    layers.min_passes == layers.max_passes
                        ? absl::StrCat(layers.min_passes)
                        : absl::StrCat(layers.min_passes, "-", layers.max_passes),
                    " timed passes after ", options.warmup, " untimed (",
                    DescribeBudget(budget, layers.ranks_over_budget, ranks), ")");
  }
  return how;
}

// The links' figures into `result` and how they were measured onto `how`.
// The collective training runs, as the `how:` line says it (nothing when it was not timed).
std::string GradientAllreduceHow(const LinkProbeResult& links, const std::string& repetitions) {
  if (!links.gradient_allreduce) return "";
  std::string how = absl::StrFormat(
      ", the gradient allreduce as training runs it (the communicator's in-place sum of %.0f "
      "bytes over every rank, %s: %.4g s; allreduce_gbs: the ring's rate "
      "for that time)",
      links.gradient_allreduce->bytes, repetitions, links.gradient_allreduce->seconds);
  if (links.pair_allreduce) {
    absl::StrAppend(
        &how,
        absl::StrFormat(", and over %d pairs of ranks across two hosts at once (%.0f bytes, %s: "
                        "%.4g s; pair_allreduce_gbs: their rate together)",
                        links.pair_allreduce_pairs, links.pair_allreduce->bytes, repetitions,
                        links.pair_allreduce->seconds));
  }
  return how;
}

absl::Status ProbeFleetLinks(collectives::Communicator& world, const partitioner::Fleet& fleet,
                             const FleetProbeOptions& options, const NodeReport& mine,
                             FleetProbeResult& result, std::string& how) {
  partitioner::Measurements& m = result.measured;
  const absl::Time link_start = absl::Now();
  // Islands come from the fleet as given; hosts from where the ranks run.
  // With a job, the collective training runs is timed at the job's gradient (fp32, as the CPU
  // runtime reduces it).
  LinkProbeOptions link_options = options.link_options;
  if (options.job != nullptr && link_options.gradient_bytes == 0) {
    link_options.gradient_bytes = static_cast<size_t>(options.job->model.TotalParameters()) * 4;
  }
  TANGRAM_ASSIGN_OR_RETURN(LinkProbeResult links,
                           ProbeLinks(world, PlacesOf(result.reports, result.fleet), link_options));
  result.link_seconds = absl::ToDoubleSeconds(absl::Now() - link_start);
  m.links = links.links;
  m.nic = links.nic;
  m.host_links = links.host_links;
  m.fanout = links.fanout;
  m.allreduce = links.allreduce;
  const int tp = options.job != nullptr ? options.job->training.layout.tp.value_or(1) : 1;
  if (tp > 1 && options.hosts.empty() && links.timed) {
    TANGRAM_RETURN_IF_ERROR(
        ProbeTensorParallelCollective(world, fleet, *options.job, tp, mine, result));
  }
  const std::string repetitions =
      world.VirtualSeconds().has_value()
          ? std::string("one run on the virtual clock")
          : absl::StrCat("slowest rank, median of ", link_options.collective_repetitions);
  absl::StrAppend(&how, links.timed ? absl::StrCat("; links: ", world.transport_name(),
                                                   " ping-pong per link class, weighted "
                                                   "least-squares alpha-beta fit, token bucket "
                                                   "from sends after idle gaps, bidirectional "
                                                   "exchange, concurrent sends from one node, "
                                                   "ring allreduce",
                                                   GradientAllreduceHow(links, repetitions))
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
  if (!options.hosts.empty() && static_cast<int>(options.hosts.size()) != world.size()) {
    return absl::InvalidArgumentError("probe: one host per rank expected");
  }
  // Rank r measures fleet device r; a file with more ranks than devices would not load.
  if (world.size() > fleet.num_devices()) {
    return absl::InvalidArgumentError(absl::StrCat("probe: ", world.size(), " ranks, but fleet ",
                                                   fleet.name, " has ", fleet.num_devices(),
                                                   " devices (one rank per device)"));
  }
  TANGRAM_ASSIGN_OR_RETURN(ComputeParts parts, FindComputeParts(world, fleet, options));
  const ProbeBudgetShares budget =
      SplitProbeBudget(options.budget, parts.cpu_pools, parts.layer_times);
  // This rank's calibration passes per layer: the layer times at tp 1 are taken from them.
  std::vector<train::LayerThroughput> calibrated;
  TANGRAM_ASSIGN_OR_RETURN(NodeReport mine,
                           DescribeRank(world, fleet, options, budget.compute, &calibrated));
  // The others wait out the slowest rank's calibration, which its budget bounds.
  TANGRAM_ASSIGN_OR_RETURN(auto texts,
                           AllGatherStringsAfter(world, mine.ToJson().dump(), budget.compute));
  for (const auto& text : texts) {
    TANGRAM_ASSIGN_OR_RETURN(NodeReport r, NodeReport::FromJson(text));
    result.reports.push_back(r);
  }
  result.compute_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  partitioner::Measurements& m = result.measured;
  m.when = UtcNow();
  m.tool_version = kTangramVersion;
  m.ranks = world.size();
  m.hosts = DistinctHosts(result.reports);
  result.fleet = fleet;
  std::string how = options.job != nullptr
                        ? CalibrationHow(*options.job, result.reports, budget.compute)
                        : std::string("compute: not measured (no --job)");
  if (options.job != nullptr && options.hosts.empty()) {
    TANGRAM_RETURN_IF_ERROR(
        ProbeFleetCpuPools(world, fleet, *options.job, mine, budget.cpu_pools, result, how));
    ShareCalibrationWithinPools(result.measured.cpu_pools, result.reports);
  }
  ApplyGroupFigures(fleet, options, result);
  if (options.job != nullptr && options.layer_times) {
    const auto places = PlacesOf(result.reports, fleet);
    const absl::Time layer_start = absl::Now();
    LayerTimeProbeOptions layer_options;
    layer_options.budget = budget.layer_times;
    layer_options.tp1_passes = std::move(calibrated);
    TANGRAM_ASSIGN_OR_RETURN(LayerTimeProbeResult layers,
                             ProbeLayerTimes(world, fleet, *options.job, places, layer_options));
    result.layer_time_seconds = absl::ToDoubleSeconds(absl::Now() - layer_start);
    m.layer_times = layers.times;
    absl::StrAppend(&how, LayerTimesHow(layers, layer_options, budget.layer_times, world.size()));
  }
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

std::string FleetToYaml(const partitioner::Fleet& fleet, const std::string& written_by) {
  std::string out = absl::StrCat(
      "# Written by ", written_by, ", and what its machines measured.\n",
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
