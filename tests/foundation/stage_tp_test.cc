// A tensor-parallel size per pipeline stage (`layout: {tp: [4, 8]}`): the job's validation, the
// plan and its JSON, the cost model against the simulator, memory per stage, and the CPU runtime's
// refusal, on the shipped example configs/jobs/h200-h20-stage-tp.yaml and variants of it.
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli_fixture.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "orchestrator/runtime/coordinator.h"
#include "orchestrator/simulator/simulator.h"
#include "partitioner/plan_json.h"
#include "partitioner/strategy.h"

namespace tangram {
namespace {

constexpr char kJob[] = "configs/jobs/h200-h20-stage-tp.yaml";

std::string Source(const std::string& rel) { return absl::StrCat(TANGRAM_SOURCE_DIR, "/", rel); }

const partitioner::DeviceCatalog& Catalog() {
  static const auto* catalog =
      new partitioner::DeviceCatalog(partitioner::DeviceCatalog::BuiltIn().value());
  return *catalog;
}

// The shipped job with its `layout:` line replaced, parsed as if it sat beside the original
// (relative paths resolve the same).
absl::StatusOr<orchestrator::JobConfig> JobWith(const std::string& layout) {
  std::string text = cli_testing::Slurp(Source(kJob));
  const size_t at = text.find("\nlayout: ") + 1;
  text.replace(at, text.find('\n', at) - at, absl::StrCat("layout: ", layout));
  auto doc = partitioner::YamlDocument::Parse(text, Source(kJob));
  if (!doc.ok()) return doc.status();
  return orchestrator::JobFromDocument(*doc, Catalog());
}

struct Planned {
  partitioner::Plan plan;
  simulator::StepResult sim;
};

Planned PlanAndSimulate(const orchestrator::JobConfig& job) {
  auto cost = partitioner::CostModel::Create(job.fleet, job.model, job.training);
  EXPECT_TRUE(cost.ok()) << cost.status();
  auto plan = partitioner::MakePlan(*cost, job.strategy);
  EXPECT_TRUE(plan.ok()) << plan.status();
  auto sim = simulator::Simulate(*cost, *plan, {});
  EXPECT_TRUE(sim.ok()) << sim.status();
  return {*plan, *sim};
}

TEST(StageTpTest, ShippedJobPlansEachStageAtItsTp) {
  auto job = orchestrator::LoadJob(Source(kJob), Catalog());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->training.layout.stage_tp, (std::vector<int>{2, 2, 8}));
  const Planned p = PlanAndSimulate(*job);
  ASSERT_EQ(p.plan.pp, 3);
  EXPECT_EQ(p.plan.dp, 2);
  EXPECT_EQ(p.plan.tp, 8);  // the largest
  EXPECT_EQ(partitioner::StageTp(p.plan, 0), 2);
  EXPECT_EQ(partitioner::StageTp(p.plan, 1), 2);
  EXPECT_EQ(partitioner::StageTp(p.plan, 2), 8);
  EXPECT_EQ(partitioner::TpText(p.plan), "[2, 2, 8]");
  EXPECT_EQ(partitioner::UsedDeviceCount(p.plan), 24);
  // Megatron order per stage: stages 0 and 1 (two cells each) on the H200 node, stage 2 on the
  // two H20 nodes, one cell per node.
  EXPECT_EQ(p.plan.stages[0].cells[1].devices, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(p.plan.stages[1].cells[0].devices, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(p.plan.stages[2].cells[0].devices.front(), 8);
  EXPECT_EQ(p.plan.stages[2].cells[1].devices.front(), 16);
  EXPECT_EQ(p.plan.stages[1].cells[0].kind, "H200");
  EXPECT_EQ(p.plan.stages[2].cells[0].kind, "H20");
}

// The cost model and the simulator within 5 % on per-stage-tp layouts, and their memory per stage
// identical (the simulator's peak uses the stage's tp too).
TEST(StageTpTest, CostModelAndSimulatorAgree) {
  for (const std::string layout :
       {"{tp: [4, 8], pp: 2, dp: 2}", "{tp: [4, 8]}", "{tp: [2, 2, 8], dp: 2}"}) {
    auto job = JobWith(layout);
    ASSERT_TRUE(job.ok()) << job.status();
    const Planned p = PlanAndSimulate(*job);
    const double ratio = p.sim.step_time_s / p.plan.predicted.step_time_s;
    EXPECT_NEAR(ratio, 1.0, 0.05) << layout;
    for (const simulator::CellResult& c : p.sim.cells) {
      EXPECT_EQ(c.devices.size(), static_cast<size_t>(partitioner::StageTp(p.plan, c.stage)));
      EXPECT_LE(c.peak_memory_gib, p.plan.stages[c.stage].cells[c.replica].memory_gib * (1 + 1e-9))
          << layout << " stage " << c.stage;
    }
  }
}

// A list of equal sizes is the scalar tp: the same plan, the same predicted and simulated step.
TEST(StageTpTest, UniformListEqualsScalar) {
  auto list = JobWith("{tp: [4, 4, 4], pp: 3, dp: 2}");
  auto scalar = JobWith("{tp: 4, pp: 3, dp: 2}");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  const Planned a = PlanAndSimulate(*list), b = PlanAndSimulate(*scalar);
  EXPECT_EQ(partitioner::PlanToJsonString(a.plan, -1), partitioner::PlanToJsonString(b.plan, -1));
  EXPECT_EQ(a.plan.predicted.step_time_s, b.plan.predicted.step_time_s);
  EXPECT_EQ(a.sim.step_time_s, b.sim.step_time_s);
  EXPECT_EQ(a.sim.peak_memory_fraction, b.sim.peak_memory_fraction);
}

// On one kind, the stage at the smaller tp holds more per device (same layers either way); when
// only that stage overflows, the static check names it and the simulator reports the overflow.
TEST(StageTpTest, SmallerTpHoldsMoreAndTheCheckCatchesIt) {
  auto narrow_first = JobWith("{tp: [4, 8], dp: 2}");
  auto wide_first = JobWith("{tp: [8, 4], dp: 2}");
  ASSERT_TRUE(narrow_first.ok() && wide_first.ok());
  // Every node an H20 node, so the two layouts differ only in each stage's tp.
  for (auto* job : {&*narrow_first, &*wide_first}) {
    job->fleet.groups[0] = job->fleet.groups[1];
    job->fleet.groups[0].count = 1;
  }
  const Planned a = PlanAndSimulate(*narrow_first), b = PlanAndSimulate(*wide_first);
  const double a0 = a.plan.stages[0].cells[0].memory_gib, b0 = b.plan.stages[0].cells[0].memory_gib;
  const double a1 = a.plan.stages[1].cells[0].memory_gib, b1 = b.plan.stages[1].cells[0].memory_gib;
  EXPECT_GT(a0, b0);  // stage 0 at tp 4 vs tp 8
  EXPECT_LT(a1, b1);  // stage 1 at tp 8 vs tp 4
  // Reserve enough that a tp-4 stage overflows and a tp-8 one does not.
  partitioner::CostOptions options;
  const double capacity = a.plan.stages[0].cells[0].capacity_gib;
  options.reserved_gib = capacity - (std::max(a0, b1) + std::max(a1, b0)) / 2;
  auto cost = partitioner::CostModel::Create(narrow_first->fleet, narrow_first->model,
                                             narrow_first->training, options);
  ASSERT_TRUE(cost.ok());
  partitioner::Plan plan = a.plan;
  const absl::Status check = cost->Evaluate(&plan);
  EXPECT_EQ(check.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(check.message().find("stage 0"), std::string::npos) << check;
  auto sim = simulator::Simulate(*cost, a.plan, {});
  ASSERT_TRUE(sim.ok()) << sim.status();
  EXPECT_FALSE(sim->fits_memory);
  EXPECT_GT(sim->cells[0].peak_memory_gib, sim->cells[2].peak_memory_gib);
}

TEST(StageTpTest, PlanJsonRoundTripsAndOldPlansRead) {
  auto job = orchestrator::LoadJob(Source(kJob), Catalog());
  ASSERT_TRUE(job.ok()) << job.status();
  const Planned p = PlanAndSimulate(*job);
  const std::string text = partitioner::PlanToJsonString(p.plan, 2);
  EXPECT_NE(text.find("\"tp\": 8"), std::string::npos);
  auto back = partitioner::PlanFromJsonString(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(partitioner::StageTp(*back, 0), 2);
  EXPECT_EQ(partitioner::StageTp(*back, 2), 8);
  EXPECT_EQ(partitioner::PlanToJsonString(*back, 2), text);
  // A plan written before per-stage tp (no stages[].tp) reads with every stage at the plan's tp.
  auto scalar = JobWith("{tp: 4, pp: 3, dp: 2}");
  ASSERT_TRUE(scalar.ok());
  const std::string old = partitioner::PlanToJsonString(PlanAndSimulate(*scalar).plan, 2);
  auto old_plan = partitioner::PlanFromJsonString(old);
  ASSERT_TRUE(old_plan.ok()) << old_plan.status();
  EXPECT_FALSE(partitioner::HasUnequalStageTp(*old_plan));
  EXPECT_EQ(partitioner::StageTp(*old_plan, 2), 4);
  // A stage's cells must match its tp.
  partitioner::Plan bad = *back;
  bad.stages[2].tp = 4;
  EXPECT_FALSE(
      partitioner::ValidatePlan(bad, 24, static_cast<int64_t>(bad.layer_names.size())).ok());
}

// Each error names the file, line and column and what is wrong.
TEST(StageTpTest, ValidationErrors) {
  struct Case {
    std::string layout, expect;
  } cases[] = {
      {"{tp: [4, 8], pp: 3}",
       "h200-h20-stage-tp.yaml:14:14: layout.tp: lists 2 stages but "
       "layout.pp is 3"},
      {"{tp: [4, 3], dp: 2}", "14:18: layout.tp[1]: tp 3 must divide the model's heads (40)"},
      {"{tp: [4, x]}", "14:18: layout.tp[1]: expected an integer in [1, 1024]"},
      {"{tp: [4, 0]}", "layout.tp[1]: expected an integer"},
      {"{tp: [4, 4], dp: 2}", "dp 2 × Σ tp 8 = 16 devices, but the fleet has 24"},
      {"{tp: [8, 8], dp: 2}", "dp 2 × Σ tp 16 = 32 devices, but the fleet has 24"},
      // Stage 1's group would take 4 H200 and 4 H20 devices.
      {"{tp: [4, 8, 4, 8], dp: 1}", "layout.tp[1]: stage 1 replica 0 (devices 4-11) spans two"},
      {"{tp: []}", "layout.tp: expected a non-empty list"},
  };
  for (const Case& c : cases) {
    auto job = JobWith(c.layout);
    ASSERT_FALSE(job.ok()) << c.layout;
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument) << c.layout;
    EXPECT_NE(job.status().message().find(c.expect), std::string::npos)
        << c.layout << ": " << job.status().message();
  }
}

TEST(StageTpTest, RuntimeRefusesUnequalTp) {
  EXPECT_TRUE(orchestrator::CheckRuntimeStageTp({}).ok());
  EXPECT_TRUE(orchestrator::CheckRuntimeStageTp({2, 2, 2}).ok());
  const absl::Status s = orchestrator::CheckRuntimeStageTp({4, 8});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("stage 0 tp 4, stage 1 tp 8"), std::string::npos) << s;
}

class StageTpCliTest : public cli_testing::CliFixture {};

// plan and simulate print each stage's tp; train refuses before any rank starts (exit 2).
TEST_F(StageTpCliTest, PlanSimulatePrintAndTrainRefuses) {
  const cli_testing::CliResult plan = Run(absl::StrCat("plan --job ", kJob));
  EXPECT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("tp [2, 2, 8], pp 3, dp 2"), std::string::npos) << plan.out;
  const cli_testing::CliResult sim = Run(absl::StrCat("simulate --job ", kJob));
  EXPECT_EQ(sim.code, 0) << sim.err;
  EXPECT_NE(sim.out.find("tp [2, 2, 8] pp 3 dp 2"), std::string::npos) << sim.out;
  const cli_testing::CliResult train = Run(absl::StrCat("train --job ", kJob, " --transport sim"));
  EXPECT_EQ(train.code, 2) << train.out << train.err;
  EXPECT_NE(train.err.find("stage 0 tp 2, stage 1 tp 2, stage 2 tp 8"), std::string::npos)
      << train.err;
}

}  // namespace
}  // namespace tangram
