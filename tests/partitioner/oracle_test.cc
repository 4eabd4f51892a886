// auto and hetero-pipeline against the exhaustive oracle on small random cases (≤ 8 devices,
// ≤ 16 decoder layers), and the baseline never beating auto.
#include <cstdio>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "partitioner/strategy.h"
#include "tests/foundation/sample_count.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using sampling::SampleCount;
using testing::Job;
using testing::MakeCost;
using testing::MakeFleet;
using testing::MakeModel;

const char* kKinds[] = {"H200", "H20", "A100-80G", "Ascend910B", "L40S"};

// A random fleet of ≤ 8 devices in ≤ 3 node groups, a model of ≤ `max_layers` blocks.
struct SmallCase {
  std::string fleet;
  ModelSpec model;
  TrainingSpec job;
};

SmallCase RandomCase(std::mt19937& rng, int max_layers) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  SmallCase c;
  int devices = 0;
  const int groups = pick(1, 3);
  for (int g = 0; g < groups && devices < 8; ++g) {
    const int per_node = std::min(8 - devices, pick(0, 2) == 0 ? 1 : pick(1, 2) * 2);
    const int count = std::max(1, std::min((8 - devices) / per_node, pick(1, 2)));
    if (!c.fleet.empty()) c.fleet += ",";
    absl::StrAppend(&c.fleet, kKinds[pick(0, 4)], ":", per_node, "x", count);
    devices += per_node * count;
  }
  const int heads = 8 * pick(1, 4);
  c.model = MakeModel(pick(2, max_layers), heads * 64 * pick(1, 4), heads, 256 << pick(0, 3),
                      1000 * pick(8, 64), pick(0, 1) == 1);
  c.job = Job(pick(8, 64), 1 << pick(0, 2), pick(0, 3), static_cast<Recompute>(pick(0, 2)));
  return c;
}

double Step(const CostModel& cost, const char* strategy) {
  auto plan = MakePlan(cost, strategy);
  return plan.ok() ? plan->predicted.step_time_s : -1;
}

struct OracleStats {
  int cases = 0, within_1pct = 0, hetero_cases = 0, hetero_ok = 0;
  double worst = 1;
};

void PrintPlans(const CostModel& cost) {
  for (const char* n : {"oracle", "auto"}) {
    auto p = MakePlan(cost, n);
    std::printf("  %s: tp%d pp%d dp%d mb%lld step %.4f pipe %.4f ar %.4f opt %.4f |", n, p->tp,
                p->pp, p->dp, (long long)p->replicas[0].micro_batch_size, p->predicted.step_time_s,
                p->predicted.pipeline_s, p->predicted.exposed_allreduce_s,
                p->predicted.optimizer_s);
    for (auto& st : p->stages) {
      std::printf(" [%lld,%lld)", (long long)st.layer_begin, (long long)st.layer_end);
      for (auto& cell : st.cells) std::printf(" %s", cell.kind.c_str());
    }
    for (auto& r : p->replicas) std::printf(" s%lld", (long long)r.samples);
    std::printf("\n");
  }
}

// Draws random small cases (up to `max_layers(draw)` decoder layers) until `feasible` have a plan
// or `draws` were drawn, and compares auto and hetero-pipeline with the oracle on each: auto never
// worse than 5 % or than uniform, hetero-pipeline (a narrower family) never better than the oracle.
// ORACLE_DEBUG=1 prints every case auto misses by more than 1 %; ORACLE_CASE=N runs draw N alone.
template <typename MaxLayers>
OracleStats CompareWithOracle(int feasible, int draws, MaxLayers max_layers) {
  std::mt19937 rng(20240607);
  OracleStats st;
  for (int i = 0; st.cases < feasible && i < draws; ++i) {
    SmallCase c = RandomCase(rng, max_layers(i));
    if (getenv("ORACLE_CASE") && atoi(getenv("ORACLE_CASE")) != i) continue;
    CostModel cost = MakeCost(MakeFleet(c.fleet), c.model, c.job);
    const double oracle = Step(cost, "oracle");
    const double best = Step(cost, "auto");
    const double uniform = Step(cost, "uniform");
    EXPECT_EQ(oracle < 0, best < 0) << c.fleet << " " << c.model.name;
    if (oracle < 0 || best < 0) continue;
    ++st.cases;
    const double ratio = best / oracle;
    st.worst = std::max(st.worst, ratio);
    st.within_1pct += ratio <= 1.01;
    EXPECT_LE(ratio, 1.05) << c.fleet << " " << c.model.name << " batch " << c.job.global_batch;
    if (ratio > 1.01 && getenv("ORACLE_DEBUG")) {
      std::printf("case %d: %s %s batch %lld mb %lld ratio %.4f\n", i, c.fleet.c_str(),
                  c.model.name.c_str(), (long long)c.job.global_batch, (long long)c.job.micro_batch,
                  ratio);
      PrintPlans(cost);
    }
    if (uniform > 0) {
      EXPECT_LE(best, uniform * (1 + 1e-9)) << c.fleet;
    }
    const double hetero = Step(cost, "hetero-pipeline");
    if (hetero > 0) {
      ++st.hetero_cases;
      st.hetero_ok += hetero >= oracle * (1 - 1e-9);
      if (hetero < oracle * (1 - 1e-9) && getenv("ORACLE_DEBUG")) {
        std::printf("case %d: hetero-pipeline %.6f beats the oracle %.6f: %s %s\n", i, hetero,
                    oracle, c.fleet.c_str(), c.model.name.c_str());
      }
    }
  }
  std::printf(
      "auto vs oracle: %d feasible cases, %d within 1%% (%.1f%%), worst %.4f; "
      "hetero-pipeline >= oracle in %d of %d\n",
      st.cases, st.within_1pct, 100.0 * st.within_1pct / std::max(st.cases, 1), st.worst,
      st.hetero_ok, st.hetero_cases);
  return st;
}

TEST(OracleTest, AutoIsWithinTolerancesOfTheOracleOnRandomSmallCases) {
  // 150 draws (50 under the sanitizers), the last ten with up to 16 decoder layers.
  constexpr int kDraws = SampleCount(150);
  OracleStats st =
      CompareWithOracle(kDraws, kDraws, [](int draw) { return draw < kDraws - 10 ? 8 : 16; });
  EXPECT_GE(st.cases, kDraws * 2 / 5);
  EXPECT_GE(st.within_1pct, 0.95 * st.cases);
  EXPECT_EQ(st.hetero_ok, st.hetero_cases);
}

// The quality target: on 500 random small cases, auto within 1 % of the oracle in >= 99 % of them
// and never worse than 5 %; hetero-pipeline never better than the oracle. Draws cases until 500
// are feasible (a fixed seed: deterministic). ORACLE_DEBUG=1 prints the misses. Under the
// sanitizers the first 125 of those cases, held to the same targets.
TEST(OracleTest, AutoMeetsItsQualityTargetsOnFiveHundredSmallCases) {
  constexpr int kFeasibleCases = SampleCount(500);
  // One case in ten has up to 16 decoder layers (the oracle's limit), the rest up to 8.
  OracleStats st = CompareWithOracle(kFeasibleCases, 4 * kFeasibleCases,
                                     [](int draw) { return draw % 10 == 9 ? 16 : 8; });
  EXPECT_EQ(st.cases, kFeasibleCases);
  EXPECT_GE(st.within_1pct, 0.99 * st.cases);
  EXPECT_LE(st.worst, 1.05);
  EXPECT_EQ(st.hetero_ok, st.hetero_cases);
}

// The smallest exact predicted step (CostModel::Evaluate) over every pinned layout tp × pp × dp
// that uses the whole fleet and fits, each built as `uniform` builds a pinned layout (equal
// blocks per stage, equal samples, Megatron's rank order: a stage's replicas side by side);
// -1 when none fits. `what` receives the winner.
double BestPinned(const CostModel& cost, std::string* what) {
  const int64_t devices = static_cast<int64_t>(cost.slots().size());
  double best = -1;
  for (int tp : {1, 2, 4, 8}) {
    for (int pp = 1; pp <= devices / tp; ++pp) {
      if (devices % (tp * pp) != 0) continue;
      TrainingSpec t = cost.training();
      t.layout.tp = tp;
      t.layout.pp = pp;
      t.layout.dp = static_cast<int>(devices / (tp * pp));
      auto pinned = CostModel::Create(cost.fleet(), cost.model(), t);
      if (!pinned.ok()) continue;
      auto plan = MakePlan(*pinned, "uniform");
      if (!plan.ok()) continue;
      if (best < 0 || plan->predicted.step_time_s < best) {
        best = plan->predicted.step_time_s;
        *what = absl::StrCat("tp ", tp, " pp ", pp, " dp ", *t.layout.dp);
      }
    }
  }
  return best;
}

// The brute-force property behind issue 10's "auto picks a layout that measured worse": on random
// small fleets (≤ 8 devices, nodes of 1, 2 or 4 of them, so a node can hold a whole pipeline or a
// whole data-parallel group), auto's predicted step is never above the exact predicted step of
// any pinned layout, nor is the oracle's.
TEST(OracleTest, AutoAndOracleBeatEveryPinnedLayoutOnRandomSmallCases) {
  std::mt19937 rng(20261130);
  constexpr int kDraws = SampleCount(120);  // 50 under the sanitizers
  int compared = 0;
  for (int i = 0; i < kDraws; ++i) {
    SmallCase c = RandomCase(rng, 8);
    CostModel cost = MakeCost(MakeFleet(c.fleet), c.model, c.job);
    std::string what;
    const double pinned = BestPinned(cost, &what);
    if (pinned < 0) continue;
    ++compared;
    const double best = Step(cost, "auto");
    const double oracle = Step(cost, "oracle");
    EXPECT_LE(best, pinned * (1 + 1e-9))
        << "case " << i << ": " << c.fleet << " " << c.model.name << " batch " << c.job.global_batch
        << " mb " << c.job.micro_batch << ": pinned " << what;
    EXPECT_LE(oracle, pinned * (1 + 1e-9)) << "case " << i << ": " << c.fleet;
    if (best > pinned * (1 + 1e-9) && getenv("ORACLE_DEBUG")) PrintPlans(cost);
  }
  std::printf("auto and oracle vs the best pinned layout: %d cases with a pinned layout\n",
              compared);
  EXPECT_GE(compared, kDraws / 2);
}

TEST(OracleTest, OracleAgreesWithHeteroPipelineOnATwoKindPipeline) {
  // Two nodes of different speed, pipeline pinned: the exact balance is the oracle's optimum.
  TrainingSpec job = Job(32);
  job.layout.dp = 1;
  job.layout.tp = 4;
  // FFN width 5632 (Llama's rounding of 8/3 · 2048 = 5461 up to a multiple of 256): a pinned tp
  // must divide it (CheckPinnedTp).
  ModelSpec model = MakeModel(16, 2048, 16, 2048);
  model.ffn_hidden = 5632;
  CostModel cost = MakeCost(MakeFleet("H200:4x1,A100-80G:4x1"), model, job);
  const double oracle = Step(cost, "oracle");
  const double hetero = Step(cost, "hetero-pipeline");
  ASSERT_GT(oracle, 0);
  EXPECT_NEAR(hetero / oracle, 1.0, 0.01);
}

TEST(OracleTest, RefusesLargeCases) {
  CostModel cost = MakeCost(MakeFleet("H100:8x2"), MakeModel(8, 1024, 16, 1024), Job(64));
  auto plan = MakePlan(cost, "oracle");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tangram::partitioner
