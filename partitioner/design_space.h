// A fleet design space (configs/design/*.yaml): which device kinds a team could buy or reserve,
// how many whole nodes of each, at what price and power, under which constraints (budget, power
// envelope, device count, import-quota rules), and what to optimise. `tangram design` searches it
// (fleet_design.h) for the fleets that train a job best.
//
// A *mix* is a whole-node count per candidate (DesignSpace::candidates order). Its cost, power and
// devices are linear in the counts, and so is every constraint: a quota rule "domestic devices ≥
// r × imported devices" is Σ_domestic d_c·n_c − r·Σ_imported d_c·n_c ≥ 0.
//
// Loading is strict like every Tangram config: unknown keys, contradictory rules (a kind both
// imported and domestic, min_nodes > max_nodes, a quota over a kind the space does not offer, a
// budget in the wrong pricing unit, every kind at max_nodes 0: no node to add), negative or
// missing prices are kInvalidArgument naming file:line:col and the field. Plain data;
// thread-compatible.
#ifndef TANGRAM_PARTITIONER_DESIGN_SPACE_H_
#define TANGRAM_PARTITIONER_DESIGN_SPACE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/yaml_reader.h"

namespace tangram::partitioner {

// What the search maximises: tokens/s (= minimises time to train), tokens/s per dollar of the
// fleet's price, or tokens/s per watt of its board power (tokens per joule).
enum class DesignObjective { kTimeToTrain, kTokensPerDollar, kTokensPerWatt };
const char* DesignObjectiveName(DesignObjective o);
absl::StatusOr<DesignObjective> ParseDesignObjective(absl::string_view name);

// What `price_usd` means: a purchase price per device, or a reservation price per device-hour.
enum class Pricing { kCapital, kPerHour };
const char* PricingName(Pricing p);

// One kind (in one node shape) the team may buy: `group` carries the device, devices per node,
// NIC, island and any measured figure; its `count` is set per mix.
struct DesignCandidate {
  NodeGroup group;
  int64_t min_nodes = 0;
  int64_t max_nodes = 0;
  double price_usd = 0;      // per device: capital, or per hour (DesignSpace::pricing)
  double power_w = 0;        // per device, board power
  std::string price_origin;  // "space" or "catalog (estimate): <source>"
  std::string power_origin;
  std::string where;  // "file:line:col" of the entry, for messages

  const std::string& kind() const { return group.device.kind; }
  int64_t levels() const { return max_nodes - min_nodes + 1; }
};

// Σ_domestic devices ≥ min_ratio × Σ_imported devices (and ≤ max_ratio × when given).
struct QuotaRule {
  std::vector<std::string> imported;
  std::vector<std::string> domestic;
  double min_domestic_per_imported = 0;
  std::optional<double> max_domestic_per_imported;
  std::string where;  // "file:line:col: constraints.quotas[i]"
};

struct DesignConstraints {
  std::optional<double> budget_usd;   // capital: total price; per hour: USD per hour
  std::optional<double> max_power_w;  // board power of all devices
  std::optional<int64_t> max_devices;
  std::vector<QuotaRule> quotas;
};

struct DesignSpace {
  std::string name;
  std::string path;
  Pricing pricing = Pricing::kCapital;
  DesignObjective objective = DesignObjective::kTimeToTrain;
  std::vector<DesignCandidate> candidates;
  NetworkSpec network;
  DesignConstraints constraints;

  // Linear measures of a mix (nodes per candidate).
  int64_t Devices(const std::vector<int64_t>& nodes) const;
  double Cost(const std::vector<int64_t>& nodes) const;  // USD, or USD per hour
  double PowerW(const std::vector<int64_t>& nodes) const;
  // Devices of the candidates of `kinds` in the mix.
  int64_t DevicesOf(const std::vector<int64_t>& nodes, const std::vector<std::string>& kinds) const;
  // The constraints the mix violates ("budget", "power", "max_devices", "quota[0]"), or none;
  // a mix of no node at all violates "empty".
  std::vector<std::string> Violations(const std::vector<int64_t>& nodes) const;
  // The constraints that stop the mix from growing by one node of any candidate: those one more
  // node of some candidate would violate (incl. "H200 max_nodes"), each with its slack, e.g.
  // "budget (96% used)". Empty for an interior mix.
  std::vector<std::string> Binding(const std::vector<int64_t>& nodes) const;
  // The fleet of a mix (named `name`), candidates with 0 nodes left out.
  Fleet MakeFleet(const std::vector<int64_t>& nodes, const std::string& name) const;
  // "H200 2x8 + Ascend910B 6x8".
  std::string Describe(const std::vector<int64_t>& nodes) const;
};

// Loads a design space; kinds, prices and power come from `catalog` unless the space overrides
// them. A price or power figure that neither gives is an error naming the entry.
absl::StatusOr<DesignSpace> LoadDesignSpace(const std::string& path, const DeviceCatalog& catalog);
absl::StatusOr<DesignSpace> DesignSpaceFromDocument(const YamlDocument& doc,
                                                    const DeviceCatalog& catalog);
absl::StatusOr<DesignSpace> ParseDesignSpace(absl::string_view text, const std::string& name,
                                             const DeviceCatalog& catalog);

// kFailedPrecondition explaining why no mix of the space satisfies its constraints: each
// constraint whose removal alone would make the space feasible, and what the smallest fleet the
// other rules allow needs. OK when some mix is feasible. Enumerates the lattice (small spaces) or
// reasons per constraint from the linear bounds.
absl::Status ExplainInfeasible(const DesignSpace& space);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_DESIGN_SPACE_H_
