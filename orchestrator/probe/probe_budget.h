// The probe's wall-clock budget: how `tangram probe` and the start of `train` share it among
// their compute parts, and how the `measured:` section's `how:` says what the budget did.
//
// Why: the compute parts (calibration, CPU pools' solo rate, layer times) run a fixed number of
// passes per rank, so their wall time grows with the ranks per core: 64 simulated ranks on this
// project's 2-core machine took 70 s. With a budget each part runs passes until its pass count or
// its share of the budget is reached (never fewer than its minimum), and says which. The network
// probe is bounded by its own rules (link_probe.h: sizes stop past 0.25 s a round trip) and is
// not part of the budget.
#ifndef TANGRAM_ORCHESTRATOR_PROBE_PROBE_BUDGET_H_
#define TANGRAM_ORCHESTRATOR_PROBE_PROBE_BUDGET_H_

#include <string>

#include "absl/time/time.h"

namespace tangram::orchestrator {

// Fits the whole probe of 64 simulated ranks (8 nodes of 8, tiny-gpt) in under 30 s on a loaded
// 2-core machine together with the network probe (docs/probe.md); on machines with a core per
// rank the pass counts, not the budget, end each part.
inline constexpr double kDefaultProbeBudgetSeconds = 20;

struct ProbeBudgetShares {
  absl::Duration compute = absl::InfiniteDuration();      // calibration
  absl::Duration cpu_pools = absl::InfiniteDuration();    // each machine's first rank alone
  absl::Duration layer_times = absl::InfiniteDuration();  // the degrees the layer probe times
};

// `total` shared 3 : 1 : 1 among the calibration and, when they run, the CPU pools' solo probe
// and the layer times (roughly their costs at full pass counts). Infinite stays infinite.
ProbeBudgetShares SplitProbeBudget(absl::Duration total, bool cpu_pools, bool layer_times);

// For `how:`: "no time budget", "budget 12 s, not reached", or "budget 12 s, reached on 5 of 64
// ranks" (those ranks stopped at fewer passes).
std::string DescribeBudget(absl::Duration budget, int ranks_reached, int ranks);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_PROBE_PROBE_BUDGET_H_
