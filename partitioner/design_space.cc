#include "partitioner/design_space.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace tangram::partitioner {
namespace {

constexpr int64_t kMaxNodes = 1 << 20;
constexpr double kHuge = 1e15;

std::string Where(const YamlMap& m) {
  const YAML::Mark mark = m.node().Mark();
  if (mark.is_null()) return m.file();
  return absl::StrCat(m.file(), ":", mark.line + 1, ":", mark.column + 1);
}

// A list of kind names; each must be a kind the space offers.
absl::StatusOr<std::vector<std::string>> ReadKinds(YamlMap& m, absl::string_view key,
                                                   const std::set<std::string>& offered) {
  TANGRAM_ASSIGN_OR_RETURN(YAML::Node list, m.Sequence(key));
  std::vector<std::string> kinds;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = absl::StrCat(m.FieldPath(key), "[", i, "]");
    if (!list[i].IsScalar() || list[i].Scalar().empty()) {
      return ConfigError(m.file(), list[i], field, "expected a device kind");
    }
    const std::string& kind = list[i].Scalar();
    if (!offered.count(kind)) {
      return ConfigError(m.file(), list[i], field,
                         absl::StrCat("\"", kind, "\" is not a kind of this space (kinds: ",
                                      absl::StrJoin(offered, ", "), ")"));
    }
    if (std::find(kinds.begin(), kinds.end(), kind) != kinds.end()) {
      return ConfigError(m.file(), list[i], field, absl::StrCat("\"", kind, "\" listed twice"));
    }
    kinds.push_back(kind);
  }
  return kinds;
}

absl::StatusOr<DesignCandidate> ReadCandidate(YamlMap& m, const DeviceCatalog& catalog,
                                              Pricing pricing) {
  DesignCandidate c;
  c.where = Where(m);
  TANGRAM_ASSIGN_OR_RETURN(std::string kind, m.String("device"));
  const DeviceSpec* spec = catalog.Find(kind);
  if (spec == nullptr) {
    return m.Error("device", absl::StrCat("unknown device kind \"", kind,
                                          "\" (known: ", catalog.KnownKinds(), ")"));
  }
  NodeGroup& g = c.group;
  g.device = *spec;
  TANGRAM_ASSIGN_OR_RETURN(int64_t per_node, m.Int("devices_per_node", 1, 64));
  g.devices_per_node = static_cast<int>(per_node);
  TANGRAM_ASSIGN_OR_RETURN(auto min_nodes, m.OptionalInt("min_nodes", 0, kMaxNodes));
  c.min_nodes = min_nodes.value_or(0);
  TANGRAM_ASSIGN_OR_RETURN(c.max_nodes, m.Int("max_nodes", 0, kMaxNodes));
  if (c.min_nodes > c.max_nodes) {
    return m.Error("min_nodes", absl::StrCat("min_nodes (", c.min_nodes, ") exceeds max_nodes (",
                                             c.max_nodes, ")"));
  }
  TANGRAM_ASSIGN_OR_RETURN(auto nic, m.OptionalNumber("nic_gbps", 0, 1e6));
  g.nic_gbps = nic.value_or(spec->nic_gbps * g.devices_per_node);
  TANGRAM_ASSIGN_OR_RETURN(g.measured_tflops, m.OptionalNumber("measured_tflops", 0, 1e6));
  TANGRAM_ASSIGN_OR_RETURN(auto island, m.OptionalString("island"));
  g.island =
      island.value_or(spec->collective_library == "none" ? "host" : spec->collective_library);

  // Prices: negative or zero is an error (OptionalNumber's > 0); missing falls back to the
  // catalog, which only has capital prices.
  TANGRAM_ASSIGN_OR_RETURN(auto price, m.OptionalNumber("price_usd", 0, kHuge));
  if (price) {
    c.price_usd = *price;
    c.price_origin = "space";
  } else if (pricing == Pricing::kPerHour) {
    return m.Error("price_usd",
                   absl::StrCat("missing: pricing is per_hour and the catalog has only purchase "
                                "prices; give ",
                                kind, "'s price per device-hour"));
  } else if (spec->price_usd) {
    c.price_usd = *spec->price_usd;
    c.price_origin = absl::StrCat("catalog (", spec->price_confidence, ")");
  } else {
    return m.Error("price_usd", absl::StrCat("missing: the catalog has no price for ", kind,
                                             "; give price_usd per device"));
  }
  TANGRAM_ASSIGN_OR_RETURN(auto power, m.OptionalNumber("power_w", 0, 1e7));
  if (power) {
    c.power_w = *power;
    c.power_origin = "space";
  } else if (spec->power_w) {
    c.power_w = *spec->power_w;
    c.power_origin = absl::StrCat("catalog (", spec->power_confidence, ")");
  } else {
    return m.Error("power_w", absl::StrCat("missing: the catalog has no board power for ", kind,
                                           "; give power_w per device"));
  }
  TANGRAM_RETURN_IF_ERROR(m.RejectUnknownKeys());
  return c;
}

absl::StatusOr<QuotaRule> ReadQuota(YamlMap& m, const std::set<std::string>& offered) {
  QuotaRule q;
  q.where = absl::StrCat(Where(m), ": ", m.path());
  TANGRAM_ASSIGN_OR_RETURN(q.imported, ReadKinds(m, "imported", offered));
  TANGRAM_ASSIGN_OR_RETURN(q.domestic, ReadKinds(m, "domestic", offered));
  for (const std::string& k : q.domestic) {
    if (std::find(q.imported.begin(), q.imported.end(), k) != q.imported.end()) {
      return m.Error("domestic", absl::StrCat("\"", k, "\" is both imported and domestic"));
    }
  }
  TANGRAM_ASSIGN_OR_RETURN(auto lo, m.OptionalNonNegative("min_domestic_per_imported", 1e6));
  TANGRAM_ASSIGN_OR_RETURN(q.max_domestic_per_imported,
                           m.OptionalNonNegative("max_domestic_per_imported", 1e6));
  if (!lo && !q.max_domestic_per_imported) {
    return m.Error("min_domestic_per_imported",
                   "a quota rule needs min_domestic_per_imported and/or max_domestic_per_imported");
  }
  q.min_domestic_per_imported = lo.value_or(0);
  if (q.max_domestic_per_imported && *q.max_domestic_per_imported < q.min_domestic_per_imported) {
    return m.Error("max_domestic_per_imported",
                   absl::StrCat("contradicts min_domestic_per_imported (",
                                q.min_domestic_per_imported, " > ", *q.max_domestic_per_imported,
                                "): no mix with imported devices can satisfy both"));
  }
  TANGRAM_RETURN_IF_ERROR(m.RejectUnknownKeys());
  return q;
}

absl::StatusOr<DesignConstraints> ReadConstraints(YamlMap& m, Pricing pricing,
                                                  const std::set<std::string>& offered) {
  DesignConstraints c;
  TANGRAM_ASSIGN_OR_RETURN(auto capital, m.OptionalNumber("budget_usd", 0, kHuge));
  TANGRAM_ASSIGN_OR_RETURN(auto hourly, m.OptionalNumber("budget_usd_per_hour", 0, kHuge));
  if (capital && pricing != Pricing::kCapital) {
    return m.Error("budget_usd", "pricing is per_hour: give budget_usd_per_hour instead");
  }
  if (hourly && pricing != Pricing::kPerHour) {
    return m.Error("budget_usd_per_hour", "pricing is capital: give budget_usd instead");
  }
  c.budget_usd = capital ? capital : hourly;
  TANGRAM_ASSIGN_OR_RETURN(auto kw, m.OptionalNumber("max_power_kw", 0, 1e9));
  if (kw) c.max_power_w = *kw * 1e3;
  TANGRAM_ASSIGN_OR_RETURN(c.max_devices, m.OptionalInt("max_devices", 1, int64_t{1} << 30));
  if (m.Has("quotas")) {
    TANGRAM_ASSIGN_OR_RETURN(YAML::Node list, m.Sequence("quotas"));
    for (size_t i = 0; i < list.size(); ++i) {
      TANGRAM_ASSIGN_OR_RETURN(YamlMap q,
                               YamlMap::Of(m.file(), list[i], ElementPath(m, "quotas", i),
                                           {"imported", "domestic", "min_domestic_per_imported",
                                            "max_domestic_per_imported"}));
      TANGRAM_ASSIGN_OR_RETURN(QuotaRule rule, ReadQuota(q, offered));
      c.quotas.push_back(std::move(rule));
    }
  }
  TANGRAM_RETURN_IF_ERROR(m.RejectUnknownKeys());
  return c;
}

// The space's fleets against a fleet file's limit. Three kinds of 100,000 nodes of 8 (2.4 M
// devices, no constraint) were searched for over 10 minutes without a word; a space whose
// largest fleet (capped by constraints.max_devices) is above the limit is refused.
absl::Status CheckFleetSize(const YamlMap& root, const DesignSpace& space) {
  int64_t smallest = 0, largest = 0;
  for (const DesignCandidate& c : space.candidates) {
    smallest += c.min_nodes * c.group.devices_per_node;
    largest += c.max_nodes * c.group.devices_per_node;
  }
  if (space.constraints.max_devices) largest = std::min(largest, *space.constraints.max_devices);
  if (smallest > kMaxFleetDevices) {
    return root.Error(
        "kinds", absl::StrCat("the kinds' min_nodes make a fleet of ", smallest,
                              " devices, more than a fleet may hold (", kMaxFleetDevices, ")"));
  }
  if (largest <= kMaxFleetDevices) return absl::OkStatus();
  return root.Error("kinds",
                    absl::StrCat("the largest fleet of this space has ", largest,
                                 " devices, more than a fleet may hold (", kMaxFleetDevices,
                                 "): lower max_nodes, or set constraints.max_devices"));
}

}  // namespace

absl::StatusOr<DesignSpace> DesignSpaceFromDocument(const YamlDocument& doc,
                                                    const DeviceCatalog& catalog) {
  TANGRAM_ASSIGN_OR_RETURN(YamlMap root, YamlMap::Of(doc.name, doc.root, "",
                                                     {"name", "description", "pricing", "objective",
                                                      "kinds", "constraints", "network"}));
  DesignSpace space;
  space.path = doc.name;
  TANGRAM_ASSIGN_OR_RETURN(space.name, root.String("name"));
  TANGRAM_ASSIGN_OR_RETURN(auto description, root.OptionalString("description"));
  (void)description;
  TANGRAM_ASSIGN_OR_RETURN(std::string pricing, root.Enum("pricing", {"capital", "per_hour"}));
  space.pricing = pricing == "capital" ? Pricing::kCapital : Pricing::kPerHour;
  TANGRAM_ASSIGN_OR_RETURN(
      std::string objective,
      root.Enum("objective", {"time_to_train", "tokens_per_dollar", "tokens_per_watt"}));
  space.objective = *ParseDesignObjective(objective);
  TANGRAM_ASSIGN_OR_RETURN(YAML::Node kinds, root.Sequence("kinds"));
  std::set<std::string> offered;
  for (size_t i = 0; i < kinds.size(); ++i) {
    TANGRAM_ASSIGN_OR_RETURN(
        YamlMap m, YamlMap::Of(doc.name, kinds[i], ElementPath(root, "kinds", i),
                               {"device", "devices_per_node", "min_nodes", "max_nodes", "nic_gbps",
                                "measured_tflops", "island", "price_usd", "power_w"}));
    TANGRAM_ASSIGN_OR_RETURN(DesignCandidate c, ReadCandidate(m, catalog, space.pricing));
    for (const DesignCandidate& other : space.candidates) {
      if (other.kind() == c.kind() && other.group.devices_per_node == c.group.devices_per_node) {
        return m.Error("device", absl::StrCat(c.kind(), " in nodes of ", c.group.devices_per_node,
                                              " is listed twice (first at ", other.where, ")"));
      }
    }
    offered.insert(c.kind());
    space.candidates.push_back(std::move(c));
  }
  // Only the empty fleet would be left, which the search reported as an infeasible space ("the
  // minimum fleet ((none)) violates: empty") without naming the field that empties it.
  if (std::all_of(space.candidates.begin(), space.candidates.end(),
                  [](const DesignCandidate& c) { return c.max_nodes == 0; })) {
    return root.Error("kinds",
                      "every kind has max_nodes: 0, so no node may be added (give one kind "
                      "max_nodes >= 1)");
  }
  TANGRAM_ASSIGN_OR_RETURN(auto constraints, root.OptionalMap("constraints"));
  if (constraints) {
    TANGRAM_ASSIGN_OR_RETURN(space.constraints,
                             ReadConstraints(*constraints, space.pricing, offered));
  }
  TANGRAM_RETURN_IF_ERROR(CheckFleetSize(root, space));
  TANGRAM_ASSIGN_OR_RETURN(auto network, root.OptionalMap("network"));
  if (network) {
    TANGRAM_ASSIGN_OR_RETURN(space.network, ReadNetwork(*network));
  }
  TANGRAM_RETURN_IF_ERROR(root.RejectUnknownKeys());
  return space;
}

const char* DesignObjectiveName(DesignObjective o) {
  switch (o) {
    case DesignObjective::kTimeToTrain:
      return "time_to_train";
    case DesignObjective::kTokensPerDollar:
      return "tokens_per_dollar";
    case DesignObjective::kTokensPerWatt:
      return "tokens_per_watt";
  }
  return "?";
}

absl::StatusOr<DesignObjective> ParseDesignObjective(absl::string_view name) {
  for (DesignObjective o : {DesignObjective::kTimeToTrain, DesignObjective::kTokensPerDollar,
                            DesignObjective::kTokensPerWatt}) {
    if (name == DesignObjectiveName(o)) return o;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown objective \"", name, "\" (time_to_train | tokens_per_dollar | tokens_per_watt)"));
}

const char* PricingName(Pricing p) { return p == Pricing::kCapital ? "capital" : "per_hour"; }

int64_t DesignSpace::Devices(const std::vector<int64_t>& nodes) const {
  int64_t n = 0;
  for (size_t i = 0; i < candidates.size(); ++i)
    n += nodes[i] * candidates[i].group.devices_per_node;
  return n;
}

double DesignSpace::Cost(const std::vector<int64_t>& nodes) const {
  double c = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    c += static_cast<double>(nodes[i] * candidates[i].group.devices_per_node) *
         candidates[i].price_usd;
  }
  return c;
}

double DesignSpace::PowerW(const std::vector<int64_t>& nodes) const {
  double p = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    p += static_cast<double>(nodes[i] * candidates[i].group.devices_per_node) *
         candidates[i].power_w;
  }
  return p;
}

int64_t DesignSpace::DevicesOf(const std::vector<int64_t>& nodes,
                               const std::vector<std::string>& kinds) const {
  int64_t n = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (std::find(kinds.begin(), kinds.end(), candidates[i].kind()) != kinds.end()) {
      n += nodes[i] * candidates[i].group.devices_per_node;
    }
  }
  return n;
}

std::vector<std::string> DesignSpace::Violations(const std::vector<int64_t>& nodes) const {
  std::vector<std::string> v;
  // A relative tolerance keeps a budget met to the cent from failing on rounding.
  constexpr double kSlack = 1e-9;
  if (Devices(nodes) == 0) v.push_back("empty");
  if (constraints.budget_usd && Cost(nodes) > *constraints.budget_usd * (1 + kSlack)) {
    v.push_back("budget");
  }
  if (constraints.max_power_w && PowerW(nodes) > *constraints.max_power_w * (1 + kSlack)) {
    v.push_back("power");
  }
  if (constraints.max_devices && Devices(nodes) > *constraints.max_devices) {
    v.push_back("max_devices");
  }
  for (size_t q = 0; q < constraints.quotas.size(); ++q) {
    const QuotaRule& rule = constraints.quotas[q];
    const double imported = static_cast<double>(DevicesOf(nodes, rule.imported));
    const double domestic = static_cast<double>(DevicesOf(nodes, rule.domestic));
    const bool low = domestic < rule.min_domestic_per_imported * imported * (1 - kSlack);
    const bool high = rule.max_domestic_per_imported &&
                      domestic > *rule.max_domestic_per_imported * imported * (1 + kSlack);
    if (low || high) v.push_back(absl::StrCat("quota[", q, "]"));
  }
  return v;
}

std::vector<std::string> DesignSpace::Binding(const std::vector<int64_t>& nodes) const {
  std::set<std::string> hit;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (nodes[i] >= candidates[i].max_nodes) {
      hit.insert(absl::StrCat(candidates[i].kind(), " max_nodes"));
      continue;
    }
    std::vector<int64_t> more = nodes;
    ++more[i];
    for (std::string& v : Violations(more)) hit.insert(std::move(v));
  }
  std::vector<std::string> out;
  for (const std::string& h : hit) {
    if (h == "budget") {
      out.push_back(
          absl::StrFormat("budget (%.0f%% used)", 100 * Cost(nodes) / *constraints.budget_usd));
    } else if (h == "power") {
      out.push_back(
          absl::StrFormat("power (%.0f%% used)", 100 * PowerW(nodes) / *constraints.max_power_w));
    } else if (h.rfind("quota[", 0) == 0) {
      const QuotaRule& rule = constraints.quotas[std::stoi(h.substr(6))];
      out.push_back(absl::StrFormat("%s (domestic %d >= %g x imported %d)", h,
                                    DevicesOf(nodes, rule.domestic), rule.min_domestic_per_imported,
                                    DevicesOf(nodes, rule.imported)));
    } else {
      out.push_back(h);
    }
  }
  return out;
}

Fleet DesignSpace::MakeFleet(const std::vector<int64_t>& nodes,
                             const std::string& fleet_name) const {
  Fleet f;
  f.name = fleet_name;
  f.network = network;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (nodes[i] == 0) continue;
    NodeGroup g = candidates[i].group;
    g.count = nodes[i];
    f.groups.push_back(std::move(g));
  }
  return f;
}

std::string DesignSpace::Describe(const std::vector<int64_t>& nodes) const {
  std::string out;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (nodes[i] == 0) continue;
    absl::StrAppend(&out, out.empty() ? "" : " + ", candidates[i].kind(), " ", nodes[i], "x",
                    candidates[i].group.devices_per_node);
  }
  return out.empty() ? "(none)" : out;
}

absl::StatusOr<DesignSpace> ParseDesignSpace(absl::string_view text, const std::string& name,
                                             const DeviceCatalog& catalog) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::Parse(text, name));
  return DesignSpaceFromDocument(doc, catalog);
}

absl::StatusOr<DesignSpace> LoadDesignSpace(const std::string& path, const DeviceCatalog& catalog) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::LoadFile(path));
  return DesignSpaceFromDocument(doc, catalog);
}

}  // namespace tangram::partitioner
