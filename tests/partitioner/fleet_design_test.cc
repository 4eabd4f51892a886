// Fleet design: the space file's strict reading (errors with file:line:col and field), the
// infeasibility explanation, and the search against exhaustive enumeration of every mix on random
// small spaces (best within 1 %, the same Pareto frontier, no plan above its bound).
#include "partitioner/fleet_design.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/foundation/sample_count.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using testing::Catalog;
using ::testing::HasSubstr;

constexpr char kSpace[] = R"(name: s
pricing: capital
objective: time_to_train
kinds:
  - device: H200
    devices_per_node: 8
    max_nodes: 4
  - device: Ascend910B
    devices_per_node: 8
    max_nodes: 8
    price_usd: 20000
constraints:
  budget_usd: 2.0e6
  max_power_kw: 40
  quotas:
    - imported: [H200]
      domestic: [Ascend910B]
      min_domestic_per_imported: 2
)";

TEST(FleetDesignTest, SpaceReadsCatalogFiguresAndOverrides) {
  auto space = ParseDesignSpace(kSpace, "space.yaml", Catalog());
  ASSERT_TRUE(space.ok()) << space.status();
  ASSERT_EQ(space->candidates.size(), 2u);
  EXPECT_EQ(space->candidates[0].price_usd, *Catalog().Find("H200")->price_usd);
  EXPECT_THAT(space->candidates[0].price_origin, HasSubstr("catalog"));
  EXPECT_EQ(space->candidates[1].price_usd, 20000);
  EXPECT_EQ(space->candidates[1].price_origin, "space");
  EXPECT_EQ(space->candidates[0].power_w, 700);
  EXPECT_EQ(*space->constraints.max_power_w, 40e3);
  // 1 H200 node + 1 Ascend node: 8 domestic < 2 x 8 imported.
  EXPECT_THAT(space->Violations({1, 1}), ::testing::ElementsAre("quota[0]"));
  EXPECT_TRUE(space->Violations({1, 2}).empty());
  EXPECT_THAT(space->Violations({0, 0}), ::testing::ElementsAre("empty"));
  EXPECT_EQ(space->Devices({1, 2}), 24);
  EXPECT_EQ(space->Cost({1, 2}), 8 * 32000.0 + 16 * 20000.0);
  // Binding: one more H200 node would break the quota; one more Ascend node, its availability.
  EXPECT_THAT(space->Binding({2, 4}),
              ::testing::ElementsAre("quota[0] (domestic 32 >= 2 x imported 16)"));
  EXPECT_THAT(space->Binding({1, 8}), ::testing::ElementsAre("Ascend910B max_nodes"));
  EXPECT_TRUE(space->Binding({0, 2}).empty());
  // Every catalog kind but the CPU placeholder has a price and a board power with sources.
  for (const DeviceSpec& d : Catalog().devices()) {
    if (d.kind == "cpu") continue;
    EXPECT_TRUE(d.price_usd && d.power_w) << d.kind;
    EXPECT_FALSE(d.price_source.empty() || d.power_source.empty()) << d.kind;
  }
}

// constraints.max_devices caps the largest fleet: the same kinds load under it.
TEST(FleetDesignTest, MaxDevicesBringsALargeSpaceUnderTheFleetLimit) {
  std::string text = kSpace;
  text.replace(text.find("    max_nodes: 8\n"), 17, "    max_nodes: 200000\n");
  text.replace(text.find("  max_power_kw: 40"), 18, "  max_power_kw: 40\n  max_devices: 100000");
  auto space = ParseDesignSpace(text, "space.yaml", Catalog());
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_EQ(*space->constraints.max_devices, 100000);
}

TEST(FleetDesignTest, HourlyPricingNeedsHourlyPricesAndCountsTokensPerDollar) {
  std::string text = kSpace;
  text.replace(text.find("pricing: capital"), 16, "pricing: per_hour");
  text.replace(text.find("    max_nodes: 4\n"), 17, "    max_nodes: 4\n    price_usd: 4.5\n");
  text.replace(text.find("price_usd: 20000"), 16, "price_usd: 1.5");
  text.replace(text.find("budget_usd: 2.0e6"), 17, "budget_usd_per_hour: 500");
  auto space = ParseDesignSpace(text, "space.yaml", Catalog());
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_EQ(space->pricing, Pricing::kPerHour);
  EXPECT_EQ(*space->constraints.budget_usd, 500);
  EXPECT_DOUBLE_EQ(space->Cost({1, 2}), 8 * 4.5 + 16 * 1.5);
  // Per hour: tokens per dollar = tokens/s x 3600 / (USD per hour); capital: tokens/s per USD.
  EXPECT_DOUBLE_EQ(
      ObjectiveValue(DesignObjective::kTokensPerDollar, Pricing::kPerHour, 1000, 60, 1),
      1000 * 3600 / 60.0);
  EXPECT_DOUBLE_EQ(
      ObjectiveValue(DesignObjective::kTokensPerDollar, Pricing::kCapital, 1000, 50, 1), 20);
  EXPECT_DOUBLE_EQ(
      ObjectiveValue(DesignObjective::kTokensPerWatt, Pricing::kCapital, 1000, 50, 400), 2.5);
}

TEST(FleetDesignTest, BadSpacesNameFileLineAndField) {
  struct Case {
    std::string from, to, message;
  };
  const std::vector<Case> cases = {
      {"    max_nodes: 4\n", "    max_nodes: 4\n    max_node: 3\n",
       "space.yaml:8:5: kinds[0].max_node: unknown field; did you mean \"max_nodes\"?"},
      {"price_usd: 20000", "price_usd: -5",
       "space.yaml:11:16: kinds[1].price_usd: expected a number > 0"},
      {"pricing: capital", "pricing: per_hour", "kinds[0].price_usd: missing: pricing is per_hour"},
      {"domestic: [Ascend910B]", "domestic: [Ascend910B, H200]",
       "\"H200\" is both imported and domestic"},
      {"domestic: [Ascend910B]", "domestic: [HygonK100]",
       "constraints.quotas[0].domestic[0]: \"HygonK100\" is not a kind of this space"},
      {"    max_nodes: 4\n", "    min_nodes: 5\n    max_nodes: 4\n",
       "min_nodes (5) exceeds max_nodes (4)"},
      {"min_domestic_per_imported: 2",
       "min_domestic_per_imported: 2\n      max_domestic_per_imported: 1",
       "max_domestic_per_imported: contradicts min_domestic_per_imported"},
      // A ratio is >= 0 (it said "expected a number > -1 ... found -1").
      {"min_domestic_per_imported: 2", "min_domestic_per_imported: -1",
       "min_domestic_per_imported: expected a number >= 0 and <= 1e+06, found -1"},
      {"budget_usd: 2.0e6", "budget_usd_per_hour: 100", "budget_usd_per_hour: pricing is capital"},
      {"objective: time_to_train", "objective: speed", "objective: expected one of time_to_train"},
      {"  max_power_kw: 40", "  max_power_kw: 40\n  max_devicez: 3",
       "did you mean \"max_devices\"?"},
      {"device: H200", "device: H2OO", "kinds[0].device: unknown device kind \"H2OO\""},
      // No kind may add a node: it said "the minimum fleet ((none)) violates: empty" at search.
      {"    max_nodes: 4\n  - device: Ascend910B\n    devices_per_node: 8\n    max_nodes: 8\n",
       "    max_nodes: 0\n  - device: Ascend910B\n    devices_per_node: 8\n    max_nodes: 0\n",
       "space.yaml:5:3: kinds: every kind has max_nodes: 0, so no node may be added"},
      // Fleets above a fleet file's limit: three kinds of 100,000 nodes of 8 were searched for
      // over 10 minutes; --write-fleet could not have written such a mix.
      {"    max_nodes: 8\n", "    max_nodes: 200000\n",
       "space.yaml:5:3: kinds: the largest fleet of this space has 1600032 devices, more than a "
       "fleet may hold (1048576): lower max_nodes, or set constraints.max_devices"},
      {"    max_nodes: 8\n", "    min_nodes: 200000\n    max_nodes: 200000\n",
       "space.yaml:5:3: kinds: the kinds' min_nodes make a fleet of 1600000 devices"},
  };
  for (const Case& c : cases) {
    std::string text = kSpace;
    const size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    auto space = ParseDesignSpace(text, "space.yaml", Catalog());
    ASSERT_FALSE(space.ok()) << c.to;
    EXPECT_EQ(space.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(space.status().message(), HasSubstr(c.message)) << c.to;
    EXPECT_THAT(space.status().message(), HasSubstr("space.yaml:")) << c.to;
  }
  // A catalog price without its source is refused too.
  std::string catalog(BuiltInCatalogText());
  catalog.replace(catalog.find("    price_confidence: estimate\n"),
                  std::string("    price_confidence: estimate\n").size(), "");
  auto bad = DeviceCatalog::Parse(catalog, "devices.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("price_confidence: required field is missing"));
}

TEST(FleetDesignTest, InfeasibleSpacesNameTheBindingConstraints) {
  std::string text = kSpace;
  // Budget: two H200 nodes are the minimum, and they alone cost more than the budget.
  text.replace(text.find("    max_nodes: 4\n"), 17, "    min_nodes: 2\n    max_nodes: 4\n");
  auto space = ParseDesignSpace(text, "space.yaml", Catalog());
  ASSERT_TRUE(space.ok()) << space.status();
  space->constraints.budget_usd = 600000;
  absl::Status s = ExplainInfeasible(*space);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("budget: the cheapest fleet the other rules allow"));
  EXPECT_THAT(s.message(), HasSubstr("> budget $600000"));
  // Quota: the domestic kind cannot cover two per imported device.
  space->constraints.budget_usd.reset();
  space->constraints.max_power_w.reset();
  space->candidates[1].max_nodes = 3;
  s = ExplainInfeasible(*space);
  EXPECT_THAT(s.message(), HasSubstr("binding: quota[0]"));
  // The search reports the same.
  auto designer = FleetDesigner::Create(*space, testing::Llama2_7B(), testing::Job(512));
  ASSERT_TRUE(designer.ok());
  auto r = (*designer)->Search({});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("quota[0]"));
}

TEST(FleetDesignTest, AModelThatFitsNoFleetIsAnError) {
  auto space = ParseDesignSpace(R"(name: tiny
pricing: capital
objective: time_to_train
kinds:
  - device: L40S
    devices_per_node: 1
    max_nodes: 2
)",
                                "tiny.yaml", Catalog());
  ASSERT_TRUE(space.ok()) << space.status();
  auto designer = FleetDesigner::Create(*space, testing::Gpt3_175B(), testing::Job(64));
  ASSERT_TRUE(designer.ok());
  auto r = (*designer)->Search({});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("the model fits no fleet of the space"));
  EXPECT_THAT(r.status().message(), HasSubstr("L40S 2x1"));
}

// A random small space: 2-3 kinds, 1-4 devices per node, up to 3 nodes each, a budget, sometimes
// a power envelope and a quota, a random objective.
DesignSpace RandomSpace(std::mt19937& rng) {
  const std::vector<std::string> kinds = {"H200",     "H20",       "Ascend910B",
                                          "A100-80G", "HygonK100", "MI300X"};
  std::vector<std::string> pick = kinds;
  std::shuffle(pick.begin(), pick.end(), rng);
  const int k = 2 + static_cast<int>(rng() % 2);
  std::string yaml = "name: random\npricing: capital\nobjective: time_to_train\nkinds:\n";
  for (int i = 0; i < k; ++i) {
    const int per_node = 1 << (rng() % 3);
    absl::StrAppend(&yaml, "  - device: ", pick[i], "\n    devices_per_node: ", per_node,
                    "\n    max_nodes: ", 1 + rng() % 4, "\n");
  }
  DesignSpace space = ParseDesignSpace(yaml, "random.yaml", Catalog()).value();
  std::vector<int64_t> all;
  for (const DesignCandidate& c : space.candidates) all.push_back(c.max_nodes);
  std::uniform_real_distribution<double> frac(0.3, 1.0);
  space.constraints.budget_usd = space.Cost(all) * frac(rng);
  if (rng() % 2) space.constraints.max_power_w = space.PowerW(all) * frac(rng);
  if (rng() % 2) {
    QuotaRule q;
    q.imported = {space.candidates[0].kind()};
    q.domestic = {space.candidates[1].kind()};
    q.min_domestic_per_imported = static_cast<double>(rng() % 3);
    space.constraints.quotas.push_back(q);
  }
  return space;
}

TEST(FleetDesignTest, SearchMatchesExhaustiveEnumerationOnRandomSmallSpaces) {
  std::mt19937 rng(15);
  // A small model keeps each plan cheap: 4 blocks, h 1024, s 1024.
  const ModelSpec model = testing::MakeModel(4, 1024, 8, 1024);
  // 24 feasible spaces; 12 under the sanitizers (each is three full searches, one exhaustive).
  constexpr int kSpaces = sampling::SampleCount(24, /*floor=*/12);
  int spaces = 0, within = 0;
  int64_t planned = 0, exhaustive_planned = 0, best_only_planned = 0;
  for (int trial = 0; trial < 40 && spaces < kSpaces; ++trial) {
    DesignSpace space = RandomSpace(rng);
    if (!ExplainInfeasible(space).ok()) continue;
    DesignOptions options;
    options.objective = static_cast<DesignObjective>(rng() % 3);
    options.top = 3;
    options.threads = 2;
    options.train_tokens = 1e9;
    const TrainingSpec job = testing::Job(16 << (rng() % 3));
    auto search = FleetDesigner::Create(space, model, job).value();
    auto full = FleetDesigner::Create(space, model, job).value();
    absl::StatusOr<DesignResult> r = search->Search(options);
    // Best first alone (the frontier pass plans nearly every mix, which would hide a wrong prune).
    options.frontier = false;
    absl::StatusOr<DesignResult> b =
        FleetDesigner::Create(space, model, job).value()->Search(options);
    options.frontier = true;
    options.exhaustive = true;
    absl::StatusOr<DesignResult> e = full->Search(options);
    ASSERT_EQ(r.ok(), e.ok()) << r.status() << " / " << e.status();
    if (!r.ok()) continue;
    ++spaces;
    planned += r->stats.planned;
    exhaustive_planned += e->stats.planned;
    EXPECT_FALSE(r->stats.coarse);
    const double best = r->best.front().objective, truth = e->best.front().objective;
    EXPECT_GE(best, truth * 0.99) << space.Describe(r->best.front().nodes) << " vs "
                                  << space.Describe(e->best.front().nodes);
    within += best >= truth * 0.99;
    ASSERT_TRUE(b.ok());
    EXPECT_GE(b->best.front().objective, truth * 0.99);
    best_only_planned += b->stats.planned;
    // The frontier: the same (cost, time to train) points.
    ASSERT_EQ(r->frontier.size(), e->frontier.size()) << "space " << spaces;
    for (size_t i = 0; i < r->frontier.size(); ++i) {
      EXPECT_DOUBLE_EQ(r->frontier[i].cost, e->frontier[i].cost);
      EXPECT_NEAR(r->frontier[i].time_to_train_s, e->frontier[i].time_to_train_s,
                  1e-9 * e->frontier[i].time_to_train_s);
    }
    // The bound the pruning relies on: no plan beats it.
    for (const DesignPoint& p : e->frontier) {
      EXPECT_LE(p.tokens_per_s, p.bound_tokens_per_s * (1 + 1e-9));
    }
    for (const DesignPoint& p : e->best) {
      EXPECT_LE(p.tokens_per_s, p.bound_tokens_per_s * (1 + 1e-9));
    }
  }
  EXPECT_GE(spaces, kSpaces * 5 / 8);
  EXPECT_EQ(within, spaces);
  std::printf(
      "fleet design: %d random spaces, best within 1%% of exhaustive in %d; planned %lld "
      "mixes (best first alone %lld, exhaustive %lld)\n",
      spaces, within, static_cast<long long>(planned), static_cast<long long>(best_only_planned),
      static_cast<long long>(exhaustive_planned));
}

TEST(FleetDesignTest, CoarseLatticeRefinesToTheWholeNodeOptimum) {
  // One kind, 0-40 single-device nodes, a budget that allows 29: the lattice has 9 counts (step
  // 5); the refinement must reach the whole-node optimum that exhaustive enumeration finds.
  auto space = ParseDesignSpace(R"(name: one
pricing: capital
objective: time_to_train
kinds:
  - device: A100-80G
    devices_per_node: 1
    max_nodes: 40
    price_usd: 10000
constraints:
  budget_usd: 295000
)",
                                "one.yaml", Catalog());
  ASSERT_TRUE(space.ok()) << space.status();
  const ModelSpec model = testing::MakeModel(4, 1024, 8, 1024);
  DesignOptions options;
  options.threads = 2;
  options.top = 1;
  options.frontier = false;
  auto designer = FleetDesigner::Create(*space, model, testing::Job(29 * 4)).value();
  auto r = designer->Search(options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->stats.coarse);
  options.exhaustive = true;
  auto e = FleetDesigner::Create(*space, model, testing::Job(29 * 4)).value()->Search(options);
  ASSERT_TRUE(e.ok());
  EXPECT_GE(r->best.front().objective, e->best.front().objective * 0.99);
  EXPECT_LT(r->stats.planned, e->stats.planned);
  // The planner is not monotone in the device count (whole samples per replica), so the best is
  // not simply the largest affordable fleet; it is off the lattice (0, 5, ..., 40) either way.
  EXPECT_EQ(r->best.front().nodes, e->best.front().nodes);
  EXPECT_NE(r->best.front().nodes[0] % 5, 0);
}

}  // namespace
}  // namespace tangram::partitioner
