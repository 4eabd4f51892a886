// `tangram design` as a user meets it: the shipped quota space end to end (tables, JSON, SVG, a
// written fleet + job that `plan` accepts, a quota sweep), and exit 2 naming file, line and field
// on bad input.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tangram {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
using Result = cli_testing::CliResult;
using cli_testing::Slurp;

// A small space on the quota fleet's kinds: every mix is on the lattice, so it runs in seconds.
constexpr char kSpace[] = R"(name: small
pricing: capital
objective: time_to_train
kinds:
  - {device: H200, devices_per_node: 8, max_nodes: 2, nic_gbps: 400}
  - {device: Ascend910B, devices_per_node: 8, max_nodes: 4, nic_gbps: 200}
constraints:
  budget_usd: 1.2e6
  quotas:
    - {imported: [H200], domestic: [Ascend910B], min_domestic_per_imported: 2}
)";

constexpr char kJob[] = "configs/jobs/quota-mix-llama2-7b.yaml";

class DesignCliTest : public cli_testing::CliFixture {};

TEST_F(DesignCliTest, AnswersTheQuotaQuestionWithTableJsonSvgAndAFleetFile) {
  const std::string space = Write("space.yaml", kSpace);
  const std::string svg = (dir_ / "frontier.svg").string();
  const std::string out_dir = (dir_ / "designed").string();
  Result r = Run("design --threads 2 --job " + std::string(kJob) + " --space " + space + " --svg " +
                 svg + " --write-fleet " + out_dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Best fleets by time_to_train"));
  EXPECT_THAT(r.out, HasSubstr("Pareto frontier (cost vs time to train"));
  EXPECT_THAT(r.out, HasSubstr("binding"));
  EXPECT_THAT(r.out, HasSubstr("Wrote "));
  const std::string plot = Slurp(svg);
  EXPECT_THAT(plot, HasSubstr("<svg"));
  EXPECT_THAT(plot, HasSubstr("</svg>"));
  EXPECT_THAT(plot, HasSubstr("Pareto frontier"));
  // The written job plans as it is.
  Result plan = Run("plan --job " + out_dir + "/small-best-job.yaml");
  EXPECT_EQ(plan.code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("predicted: step"));

  Result j = Run("design --json --threads 2 --job " + std::string(kJob) + " --space " + space);
  ASSERT_EQ(j.code, 0) << j.err;
  nlohmann::json doc = nlohmann::json::parse(j.out);
  ASSERT_FALSE(doc["best"].empty());
  ASSERT_FALSE(doc["frontier"].empty());
  EXPECT_EQ(doc["objective"], "time_to_train");
  // Every mix of this space is on the lattice: the search is exact here.
  EXPECT_FALSE(doc["search"]["coarse"].get<bool>());
  const auto& best = doc["best"][0];
  EXPECT_LE(best["cost_usd"].get<double>(), 1.2e6);
  EXPECT_GT(best["tokens_per_s"].get<double>(), 0);
  EXPECT_LE(best["tokens_per_s"].get<double>(), best["bound_tokens_per_s"].get<double>());
  // The frontier's last point is the fastest fleet, the best by time to train.
  EXPECT_DOUBLE_EQ(doc["frontier"].back()["time_to_train_s"].get<double>(),
                   best["time_to_train_s"].get<double>());
}

TEST_F(DesignCliTest, SweepsTheQuotaRatio) {
  const std::string space = Write("space.yaml", kSpace);
  const std::string svg = (dir_ / "sweep.svg").string();
  Result r = Run("design --threads 2 --job " + std::string(kJob) + " --space " + space +
                 " --sweep-quota 0:2 --svg " + svg);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Quota sweep"));
  EXPECT_THAT(r.out, HasSubstr("cache hits across ratios"));
  EXPECT_THAT(Slurp(svg), HasSubstr("min domestic devices per imported device"));
  Result bad =
      Run("design --job " + std::string(kJob) + " --space " + space + " --sweep-quota 3:1");
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--sweep-quota"));
}

TEST_F(DesignCliTest, BadInputExitsTwoNamingFileLineAndField) {
  std::string text = kSpace;
  text.replace(text.find("max_nodes: 2,"), 13, "max_nodes: 2, price_usd: -1,");
  Result r = Run("design --job " + std::string(kJob) + " --space " + Write("neg.yaml", text));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("neg.yaml:5:"));
  EXPECT_THAT(r.err, HasSubstr("kinds[0].price_usd: expected a number > 0"));

  text = kSpace;
  text.replace(text.find("budget_usd: 1.2e6"), 17, "budget_usd: 1.0e5");
  r = Run("design --job " + std::string(kJob) + " --space " + Write("poor.yaml", text));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("no mix of whole nodes satisfies every constraint"));
  EXPECT_THAT(r.err, HasSubstr("budget: the cheapest fleet"));

  // A job without train_tokens; an unknown objective.
  const fs::path source(TANGRAM_SOURCE_DIR);
  std::string job = Slurp(source / kJob);
  job.replace(job.find("train_tokens:"), 13, "# train_tokens:");
  job.replace(job.find("../fleets/"), 10, (source / "configs/fleets/").string());
  job.replace(job.find("../models/"), 10, (source / "configs/models/").string());
  r = Run("design --job " + Write("job.yaml", job) + " --space " + Write("ok.yaml", kSpace));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("job.yaml: train_tokens: required by `tangram design`"));
  r = Run("design --job " + std::string(kJob) + " --space " + Write("ok.yaml", kSpace) +
          " --objective speed");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown objective \"speed\""));
}

// --point without --write-fleet chose a row nothing would write: ignored, exit 0.
TEST_F(DesignCliTest, PointWithoutWriteFleetIsAUsageError) {
  Result r = Run("design --job " + std::string(kJob) + " --space " + Write("ok.yaml", kSpace) +
                 " --point 1");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--point requires --write-fleet"));
}

}  // namespace
}  // namespace tangram
