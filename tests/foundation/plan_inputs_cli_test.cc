// A plan file against the inputs it is simulated with, and a pinned interleaved layout through
// every strategy and command (partitioner/plan_inputs.h, GridEvaluator::StageSplits).
#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/foundation/cli_fixture.h"

namespace tangram {
namespace {

using cli_testing::CliFixture;
using ::testing::HasSubstr;
using ::testing::Not;
using Result = cli_testing::CliResult;

constexpr char kFleet[] = R"(name: v100-t4-eth
nodes:
  - {device: V100, devices_per_node: 8, count: 3, nic_gbps: 25}
  - {device: T4, devices_per_node: 4, count: 2, nic_gbps: 25}
)";
constexpr char kLabFleet[] = R"(name: lab
nodes:
  - {device: A100-40G, devices_per_node: 4, count: 2, nic_gbps: 100}
  - {device: RTX4090, devices_per_node: 4, count: 1, nic_gbps: 100}
)";
constexpr char kModel[] = R"(name: gpt-1.3b
layers: 24
hidden: 2048
ffn_hidden: 8192
heads: 16
kv_heads: 16
mlp: gelu
vocab: 50304
seq_len: 2048
)";

class PlanInputsCliTest : public CliFixture {
 protected:
  void SetUp() override {
    CliFixture::SetUp();
    fleet_ = Write("fleet.yaml", kFleet);
    lab_ = Write("lab.yaml", kLabFleet);
    model_ = Write("model.yaml", kModel);
  }
  // A job on `fleet` (a file beside it); `layout` is the job's layout ("" for none).
  std::string Job(const std::string& name, int64_t batch, const std::string& layout,
                  const std::string& fleet = "fleet.yaml") {
    return Write(name, "fleet: " + fleet +
                           "\nmodel: model.yaml\nglobal_batch: " + std::to_string(batch) +
                           "\nmicro_batch: 1\nprecision: fp16\nzero_stage: 1\nrecompute: none\n"
                           "strategy: auto\ntransport: sim\nsteps: 1\ncheckpoint_dir: ckpt\n" +
                           (layout.empty() ? "" : "layout: " + layout + "\n"));
  }
  std::string fleet_, lab_, model_;
};

// Without a job, the plan's own batch sets the bound: the efficiency of a plan for 128 sequences
// is not measured against the default batch of 1024 (it read 626 %).
TEST_F(PlanInputsCliTest, APlanWithoutAJobKeepsItsOwnTrainingSetup) {
  const std::string plan = (dir_ / "lab.json").string();
  const std::string job = Job("lab-job.yaml", 128, "", "lab.yaml");
  Result r = Run("plan --job " + job + " --out " + plan);
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run("--json simulate --plan " + plan + " --fleet " + lab_ + " --model " + model_);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const double efficiency = j.at("efficiency").get<double>();
  EXPECT_GT(efficiency, 0.05);
  EXPECT_LE(efficiency, 1.0);
  EXPECT_LE(j.at("mfu").get<double>(), 1.0);
  EXPECT_LE(j.at("cost_model").at("mfu").get<double>(), 1.0);
}

// A plan for another fleet, or another batch, is refused with every difference named, not laid
// on the first devices of the fleet given.
TEST_F(PlanInputsCliTest, APlanForOtherInputsIsRefused) {
  const std::string plan = (dir_ / "lab.json").string();
  const std::string job = Job("lab-job.yaml", 128, "", "lab.yaml");
  ASSERT_EQ(Run("plan --job " + job + " --out " + plan).code, 0);
  Result r = Run("simulate --plan " + plan + " --job " + Job("other.yaml", 256, ""));
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("fleet: the plan's \"lab\", the job's \"v100-t4-eth\""));
  EXPECT_THAT(r.err, HasSubstr("global_batch: the plan's 128, the job's 256"));
  r = Run("simulate --plan " + plan + " --fleet " + fleet_ + " --model " + model_);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("fleet: the plan's \"lab\""));
  r = Run("simulate --plan " + plan + " --job " + job);  // its own inputs
  EXPECT_EQ(r.code, 0) << r.err;
}

// `validate` checks a plan's structure, not only its JSON: a device used twice, samples that do
// not sum to the batch, a device index no fleet has.
TEST_F(PlanInputsCliTest, ValidateChecksAPlansStructure) {
  const std::string plan = (dir_ / "p.json").string();
  ASSERT_EQ(Run("plan --job " + Job("j.yaml", 64, "") + " --out " + plan).code, 0);
  nlohmann::json j = nlohmann::json::parse(cli_testing::Slurp(plan));
  ASSERT_GE(j["replicas"].size(), 2u);
  nlohmann::json twice = j;
  twice["stages"][0]["cells"][1]["devices"] = twice["stages"][0]["cells"][0]["devices"];
  Result r = Run("validate " + Write("twice.json", twice.dump()));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("used twice"));
  nlohmann::json samples = j;
  samples["replicas"][0]["samples"] = samples["replicas"][0]["samples"].get<int64_t>() + 5;
  r = Run("validate " + Write("samples.json", samples.dump()));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("the global batch is 64"));
  nlohmann::json huge = j;
  huge["stages"][0]["cells"][0]["devices"][0] = int64_t{1} << 40;
  r = Run("validate " + Write("huge.json", huge.dump()));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("out of range"));
  EXPECT_EQ(Run("validate " + plan).code, 0);
}

// A pinned interleaved layout (pp 4, v 3): every strategy's plan has ≥ 3 decoder layers per
// stage and simulates; the plan records v, and a plan read back simulates interleaved.
TEST_F(PlanInputsCliTest, PinnedVirtualStagesHoldInEveryStrategy) {
  const std::string job = Job("v.yaml", 128, "{tp: 1, pp: 4, dp: 8, virtual_stages: 3}");
  for (const char* strategy : {"auto", "hetero-pipeline", "uniform"}) {
    SCOPED_TRACE(strategy);
    const std::string plan = (dir_ / (std::string(strategy) + ".json")).string();
    Result r = Run(std::string("plan --job ") + job + " --strategy " + strategy + " --out " + plan);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("interleaved 1F1B over 3 virtual stages"));
    const nlohmann::json j = nlohmann::json::parse(cli_testing::Slurp(plan));
    EXPECT_EQ(j["parallelism"]["virtual_stages"], 3);
    r = Run(std::string("simulate --job ") + job + " --strategy " + strategy);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("interleaved (v=3)"));
    r = Run("simulate --plan " + plan + " --fleet " + fleet_ + " --model " + model_);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("interleaved (v=3)"));
  }
  Result r = Run("compare --no-progress --job " + job);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("fewer than 3 virtual stages")));
}

// An interleaved schedule without virtual stages would run as plain 1F1B under another name.
TEST_F(PlanInputsCliTest, InterleavedWithoutVirtualStagesIsRefused) {
  const std::string job = Job("plain.yaml", 128, "{tp: 1, pp: 4, dp: 8}");
  for (const char* command : {"simulate", "compare --no-progress"}) {
    Result r = Run(std::string(command) + " --job " + job + " --schedule interleaved");
    EXPECT_EQ(r.code, 2) << command;
    EXPECT_THAT(r.err, HasSubstr("needs virtual stages")) << command;
  }
  Result r = Run("simulate --job " + job + " --schedule interleaved --virtual-stages 3");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("interleaved (v=3)"));
}

// On a stage of mixed kinds the table shows the cell nearest its capacity (the L40S's 45 GiB),
// not the first cell with the largest memory figure (the A100's 80 GiB).
TEST_F(PlanInputsCliTest, TheStageTableShowsItsFullestDevice) {
  Write("mixed.yaml", R"(name: mixed
nodes:
  - {device: A100-80G, devices_per_node: 8, count: 1, nic_gbps: 100}
  - {device: L40S, devices_per_node: 4, count: 1, nic_gbps: 100}
)");
  const std::string job = Job("mixed-job.yaml", 48, "{tp: 1, pp: 1, dp: 12}", "mixed.yaml");
  const std::string plan = (dir_ / "mixed.json").string();
  Result r = Run("plan --job " + job + " --out " + plan);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(cli_testing::Slurp(plan));
  double fill = 0, capacity = 0;
  for (const auto& cell : j["stages"][0]["cells"]) {
    const double c = cell["capacity_gib"].get<double>();
    if (cell["memory_gib"].get<double>() / c > fill) {
      fill = cell["memory_gib"].get<double>() / c;
      capacity = c;
    }
  }
  char text[32];
  std::snprintf(text, sizeof text, " %.1f ", capacity);
  EXPECT_LT(capacity, 60) << "the L40S is the fullest";
  EXPECT_THAT(r.out, HasSubstr(text));
}

// `compare` fails as `plan` does when no strategy can plan the job (it printed the reasons and
// exited 0), and succeeds when one can.
TEST_F(PlanInputsCliTest, CompareFailsWhenNoStrategyPlans) {
  Write("huge.yaml",
        "name: huge\nlayers: 96\nhidden: 12288\nffn_hidden: 49152\nheads: 96\n"
        "kv_heads: 96\nmlp: gelu\nvocab: 50304\nseq_len: 2048\n");
  std::string job = Job("huge-job.yaml", 48, "{pp: 1}", "lab.yaml");
  std::string text = cli_testing::Slurp(job);
  text.replace(text.find("model.yaml"), 10, "huge.yaml");
  job = Write("huge-job.yaml", text);
  Result r = Run("compare --no-progress --job " + job);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("no strategy could plan"));
  EXPECT_THAT(r.out, HasSubstr("too much"));  // the table still says why, per strategy
  EXPECT_EQ(Run("compare --no-progress --job " + Job("ok.yaml", 48, "", "lab.yaml")).code, 0);
}

// A pin no strategy can honour is refused when the job loads, with its file and line (validate
// passed it, and planning named no place).
TEST_F(PlanInputsCliTest, AnImpossibleLayoutIsRefusedWhereItIsWritten) {
  const std::string deep = Job("deep.yaml", 64, "{pp: 40}");  // 24 blocks + embedding + head
  Result r = Run("validate " + deep);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("deep.yaml:12:9: layout: layout.pp = 40"));
  const std::string wide = Job("wide.yaml", 64, "{dp: 100}");  // the batch is 64
  r = Run("plan --job " + wide);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("wide.yaml:12:9: layout: layout.dp = 100"));
  EXPECT_EQ(Run("validate " + Job("fine.yaml", 64, "{pp: 4}")).code, 0);
}

// tp × pp × dp above the fleet's devices: `validate` passed it (the load-time check left tp out)
// and `plan` refused it without a place.
TEST_F(PlanInputsCliTest, ALayoutOfMoreDevicesThanTheFleetIsRefusedWhereItIsWritten) {
  Result r = Run("validate " + Job("big.yaml", 64, "{tp: 4, pp: 4, dp: 4}"));  // 32 devices
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("big.yaml:12:9: layout: layout tp 4 x pp 4 x dp 4 needs 64 "
                               "devices, but fleet v100-t4-eth has 32"));
  Write("one.yaml", "name: one\nnodes:\n  - {device: H100, devices_per_node: 1, count: 1}\n");
  r = Run("plan --job " + Job("tp2.yaml", 64, "{tp: 2}", "one.yaml"));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("tp2.yaml:12:9: layout: layout tp 2 x pp 1 x dp 1 needs 2 devices, "
                               "but fleet one has 1"));
  EXPECT_EQ(Run("validate " + Job("fits.yaml", 64, "{tp: 2, pp: 4, dp: 4}")).code, 0);
}

// Pins no strategy can honour against the model are refused at load, with the layout's place:
// more virtual stages than the pinned stages have layers for (every strategy planned them and
// simulate then refused the plan), virtual stages with pp 1, and a tp that does not divide the
// heads (planned as if it did).
TEST_F(PlanInputsCliTest, PinsTheModelCannotHoldAreRefusedWhereTheyAreWritten) {
  Result r = Run("validate " + Job("chunks.yaml", 64, "{pp: 4, virtual_stages: 7}"));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("chunks.yaml:12:9: layout: layout.pp = 4 with "
                               "layout.virtual_stages = 7 needs 7 decoder layers in each stage "
                               "(28 in all), but model gpt-1.3b has 24 decoder layers"));
  r = Run("plan --job " + Job("flat.yaml", 64, "{pp: 1, virtual_stages: 2}"));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("flat.yaml:12:9: layout: layout.virtual_stages = 2 interleaves a "
                               "pipeline, but layout.pp is 1"));
  EXPECT_EQ(Run("validate " + Job("six.yaml", 64, "{pp: 4, virtual_stages: 6}")).code, 0);
  Write("heads12.yaml",
        "name: h12\nlayers: 24\nhidden: 1536\nffn_hidden: 6144\nheads: 12\nkv_heads: 12\n"
        "mlp: gelu\nvocab: 50304\nseq_len: 1024\n");
  std::string text = cli_testing::Slurp(Job("tp8.yaml", 64, "{tp: 8}"));
  text.replace(text.find("model.yaml"), 10, "heads12.yaml");
  r = Run("plan --job " + Write("tp8.yaml", text));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("tp8.yaml:12:9: layout: layout.tp = 8: tp must divide model h12's "
                               "heads (12) and FFN width (6144)"));
  // A size no strategy searches is fleet-independent: refused at load, where it is written
  // (`validate` passed it and `plan` said so without a place).
  r = Run("validate " + Job("tp16.yaml", 64, "{tp: 16}"));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("tp16.yaml:12:9: layout: layout.tp = 16: tensor-parallel sizes are "
                               "1, 2, 4 or 8"));
}

// Virtual stages pinned without pp: every strategy's plan simulates. A plan without a pipeline
// (one device, or a depth the stages cannot hold v chunks at) runs plain 1F1B, as the cost model
// costs it; simulate and compare refused it ("the interleaved schedule needs at least 2 stages"),
// and uniform emitted 16 stages of 5 layers for 30 virtual stages.
TEST_F(PlanInputsCliTest, PlansForUnpinnedDepthWithVirtualStagesSimulate) {
  Write("one.yaml", "name: one\nnodes:\n  - {device: H100, devices_per_node: 1, count: 1}\n");
  const std::string one = Job("one-job.yaml", 8, "{virtual_stages: 2}", "one.yaml");
  Result r = Run("simulate --no-progress --job " + one);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pp 1 dp 1, schedule 1f1b"));
  r = Run("compare --no-progress --job " + one);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("needs at least 2 stages")));
  Write("asc.yaml",
        "name: asc\nnodes:\n  - {device: Ascend910B, devices_per_node: 8, count: 16, nic_gbps: "
        "1600}\n");
  Write("l70.yaml",
        "name: l70\nlayers: 80\nhidden: 8192\nffn_hidden: 28672\nheads: 64\nkv_heads: 8\n"
        "mlp: swiglu\nvocab: 32000\nseq_len: 4096\ndropout: false\n");
  std::string text = cli_testing::Slurp(Job("deep.yaml", 512, "{virtual_stages: 30}", "asc.yaml"));
  text.replace(text.find("model.yaml"), 10, "l70.yaml");
  text.replace(text.find("precision: fp16"), 15, "precision: bf16");
  text.replace(text.find("recompute: none"), 15, "recompute: selective");
  const std::string deep = Write("deep.yaml", text);
  for (const char* strategy : {"auto", "uniform", "hetero-pipeline"}) {
    SCOPED_TRACE(strategy);
    r = Run(std::string("simulate --no-progress --job ") + deep + " --strategy " + strategy);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.err, Not(HasSubstr("virtual stages")));
  }
}

}  // namespace
}  // namespace tangram
