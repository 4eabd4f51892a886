#include "orchestrator/simulator/scenario.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace tangram::simulator {
namespace {

absl::Status Bad(const std::string& what, const std::string& text, const char* form) {
  return absl::InvalidArgumentError(absl::StrCat(what, " \"", text, "\": expected ", form));
}

}  // namespace

absl::StatusOr<Straggler> ParseStraggler(const std::string& text) {
  const char* form =
      "DEVICE:PERCENT[@STEP] with PERCENT in (-100, 1e6] and STEP >= 1 (steps count from 1), "
      "e.g. 3:50@2";
  std::vector<std::string> at = absl::StrSplit(text, '@');
  if (at.size() > 2) return Bad("--straggler", text, form);
  std::vector<std::string> parts = absl::StrSplit(at[0], ':');
  Straggler s;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &s.device) ||
      !absl::SimpleAtod(parts[1], &s.percent) || s.device < 0 || !(s.percent > -100) ||
      s.percent > 1e6) {
    return Bad("--straggler", text, form);
  }
  if (at.size() == 2) {
    if (!absl::SimpleAtoi(at[1], &s.from_step) || s.from_step < 1) {
      return Bad("--straggler", text, form);
    }
    s.from_step -= 1;  // users count steps from 1, as `train --emulate-change` does
  }
  return s;
}

absl::StatusOr<NodeFailure> ParseNodeFailure(const std::string& text) {
  const char* form = "NODE[@STEP] with STEP >= 1 (steps count from 1), e.g. 5@3";
  std::vector<std::string> at = absl::StrSplit(text, '@');
  NodeFailure f;
  if (at.size() > 2 || !absl::SimpleAtoi(at[0], &f.node) || f.node < 0) {
    return Bad("--fail-node", text, form);
  }
  if (at.size() == 2) {
    if (!absl::SimpleAtoi(at[1], &f.step) || f.step < 1) return Bad("--fail-node", text, form);
    f.step -= 1;  // users count steps from 1
  }
  return f;
}

absl::Status ValidateScenario(const Scenario& scenario, const partitioner::Fleet& fleet,
                              int64_t steps) {
  const auto after_the_run = [&](const char* flag, int64_t step) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": step ", step + 1, " is after the run's last step ", steps,
                     " (--steps ", steps, "): it would never happen"));
  };
  for (const Straggler& s : scenario.stragglers) {
    if (s.device >= fleet.num_devices()) {
      return absl::InvalidArgumentError(absl::StrCat("--straggler: device ", s.device,
                                                     " is out of range (the fleet has ",
                                                     fleet.num_devices(), " devices)"));
    }
    if (s.from_step >= steps) return after_the_run("--straggler", s.from_step);
  }
  if (scenario.failure && scenario.failure->node >= fleet.num_nodes()) {
    return absl::InvalidArgumentError(absl::StrCat("--fail-node: node ", scenario.failure->node,
                                                   " is out of range (the fleet has ",
                                                   fleet.num_nodes(), " nodes)"));
  }
  if (scenario.failure && scenario.failure->step >= steps) {
    return after_the_run("--fail-node", scenario.failure->step);
  }
  if (!(scenario.cross_island_slowdown >= 1)) {
    return absl::InvalidArgumentError("--cross-island-slowdown must be >= 1");
  }
  if (!(scenario.drift_percent >= 0 && scenario.drift_percent < 100)) {
    return absl::InvalidArgumentError("--drift must be in [0, 100) percent");
  }
  return absl::OkStatus();
}

std::vector<std::string> ScenarioWarnings(const Scenario& scenario,
                                          const partitioner::Fleet& fleet) {
  std::vector<std::string> warnings;
  std::set<std::string> islands;
  for (const partitioner::NodeGroup& g : fleet.groups) islands.insert(g.island);
  if (scenario.cross_island_slowdown > 1 && islands.size() == 1) {
    warnings.push_back(absl::StrFormat(
        "--cross-island-slowdown %g has no effect: fleet %s is one island (%s), with no links "
        "between islands to slow",
        scenario.cross_island_slowdown, fleet.name, *islands.begin()));
  }
  return warnings;
}

partitioner::Fleet ApplyNetwork(const Scenario& scenario, partitioner::Fleet fleet) {
  fleet.network.inter_island_gbps /= scenario.cross_island_slowdown;
  fleet.network.inter_island_latency_us *= scenario.cross_island_slowdown;
  return fleet;
}

partitioner::Fleet RemoveNode(const partitioner::Fleet& fleet, int64_t node) {
  partitioner::Fleet out = fleet;
  for (const partitioner::DeviceSlot& s : partitioner::FlattenFleet(fleet)) {
    if (s.node != node) continue;
    // Nodes of a group are alike: removing any one of them leaves the same fleet.
    if (out.groups[s.group].count > 1) {
      --out.groups[s.group].count;
    } else {
      out.groups.erase(out.groups.begin() + s.group);
    }
    break;
  }
  out.name = absl::StrCat(fleet.name, "-without-node-", node);
  return out;
}

SlowdownSchedule::SlowdownSchedule(const Scenario& scenario, int64_t devices)
    : scenario_(scenario), drift_(devices, 1.0), current_(devices, 1.0), rng_(scenario.seed) {}

const std::vector<double>& SlowdownSchedule::Step(int64_t step) {
  const double x = scenario_.drift_percent / 100;
  if (x > 0 && step > 0) {
    for (double& d : drift_) {
      const double u = rng_.Uniform() * 2 - 1;  // [-1, 1)
      d = std::clamp(d * (1 + x * u), 0.5, 2.0);
    }
  }
  current_ = drift_;
  for (const Straggler& s : scenario_.stragglers) {
    if (step >= s.from_step) current_[s.device] *= 1 + s.percent / 100;
  }
  return current_;
}

}  // namespace tangram::simulator
