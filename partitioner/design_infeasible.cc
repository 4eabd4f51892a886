// Why a design space has no feasible mix: each constraint whose removal alone would admit a fleet,
// with what the cheapest (or least powerful, or smallest) such fleet needs. The enumeration prunes
// on the monotone constraints (budget, power, device count grow with every node), so spaces whose
// budget is what binds are checked at once; quota rules are checked at the leaves.
#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "partitioner/design_space.h"

namespace tangram::partitioner {
namespace {

constexpr int64_t kLeafLimit = 20'000'000;

// Calls `visit` for each mix within availability whose budget, power and device count (unless
// ignored) hold, pruning subtrees that already break them with every later candidate at its
// minimum. Returns false when it stopped after kLeafLimit leaves.
bool Enumerate(const DesignSpace& s, const std::set<std::string>& ignore,
               const std::function<void(const std::vector<int64_t>&)>& visit) {
  const size_t k = s.candidates.size();
  std::vector<int64_t> nodes(k);
  for (size_t i = 0; i < k; ++i) nodes[i] = s.candidates[i].min_nodes;
  const DesignConstraints& c = s.constraints;
  const bool budget = c.budget_usd && !ignore.count("budget");
  const bool power = c.max_power_w && !ignore.count("power");
  const bool devices = c.max_devices && !ignore.count("max_devices");
  int64_t leaves = 0;
  std::function<bool(size_t)> walk = [&](size_t i) -> bool {
    // nodes[i..] sit at their minimum here, so these measures are the subtree's least.
    if (budget && s.Cost(nodes) > *c.budget_usd * (1 + 1e-9)) return true;
    if (power && s.PowerW(nodes) > *c.max_power_w * (1 + 1e-9)) return true;
    if (devices && s.Devices(nodes) > *c.max_devices) return true;
    if (i == k) {
      visit(nodes);
      return ++leaves < kLeafLimit;
    }
    const DesignCandidate& cand = s.candidates[i];
    for (int64_t n = cand.min_nodes; n <= cand.max_nodes; ++n) {
      nodes[i] = n;
      if (!walk(i + 1)) return false;
      // Larger counts of this candidate only cost more: once the minimal subtree breaks a
      // monotone constraint, stop.
      std::vector<int64_t> least = nodes;
      for (size_t j = i + 1; j < k; ++j) least[j] = s.candidates[j].min_nodes;
      if ((budget && s.Cost(least) > *c.budget_usd * (1 + 1e-9)) ||
          (power && s.PowerW(least) > *c.max_power_w * (1 + 1e-9)) ||
          (devices && s.Devices(least) > *c.max_devices)) {
        break;
      }
    }
    nodes[i] = cand.min_nodes;
    return true;
  };
  return walk(0);
}

// True when `v` (a mix's violations) has none outside `ignore`.
bool Allowed(const std::vector<std::string>& v, const std::set<std::string>& ignore) {
  for (const std::string& x : v) {
    if (!ignore.count(x)) return false;
  }
  return true;
}

std::string Money(const DesignSpace& s, double usd) {
  return absl::StrFormat(s.pricing == Pricing::kCapital ? "$%.0f" : "$%.2f/h", usd);
}

}  // namespace

absl::Status ExplainInfeasible(const DesignSpace& space) {
  bool feasible = false;
  Enumerate(space, {}, [&](const std::vector<int64_t>& nodes) {
    if (!feasible && space.Violations(nodes).empty()) feasible = true;
  });
  if (feasible) return absl::OkStatus();

  std::vector<std::string> names;
  const DesignConstraints& c = space.constraints;
  if (c.budget_usd) names.push_back("budget");
  if (c.max_power_w) names.push_back("power");
  if (c.max_devices) names.push_back("max_devices");
  for (size_t q = 0; q < c.quotas.size(); ++q) names.push_back(absl::StrCat("quota[", q, "]"));

  std::vector<std::string> binding;
  for (const std::string& name : names) {
    const std::set<std::string> ignore = {name};
    std::optional<std::vector<int64_t>> least;
    double least_measure = 0;
    Enumerate(space, ignore, [&](const std::vector<int64_t>& nodes) {
      if (!Allowed(space.Violations(nodes), ignore)) return;
      const double m = name == "budget"        ? space.Cost(nodes)
                       : name == "power"       ? space.PowerW(nodes)
                       : name == "max_devices" ? static_cast<double>(space.Devices(nodes))
                                               : 0;
      if (!least || m < least_measure) {
        least = nodes;
        least_measure = m;
      }
    });
    if (!least) continue;
    const std::string fleet = space.Describe(*least);
    if (name == "budget") {
      binding.push_back(absl::StrCat("budget: the cheapest fleet the other rules allow (", fleet,
                                     ") costs ", Money(space, least_measure), " > budget ",
                                     Money(space, *c.budget_usd)));
    } else if (name == "power") {
      binding.push_back(absl::StrFormat(
          "power: the least power the other rules allow (%s) is %.1f kW > envelope %.1f kW", fleet,
          least_measure / 1e3, *c.max_power_w / 1e3));
    } else if (name == "max_devices") {
      binding.push_back(absl::StrFormat(
          "max_devices: the smallest fleet the other rules allow (%s) has %.0f devices > %d", fleet,
          least_measure, *c.max_devices));
    } else {
      const QuotaRule& rule = c.quotas[std::stoi(name.substr(6))];
      binding.push_back(absl::StrCat(
          name, " (", rule.where, ": domestic [", absl::StrJoin(rule.domestic, ", "),
          "] >= ", rule.min_domestic_per_imported, " x imported [",
          absl::StrJoin(rule.imported, ", "), "]): without it ", fleet,
          " would do; the domestic kinds' max_nodes or the budget cannot cover the ratio"));
    }
  }
  std::vector<int64_t> minimum;
  for (const DesignCandidate& cand : space.candidates) minimum.push_back(cand.min_nodes);
  std::string text = absl::StrCat(space.path, ": no mix of whole nodes satisfies every constraint");
  if (!binding.empty()) {
    absl::StrAppend(&text, "; binding: ", absl::StrJoin(binding, "; "));
  } else {
    const std::vector<std::string> v = space.Violations(minimum);
    absl::StrAppend(&text,
                    "; no single constraint's removal helps (the constraints conflict "
                    "jointly); the minimum fleet (",
                    space.Describe(minimum), ") violates: ",
                    v.empty() ? "nothing, but every larger one does" : absl::StrJoin(v, ", "));
  }
  return absl::FailedPreconditionError(text);
}

}  // namespace tangram::partitioner
