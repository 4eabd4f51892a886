#include "orchestrator/probe/cpu_pool_probe.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "collectives/wait_policy.h"
#include "orchestrator/probe/pulse.h"
#include "orchestrator/runtime/comm_util.h"

namespace tangram::orchestrator {
namespace {

// The leaders' pulses; the link probe's tags are 16001-16003.
constexpr int kPulseTag = 16004;

}  // namespace

// The same reading as the MPI wait policy's (collectives/wait_policy.h), with its CPU count.
ThisMachine DescribeThisMachine() {
  const collectives::RankMachine rank = collectives::DescribeRankMachine();
  ThisMachine m;
  m.machine = rank.machine;
  m.cpus = rank.cpus;
  m.cores = std::max(1, static_cast<int>(rank.cpus.size()));
  return m;
}

absl::StatusOr<std::vector<partitioner::MeasuredCpuPool>> ProbeCpuPools(
    collectives::Communicator& world, double busy_tflops, double demand, const SoloProbe& solo,
    const ThisMachine* machine_override, absl::Duration pulse_interval) {
  const ThisMachine me = machine_override != nullptr ? *machine_override : DescribeThisMachine();
  TANGRAM_ASSIGN_OR_RETURN(
      auto texts,
      AllGatherStrings(world, absl::StrCat(me.machine, " ", me.cores, " ", busy_tflops, " ", demand,
                                           " ", absl::StrJoin(me.cpus, ","))));
  // Machine -> ranks, in rank order; an unreadable boot id is a machine of its own.
  std::map<std::string, partitioner::MeasuredCpuPool> by_machine;
  std::vector<std::string> order;
  std::map<std::string, std::set<std::string>> cpus;  // union of the ranks' affinity
  for (int r = 0; r < static_cast<int>(texts.size()); ++r) {
    std::vector<std::string> f = absl::StrSplit(texts[r], ' ');
    if (f.size() != 5) return absl::InternalError("cpu pool probe: malformed rank record");
    const std::string key = f[0].empty() ? absl::StrCat("rank", r) : f[0];
    auto [it, fresh] = by_machine.try_emplace(key);
    partitioner::MeasuredCpuPool& p = it->second;
    if (fresh) {
      order.push_back(key);
      p.machine = f[0];
      p.cores = std::max(1, std::atoi(f[1].c_str()));
    }
    if (!f[4].empty()) {
      for (absl::string_view c : absl::StrSplit(f[4], ',')) cpus[key].insert(std::string(c));
    }
    p.ranks.push_back(r);
    p.busy_tflops += std::atof(f[2].c_str());
    p.demand.push_back(std::clamp(std::atof(f[3].c_str()), 1e-6, 1.0));
  }
  std::vector<partitioner::MeasuredCpuPool> pools;
  for (const auto& key : order) {
    partitioner::MeasuredCpuPool p = by_machine[key];
    if (!cpus[key].empty()) p.cores = static_cast<int>(cpus[key].size());
    if (p.ranks.size() < 2) continue;  // a rank alone shares nothing
    p.busy_tflops /= static_cast<double>(p.ranks.size());
    bool unit = true;
    for (double d : p.demand) unit = unit && d == 1.0;
    if (unit) p.demand.clear();
    pools.push_back(std::move(p));
  }
  // Each pool's leader computes alone and pulses every other rank; everyone else waits for each
  // leader in turn, pulse by pulse (pulses from a later leader queue meanwhile). One barrier
  // bounded by the per-call timeout failed under about --timeout 6 ("MPI_Barrier on rank 1 timed
  // out after 4s") while a leader used its 5 s share of the probe budget.
  double mine = 0;
  std::vector<int> others;
  for (int r = 0; r < world.size(); ++r) {
    if (r != world.rank()) others.push_back(r);
  }
  for (const auto& p : pools) {
    if (p.ranks.front() != world.rank()) continue;
    PulseSender pulses(world, others, kPulseTag, pulse_interval);
    TANGRAM_RETURN_IF_ERROR(pulses.Pulse());  // before the model is built
    TANGRAM_ASSIGN_OR_RETURN(mine, solo([&pulses] { return pulses.Pulse(); }));
    TANGRAM_RETURN_IF_ERROR(pulses.Done());
  }
  for (const auto& p : pools) {
    if (p.ranks.front() == world.rank()) continue;
    TANGRAM_RETURN_IF_ERROR(AwaitPulses(world, static_cast<int>(p.ranks.front()), kPulseTag));
  }
  std::vector<double> all(static_cast<size_t>(world.size()), 0.0);
  TANGRAM_RETURN_IF_ERROR(world.AllGather(&mine, all.data(), 1, collectives::DataType::kF64));
  for (auto& p : pools) p.solo_tflops = all[static_cast<size_t>(p.ranks.front())];
  return pools;
}

void ShareCalibrationWithinPools(const std::vector<partitioner::MeasuredCpuPool>& pools,
                                 std::vector<NodeReport>& reports) {
  for (const partitioner::MeasuredCpuPool& pool : pools) {
    // Peers: same slowdown (an EMULATION-slowed rank idles part of the time by design).
    std::map<double, std::vector<size_t>> peers;
    for (int64_t r : pool.ranks) {
      if (r >= 0 && static_cast<size_t>(r) < reports.size() &&
          reports[static_cast<size_t>(r)].measured_tflops > 0) {
        peers[reports[static_cast<size_t>(r)].emulate_slowdown].push_back(static_cast<size_t>(r));
      }
    }
    if (peers.empty()) continue;
    // The least slowed class computed among busy peers for the whole of its calibration; the
    // rate of its compute, reading × slowdown, is every rank's here.
    const auto& [least, least_ranks] = *peers.begin();
    double sum = 0;
    for (size_t r : least_ranks) sum += reports[r].measured_tflops;
    const double compute = sum / static_cast<double>(least_ranks.size()) * least;
    for (const auto& [slowdown, ranks] : peers) {
      for (size_t r : ranks) reports[r].measured_tflops = compute / slowdown;
    }
  }
}

}  // namespace tangram::orchestrator
