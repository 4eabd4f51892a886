// What-if scenarios layered on a simulation (`tangram simulate --straggler … --fail-node …`):
//   straggler      device d computes x% slower from step k on ("3:50@2": 1.5× the time);
//   failed node    node n dies during step k: that step is lost (plus the collective timeout),
//                  the job re-plans without the node and runs on at the new step time;
//   cross-island   inter-island links f× slower (bandwidth ÷ f, latency × f);
//   drift          every device's speed walks randomly by up to ±x% per step (seeded).
// Plain data plus pure functions; thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_SCENARIO_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_SCENARIO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "orchestrator/model/random.h"
#include "partitioner/fleet.h"

namespace tangram::simulator {

struct Straggler {
  int64_t device = 0;
  double percent = 0;     // compute takes (1 + percent/100)× as long
  int64_t from_step = 0;  // 0-based here; --straggler D:P@K counts K from 1
};

struct NodeFailure {
  int64_t node = 0;  // global node id (FlattenFleet's DeviceSlot::node)
  int64_t step = 0;
};

struct Scenario {
  std::vector<Straggler> stragglers;
  std::optional<NodeFailure> failure;
  double cross_island_slowdown = 1;  // ≥ 1
  double drift_percent = 0;          // per step, per device
  uint64_t seed = 1;
  double failure_timeout_s = 60;  // until the collective library reports the lost peer
  bool empty() const {
    return stragglers.empty() && !failure && cross_island_slowdown == 1 && drift_percent == 0;
  }
};

// "DEVICE:PERCENT[@STEP]" (e.g. "3:50@2": from the second step on). STEP counts from 1 (as every
// step number users see does) and defaults to 1; kInvalidArgument naming the text otherwise.
absl::StatusOr<Straggler> ParseStraggler(const std::string& text);
// "NODE[@STEP]", STEP counting from 1 as above.
absl::StatusOr<NodeFailure> ParseNodeFailure(const std::string& text);

// Checks device and node ids against the fleet and each event's step against the run's `steps`
// (a straggler or a failure after the last step would never happen, silently); kInvalidArgument
// naming the bad one.
absl::Status ValidateScenario(const Scenario& scenario, const partitioner::Fleet& fleet,
                              int64_t steps);

// What in `scenario` has no effect on `fleet` (a --cross-island-slowdown on a fleet of one
// island, which has no links between islands to slow), one warning each; empty when all applies.
std::vector<std::string> ScenarioWarnings(const Scenario& scenario,
                                          const partitioner::Fleet& fleet);

// The fleet with its inter-island links slowed down.
partitioner::Fleet ApplyNetwork(const Scenario& scenario, partitioner::Fleet fleet);
// The fleet without global node `node`.
partitioner::Fleet RemoveNode(const partitioner::Fleet& fleet, int64_t node);

// Per-device compute slowdown at each step, as the scenario's stragglers and drift make it.
class SlowdownSchedule {
 public:
  SlowdownSchedule(const Scenario& scenario, int64_t devices);
  // Slowdowns of step `step`; steps must be asked in order 0, 1, 2, …
  const std::vector<double>& Step(int64_t step);

 private:
  const Scenario& scenario_;
  std::vector<double> drift_, current_;
  train::Rng rng_;  // the drift's random walk
};

}  // namespace tangram::simulator

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_SCENARIO_H_
