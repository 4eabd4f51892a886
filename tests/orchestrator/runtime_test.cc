// The training runtime on the simulated transport (ranks as threads): distributed runs reach the
// serial reference's parameters under data parallelism with uneven shares, uneven pipelines and
// both; resume (same plan, other rank count); re-balancing moves layers without changing the math;
// bad plans, bad checkpoints and bad fleets are errors on every rank, never hangs.
#include <cstdio>
#include <fstream>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "collectives/link_model.h"
#include "collectives/sim/sim_world.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "orchestrator/model/checkpoint.h"
#include "orchestrator/model/checksum.h"
#include "orchestrator/runtime/coordinator.h"
#include "orchestrator/runtime/train_job.h"
#include "runtime_test_util.h"

namespace tangram::testing {
namespace {

using orchestrator::RunTraining;
using orchestrator::TrainLaunch;
using orchestrator::TrainOptions;
using orchestrator::TrainResult;
using ::testing::HasSubstr;

struct EquivalenceCase {
  const char* name;
  int ranks;
  std::vector<int64_t> bounds;
  std::vector<int64_t> shares;
  int64_t micro_batch;
};

void PrintTo(const EquivalenceCase& c, std::ostream* os) { *os << c.name; }

class EquivalenceTest : public ::testing::TestWithParam<EquivalenceCase> {};

TEST_P(EquivalenceTest, MatchesSerialReference) {
  const EquivalenceCase& c = GetParam();
  TempJob job(c.ranks);
  TrainOptions options;
  options.plan_path = job.Write(
      "plan.json", partitioner::PlanToJsonString(MakeTestPlan(c.bounds, c.shares, c.micro_batch)));
  options.steps = 3;
  auto result = Train(job, c.ranks, options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<double> serial_losses;
  ExpectSameParameters(SerialParameters(3, &serial_losses), Flatten(result->layers));
  ASSERT_EQ(result->losses.size(), 3u);
  for (int s = 0; s < 3; ++s)
    EXPECT_NEAR(result->losses[s], serial_losses[s], 1e-4) << "step " << s;
}

INSTANTIATE_TEST_SUITE_P(Plans, EquivalenceTest,
                         ::testing::Values(EquivalenceCase{"Dp2Uneven", 2, {0, 4}, {5, 3}, 2},
                                           EquivalenceCase{"Dp3Uneven", 3, {0, 4}, {4, 3, 1}, 2},
                                           EquivalenceCase{"Dp4Uneven", 4, {0, 4}, {3, 2, 2, 1}, 2},
                                           EquivalenceCase{"Pp2Uneven", 2, {0, 1, 4}, {8}, 2},
                                           EquivalenceCase{
                                               "Pp3PartialMicroBatch", 3, {0, 2, 3, 4}, {8}, 3},
                                           EquivalenceCase{"Pp2Dp2", 4, {0, 3, 4}, {5, 3}, 2},
                                           EquivalenceCase{"Pp2Dp2Idle", 5, {0, 2, 4}, {6, 2}, 3}),
                         [](const auto& info) { return info.param.name; });

TEST(RuntimeTest, PlannedFromMeasurementsMatchesSerialAndLossFalls) {
  TempJob job(3, {1, 1, 2});
  TrainOptions options;
  options.steps = 8;
  options.metrics_path = job.dir() + "/metrics.jsonl";
  auto result = Train(job, 3, options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<double> serial_losses;
  ExpectSameParameters(SerialParameters(8, &serial_losses), Flatten(result->layers));
  EXPECT_LT(result->losses.back(), result->losses.front() - 0.5);
  ASSERT_EQ(result->reports.size(), 3u);
  EXPECT_EQ(result->reports[2].emulate_slowdown, 2);
  EXPECT_GT(result->reports[0].measured_tflops, 0);
  std::ifstream metrics(options.metrics_path);
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["step"], ++lines);
    EXPECT_EQ(j["ranks"].size(), 3u);
    EXPECT_GE(j["ranks"][0]["compute_s"].get<double>(), 0);
  }
  EXPECT_EQ(lines, 8);
}

// `--measured-fleet`: the fleet the run planned on, written as a fleet file, reads back (one node
// per rank, each with its layer times) and simulates the run's plan to the step time the run
// simulated; a path that cannot be written stops every rank with an error naming it.
TEST(RuntimeTest, MeasuredFleetFileSimulatesAsTheRunDid) {
  TempJob job(3, {1, 2, 1});
  TrainOptions options;
  options.steps = 2;
  options.measured_fleet_path = job.dir() + "/measured.yaml";
  auto result = Train(job, 3, options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::ifstream in(options.measured_fleet_path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto fleet = partitioner::ParseFleet(text, options.measured_fleet_path, TempJob::Catalog());
  ASSERT_TRUE(fleet.ok()) << fleet.status() << "\n" << text;
  ASSERT_EQ(fleet->groups.size(), 3u);
  for (const auto& g : fleet->groups)
    EXPECT_EQ(g.layer_times.size(), 3u);  // embedding, block, head
  ASSERT_TRUE(fleet->measured.has_value());
  EXPECT_EQ(fleet->measured->ranks, 3);
  auto simulated = orchestrator::SimulateStepTime(*fleet, job.Load(), result->initial_plan);
  ASSERT_TRUE(simulated.ok()) << simulated.status();
  EXPECT_NEAR(*simulated, result->simulated_step_time_s, 1e-4 * result->simulated_step_time_s);

  options.measured_fleet_path = job.dir() + "/no/such/dir/measured.yaml";
  auto failed = Train(job, 3, options);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("no/such/dir/measured.yaml"));
}

TEST(RuntimeTest, ResumeWithSamePlanMatchesUninterrupted) {
  TempJob job(2);
  TrainOptions options;
  options.plan_path =
      job.Write("plan.json", partitioner::PlanToJsonString(MakeTestPlan({0, 2, 4}, {8})));
  options.steps = 2;
  ASSERT_TRUE(Train(job, 2, options).ok());
  options.steps = 4;
  options.resume = true;
  auto resumed = Train(job, 2, options);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->first_step, 2);
  EXPECT_EQ(resumed->losses.size(), 2u);
  ExpectSameParameters(SerialParameters(4), Flatten(resumed->layers));
}

// A checkpoint in the format before safetensors (manifest version 1, layer-*.bin in LayerState's
// encoding) resumes; the run's next checkpoint is written in the new format.
TEST(RuntimeTest, ResumesFromAVersion1Checkpoint) {
  TempJob job(2);
  TrainOptions options;
  options.plan_path =
      job.Write("plan.json", partitioner::PlanToJsonString(MakeTestPlan({0, 2, 4}, {8})));
  options.steps = 2;
  ASSERT_TRUE(Train(job, 2, options).ok());
  // Rewrite step 2 as Tangram wrote it before.
  const std::string dir = job.dir() + "/ckpt", step_dir = train::StepDirectory(dir, 2);
  auto current = train::LoadCheckpoint(dir, 2);
  ASSERT_TRUE(current.ok()) << current.status();
  nlohmann::json manifest = {{"format", "tangram-checkpoint"}, {"version", 1}, {"step", 2}};
  for (const train::LayerState& state : current->layers) {
    const std::string bytes = train::SerializeLayerState(state);
    const std::string file = "layer-" + state.layer + ".bin";
    std::ofstream(step_dir + "/" + file, std::ios::binary) << bytes;
    std::remove((step_dir + "/layer-" + state.layer + ".safetensors").c_str());
    manifest["layers"].push_back({{"name", state.layer},
                                  {"file", file},
                                  {"bytes", bytes.size()},
                                  {"fnv1a64", absl::StrFormat("%016x", train::Fnv1a64(bytes))}});
  }
  std::ofstream(step_dir + "/MANIFEST.json") << manifest.dump();

  options.steps = 4;
  options.resume = true;
  auto resumed = Train(job, 2, options);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->first_step, 2);
  ExpectSameParameters(SerialParameters(4), Flatten(resumed->layers));
  std::ifstream in(train::StepDirectory(dir, 4) + "/MANIFEST.json");
  const nlohmann::json written = nlohmann::json::parse(in);
  EXPECT_EQ(written["version"], 2);
  EXPECT_THAT(written["layers"][0]["file"].get<std::string>(), HasSubstr(".safetensors"));
}

TEST(RuntimeTest, ResumeOnAnotherRankCountAndPlan) {
  TempJob two(2), three(3);
  TrainOptions options;
  options.checkpoint_dir = two.dir() + "/shared-ckpt";
  options.plan_path =
      two.Write("plan.json", partitioner::PlanToJsonString(MakeTestPlan({0, 4}, {5, 3})));
  options.steps = 2;
  ASSERT_TRUE(Train(two, 2, options).ok());
  options.plan_path =
      three.Write("plan.json", partitioner::PlanToJsonString(MakeTestPlan({0, 1, 3, 4}, {8})));
  options.steps = 4;
  options.resume = true;
  auto resumed = Train(three, 3, options);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ExpectSameParameters(SerialParameters(4), Flatten(resumed->layers));
}

TEST(RuntimeTest, RebalancingMovesLayersAndKeepsTheMath) {
  // Pinned to a 3-stage pipeline so that a re-plan must move stage boundaries (layers).
  TempJob job(3, {}, "auto", "layout:\n  pp: 3\n");
  TrainOptions options;
  options.steps = 6;
  options.rebalance_patience = 1;
  // The first plan from the fleet file's (equal) figures, so that calibration noise cannot already
  // have put both decoder blocks on rank 0; re-balancing then works on measured throughput.
  options.catalog_throughput = true;
  // EMULATION: ranks 1 and 2 become 12x slower at step 2. Whichever stages they hold, one of them
  // then holds a decoder block that the fast rank 0 should take over.
  options.slowdown_changes = {{1, 1, 12.0}, {2, 1, 12.0}};
  auto result = Train(job, 3, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(result->replans, 1);
  EXPECT_GE(result->layers_moved, 1);
  ASSERT_FALSE(result->replan_log.empty());
  // Measurement noise may trigger an earlier re-plan; one of them must hand layers to fast rank 0.
  EXPECT_THAT(result->replan_log, ::testing::Contains(HasSubstr("->0")));
  EXPECT_THAT(result->replan_log, ::testing::Each(HasSubstr("drifted")));
  ExpectSameParameters(SerialParameters(6), Flatten(result->layers));
}

// Trains `job` on a sim world with timed links (virtual clock, so that the link probe measures
// something), one TrainOnRank per rank; returns every rank's result.
std::vector<absl::StatusOr<TrainResult>> TrainOnTimedLinks(const TempJob& job, int ranks,
                                                           TrainOptions options) {
  options.collect_layers = true;
  options.checkpoint_dir = job.dir() + "/ckpt";
  collectives::SimOptions sim;
  sim.ranks = ranks;
  sim.timeout = absl::Seconds(30);
  sim.links = collectives::LinkModel::Uniform(ranks, {.alpha_s = 5e-6, .bandwidth_Bps = 1e9});
  std::vector<absl::StatusOr<TrainResult>> results(ranks, absl::UnknownError("not run"));
  auto world = collectives::SimWorld::Create(sim);
  EXPECT_TRUE(world.ok()) << world.status();
  if (!world.ok()) return results;
  const orchestrator::JobConfig config = job.Load();
  (*world)->Run([&](collectives::Communicator& comm) {
    auto result = orchestrator::TrainOnRank(comm, config, TempJob::Catalog(), options);
    absl::Status status = result.status();
    results[comm.rank()] = std::move(result);
    return status;
  });
  return results;
}

// Steps slower than predicted re-probe the links on every rank and re-plan on them, without
// changing the math. slow_step_margin -1 counts every step as slow (wall-clock step times are not
// asserted), so the warning comes every 2 steps: after steps 2, 4 and 6 the links are re-probed,
// after step 8 (the last) the run's 3 re-probes are spent.
TEST(RuntimeTest, SlowStepsReprobeLinksOnEveryRankAndKeepTheMath) {
  // A 3-stage pipeline with one slower rank, so that a re-plan can move stage boundaries.
  TempJob job(3, {1, 1, 2}, "auto", "layout:\n  pp: 3\n");
  TrainOptions options;
  options.steps = 8;
  options.slow_step_margin = -1;
  options.slow_step_patience = 2;
  options.max_reprobes = 3;
  // The sim's links do not change: re-plan on every re-probe all the same.
  options.reprobe_link_change = -1;
  auto results = TrainOnTimedLinks(job, 3, options);
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r].status();
    EXPECT_EQ(results[r]->reprobes, 3) << "rank " << r;
  }
  const TrainResult& root = *results[0];
  EXPECT_FALSE(root.links.empty());
  ASSERT_EQ(root.warnings.size(), 4u);  // a re-probe starts a new streak
  EXPECT_THAT(root.warnings.back(), HasSubstr("re-probes are spent"));
  ASSERT_EQ(root.reprobe_log.size(), 3u);
  EXPECT_THAT(root.reprobe_log, ::testing::Each(HasSubstr("re-probed links after 2 slow steps")));
  EXPECT_THAT(root.reprobe_log, ::testing::Each(HasSubstr("re-plan on them")));
  EXPECT_THAT(root.replan_log, ::testing::Contains(HasSubstr("links re-probed")));
  ExpectSameParameters(SerialParameters(8), Flatten(root.layers));
}

// Links that measure as they did when the plan was made: re-probed, but no re-plan on them.
TEST(RuntimeTest, ReprobeOnUnchangedLinksKeepsThePlan) {
  TempJob job(2);
  TrainOptions options;
  options.steps = 4;
  options.slow_step_margin = -1;
  options.slow_step_patience = 2;
  options.rebalance = false;
  auto results = TrainOnTimedLinks(job, 2, options);
  for (int r = 0; r < 2; ++r) {
    ASSERT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r].status();
    EXPECT_EQ(results[r]->reprobes, 1) << "rank " << r;
    EXPECT_EQ(results[r]->replans, 0) << "rank " << r;
  }
  ASSERT_EQ(results[0]->reprobe_log.size(), 1u);
  EXPECT_THAT(results[0]->reprobe_log[0], HasSubstr("re-plan: none (every link within 50%"));
  ExpectSameParameters(SerialParameters(4), Flatten(results[0]->layers));
}

// --no-link-probe: the slow streak is reported (once) but nothing is probed.
TEST(RuntimeTest, NoLinkProbeMeansNoReprobe) {
  TempJob job(2);
  TrainOptions options;
  options.steps = 4;
  options.slow_step_margin = -1;
  options.slow_step_patience = 2;
  options.link_probe = false;
  auto results = TrainOnTimedLinks(job, 2, options);
  for (int r = 0; r < 2; ++r) {
    ASSERT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r].status();
    EXPECT_EQ(results[r]->reprobes, 0) << "rank " << r;
  }
  EXPECT_EQ(results[0]->warnings.size(), 1u);
  EXPECT_TRUE(results[0]->reprobe_log.empty());
  ExpectSameParameters(SerialParameters(4), Flatten(results[0]->layers));
}

TEST(RuntimeTest, PlanForAnotherModelFailsOnEveryRank) {
  TempJob job(2);
  partitioner::Plan plan = MakeTestPlan({0, 4}, {4, 4});
  plan.layer_names = {"embedding", "block.0", "block.1", "block.2"};
  TrainOptions options;
  options.plan_path = job.Write("plan.json", partitioner::PlanToJsonString(plan));
  auto result = Train(job, 2, options);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("layer list"));
}

TEST(RuntimeTest, MoreRanksThanFleetDevicesIsAClearError) {
  TempJob job(2);
  auto result = Train(job, 3, TrainOptions());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("describes 2 devices but 3 ranks"));
}

TEST(RuntimeTest, CheckpointDirectoryIsCreatedAndWriteErrorsStopEveryRank) {
  TempJob job(2);
  TrainOptions options;
  options.plan_path =
      job.Write("plan.json", partitioner::PlanToJsonString(MakeTestPlan({0, 2, 4}, {8})));
  options.steps = 1;
  options.checkpoint_dir = job.dir() + "/not/yet/there";
  ASSERT_TRUE(Train(job, 2, options).ok());
  EXPECT_TRUE(train::LoadLatest(options.checkpoint_dir).ok());
  // Under a regular file no directory can be made: both ranks fail, at once (not at the timeout).
  options.checkpoint_dir = job.path() + "/ckpt";
  absl::Time start = absl::Now();
  auto result = Train(job, 2, options);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("cannot create directory"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(RuntimeTest, CorruptedCheckpointNamesTheFile) {
  TempJob job(2);
  TrainOptions options;
  options.plan_path =
      job.Write("plan.json", partitioner::PlanToJsonString(MakeTestPlan({0, 4}, {4, 4})));
  options.steps = 1;
  ASSERT_TRUE(Train(job, 2, options).ok());
  std::string file = train::StepDirectory(job.dir() + "/ckpt", 1) + "/layer-block.0.safetensors";
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  options.steps = 2;
  options.resume = true;
  auto result = Train(job, 2, options);
  ASSERT_FALSE(result.ok());
  // Refused like a missing checkpoint (one exit code, 2), naming the damaged file.
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("layer-block.0.safetensors"));
}

// Rank 0's progress is info: at level warn a run logs none of it (and at info, its step lines).
TEST(RuntimeTest, LogLevelWarnPrintsNoInfoLines) {
  TempJob job(2);
  TrainOptions options;
  options.steps = 2;
  const logging::Level saved = logging::GetLevel();
  std::vector<std::pair<logging::Level, std::string>> lines;
  {
    logging::ScopedCapture capture([&](logging::Level level, absl::string_view line) {
      lines.emplace_back(level, std::string(line));
    });
    logging::SetLevel(logging::Level::kWarn);
    ASSERT_TRUE(Train(job, 2, options).ok());
    for (const auto& [level, line] : lines) {
      EXPECT_GE(level, logging::Level::kWarn) << line;
      EXPECT_THAT(line, ::testing::Not(HasSubstr("step "))) << line;
    }
    lines.clear();
    logging::SetLevel(logging::Level::kInfo);
    ASSERT_TRUE(Train(job, 2, options).ok());
  }
  logging::SetLevel(saved);
  int steps = 0;
  for (const auto& [level, line] : lines) steps += line.rfind("step ", 0) == 0;
  EXPECT_EQ(steps, 2);
}

}  // namespace
}  // namespace tangram::testing
