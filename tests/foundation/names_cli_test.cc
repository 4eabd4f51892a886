// Strategy, schedule, allreduce algorithm and collective op names at the edges: a job file's
// strategy arrives as the enum and leaves as its name in the plan; a misspelt name on the command
// line exits 2 naming the option, with the known names and a suggestion, before anything runs.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "tests/foundation/cli_fixture.h"

namespace tangram {
namespace {

using ::testing::HasSubstr;

class NamesCliTest : public cli_testing::CliFixture {
 protected:
  // A copy of the tiny shipped job with `strategy: <strategy>`, next to the shipped fleet/model.
  std::string Job(const std::string& strategy) {
    const std::string configs = std::string(TANGRAM_SOURCE_DIR) + "/configs";
    return Write("job.yaml", "name: names\nfleet: " + configs + "/fleets/local-cpu.yaml\nmodel: " +
                                 configs + "/models/tiny-gpt.yaml\nglobal_batch: 8\n" +
                                 "micro_batch: 1\nprecision: fp32\nzero_stage: 0\n" +
                                 "recompute: none\nstrategy: " + strategy +
                                 "\ntransport: sim\nsteps: 1\ncheckpoint_dir: ckpt\n");
  }
};

TEST_F(NamesCliTest, JobStrategyIsTheEnumAndThePlanSaysItsName) {
  const std::string path = Job("proportional");
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  absl::StatusOr<orchestrator::JobConfig> job = orchestrator::LoadJob(path, *catalog);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->strategy, partitioner::StrategyKind::kProportional);
  cli_testing::CliResult r = Run("plan --job " + path + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"strategy\": \"proportional\""));
}

TEST_F(NamesCliTest, MisspeltJobStrategyIsRefusedWithASuggestion) {
  cli_testing::CliResult r = Run("validate " + Job("hetero_pipeline"));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("did you mean \"hetero-pipeline\"?"));
}

TEST_F(NamesCliTest, ScheduleFlagReachesTheSimulation) {
  cli_testing::CliResult r = Run("simulate --job " + Job("uniform") + " --schedule gpipe --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"schedule\": \"gpipe\""));
  EXPECT_THAT(r.out, HasSubstr("\"strategy\": \"uniform\""));
}

TEST_F(NamesCliTest, MisspeltFlagsExitTwoNamingTheOption) {
  struct Case {
    std::string args, expected;
  };
  for (const Case& c : {
           Case{"plan --strategy unifrom",
                "--strategy: unknown strategy \"unifrom\" (known: auto, "
                "hetero-pipeline, proportional, uniform, oracle); did "
                "you mean \"uniform\"?"},
           Case{"train --strategy orcale", "--strategy: unknown strategy \"orcale\""},
           Case{"simulate --schedule 1fb1", "did you mean \"1f1b\"?"},
           Case{"compare --schedule interleave", "did you mean \"interleaved\"?"},
           Case{"simulate --allreduce intra-node",
                "--allreduce: expected auto | ring | hierarchical"},
           Case{"bench collectives --algo rign", "did you mean \"ring\"?"},
           Case{"bench collectives --op allgathr", "did you mean \"allgather\"?"},
       }) {
    cli_testing::CliResult r = Run(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.expected)) << c.args;
  }
}

}  // namespace
}  // namespace tangram
