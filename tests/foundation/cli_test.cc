// The `tangram` binary as a user meets it: exit codes (0 ok, 1 runtime, 2 usage/config), errors
// on stderr naming file, line and field, and no crash on hostile input.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "orchestrator/cli/cli_util.h"

namespace tangram {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;
using Result = cli_testing::CliResult;
using cli_testing::Slurp;

class CliTest : public cli_testing::CliFixture {};

TEST_F(CliTest, VersionAndHelp) {
  Result r = Run("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("tangram 0."));
  r = Run("--help");
  EXPECT_EQ(r.code, 0);
  for (const char* sub : {"validate", "devices", "describe"}) EXPECT_THAT(r.out, HasSubstr(sub));
  r = Run("describe --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("--fleet"));
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Run("").code, 2);
  EXPECT_EQ(Run("frobnicate").code, 2);
  EXPECT_EQ(Run("describe --no-such-flag").code, 2);
  EXPECT_EQ(Run("describe").code, 2);
}

TEST_F(CliTest, ValidatesEveryShippedConfig) {
  Result r =
      Run("validate configs/devices.yaml configs/fleets/*.yaml configs/models/*.yaml "
          "configs/jobs/*.yaml");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("configs/fleets/quota-mix.yaml: ok (fleet)"));
  EXPECT_THAT(r.out, HasSubstr("configs/jobs/local-tiny-gpt.yaml: ok (job)"));
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(CliTest, DescribesAMixedFleet) {
  Result r =
      Run("describe --fleet configs/fleets/quota-mix.yaml --model configs/models/llama2-7b.yaml");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("48 devices on 6 nodes, 2 kinds"));
  EXPECT_THAT(r.out, HasSubstr("Ascend910B"));
  EXPECT_THAT(r.out, HasSubstr("parameters: 6.74 B"));
}

// --fleet / --model beside --job replace the job's files; the heading names the file described
// (it said "Fleet h200-h20 (configs/jobs/../fleets/quota-mix.yaml)").
TEST_F(CliTest, DescribeNamesTheFileItDescribes) {
  Result r = Run(
      "describe --job configs/jobs/quota-mix-llama2-7b.yaml --fleet configs/fleets/h200-h20.yaml "
      "--model configs/models/llama2-13b.yaml");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(configs/fleets/h200-h20.yaml)"));
  EXPECT_THAT(r.out, HasSubstr("(configs/models/llama2-13b.yaml)"));
  EXPECT_THAT(r.out, Not(HasSubstr("quota-mix.yaml")));
  EXPECT_THAT(r.out, Not(HasSubstr("llama2-7b.yaml")));
}

TEST_F(CliTest, JsonOutputParses) {
  Result r =
      Run("describe --json --fleet configs/fleets/quota-mix.yaml --model "
          "configs/models/llama2-7b.yaml");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["fleet"]["devices"], 48);
  EXPECT_EQ(j["model"]["layers"], 32);
  r = Run("devices --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GE(nlohmann::json::parse(r.out).size(), 14u);
}

TEST_F(CliTest, BadConfigsExitTwoWithLocation) {
  struct Case {
    std::string text;
    std::string expected;
  } cases[] = {
      {"name: f\nnodes:\n  - device: H2OO\n    devices_per_node: 8\n    count: 1\n",
       ":3:13: nodes[0].device: unknown device kind \"H2OO\" (known: H200"},
      {"name: f\nnodes:\n  - device: H200\n    devices_per_node: eight\n    count: 1\n",
       ":4:23: nodes[0].devices_per_node: expected an integer"},
      {"name: f\nnodes:\n  - device: H200\n    devices_per_node: 8\n    count: 1\n    colour: "
       "red\n",
       ":6:5: nodes[0].colour: unknown field"},
      {"name: f\nnodes:\n  - device: H200\n    devices_per_node: 8\n    count: [1,",
       "invalid YAML"},
      {"", "empty file"},
      {std::string("\0\1\2\3garbage\xff\xfe", 13), "not a text file"},
      {std::string(100000, '['), "x.yaml"},
      {"layers: 2\nhidden: 10\n", "required field is missing"},
  };
  for (const auto& c : cases) {
    std::string file = Write("x.yaml", c.text);
    Result r = Run("validate " + file);
    EXPECT_EQ(r.code, 2) << c.expected << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.expected));
    EXPECT_THAT(r.err, HasSubstr("x.yaml"));
  }
}

TEST_F(CliTest, MissingFileAndDirectoryExitTwo) {
  Result r = Run("describe --fleet configs/fleets/nope.yaml");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("configs/fleets/nope.yaml: cannot open"));
  r = Run("describe --fleet configs/fleets");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("configs/fleets: is a directory"));
  r = Run("validate configs/devices.yaml configs/nothing.yaml");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.out, HasSubstr("configs/devices.yaml: ok"));
}

TEST_F(CliTest, PlanFilesValidateAndBadOnesExitTwo) {
  std::string plan = (dir_ / "plan.json").string();
  Result r = Run("plan --job configs/jobs/quota-mix-llama2-7b.yaml --out " + plan);
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run("validate " + plan);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok (plan)"));
  std::string text = Slurp(plan);
  text.replace(text.find("\"parallelism\""), 13, "\"parallelismX\"");
  r = Run("validate " + Write("bad.json", text));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("parallelism"));
}

TEST_F(CliTest, BadCatalogExitsTwo) {
  std::string file = Write("cat.yaml", "devices:\n  - kind: X\n    vendor: Acme\n");
  Result r = Run("--catalog " + file + " devices");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("cat.yaml:3:13: devices[0].vendor: expected one of NVIDIA"));
}

// --catalog-replace without --catalog had no file to use: it was ignored, and the built-in
// catalog planned the job, exit 0.
TEST_F(CliTest, CatalogReplaceWithoutACatalogIsAUsageError) {
  for (const std::string args : {"--catalog-replace devices", "devices --catalog-replace"}) {
    Result r = Run(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_THAT(r.err, HasSubstr("--catalog-replace requires --catalog")) << args;
  }
  const std::string file = Write("cat.yaml", R"(devices:
  - {kind: X, vendor: generic, peak_tflops_bf16: 1, memory_gib: 1, memory_bandwidth_gbs: 1,
     intra_node_link_gbs: 1, nic_gbps: 1, collective_library: none, confidence: uncertain,
     source: "test"}
)");
  Result r = Run("--json --catalog-replace --catalog " + file + " devices");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 1u);
}

// A --catalog kind "h200" was added beside the built-in "H200" (24 kinds; fleets naming H200 kept
// the built-in figures): refused at its line, naming both spellings. A fleet naming "h200"
// already suggested "H200".
TEST_F(CliTest, ACatalogKindDifferingOnlyInCaseIsRefused) {
  const std::string device =
      ", vendor: generic, peak_tflops_bf16: 1, memory_gib: 1, memory_bandwidth_gbs: 1,\n"
      "     intra_node_link_gbs: 1, nic_gbps: 1, collective_library: none, confidence: uncertain,\n"
      "     source: \"test\"}\n";
  const std::string file = Write("cat.yaml", "devices:\n  - {kind: h200" + device);
  Result r = Run("--catalog " + file + " devices");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err,
              HasSubstr("cat.yaml:2:12: devices[0].kind: device kind \"h200\" differs only "
                        "in case from the built-in kind \"H200\" (kinds are case-sensitive)"));
  // Within one file (so with --catalog-replace too), likewise; the exact spelling replaces.
  const std::string two =
      Write("two.yaml", "devices:\n  - {kind: H200" + device + "  - {kind: h200" + device);
  r = Run("--catalog-replace --catalog " + two + " devices");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("two.yaml:5:12: devices[1].kind: device kind \"h200\" differs only "
                               "in case from the kind \"H200\" listed above"));
  const std::string exact = Write("exact.yaml", "devices:\n  - {kind: H200" + device);
  r = Run("--json --catalog " + exact + " devices");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 23u);  // the built-in kinds, H200 replaced
  const std::string fleet =
      Write("f.yaml", "name: f\nnodes:\n  - {device: h200, devices_per_node: 8, count: 1}\n");
  r = Run("plan --fleet " + fleet + " --model configs/models/llama2-7b.yaml");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("f.yaml:3:14: nodes[0].device: unknown device kind \"h200\""));
  EXPECT_THAT(r.err, HasSubstr("did you mean \"H200\"?"));
}

// layout.chunk_split without virtual_stages >= 2 planned as if absent without a word. Not refused
// at load (simulate --virtual-stages supplies v): a warning when neither gives v >= 2.
TEST_F(CliTest, AChunkSplitWithoutVirtualStagesIsWarnedAbout) {
  const std::string source = TANGRAM_SOURCE_DIR;
  const std::string job = Write("j.yaml", "name: j\nfleet: " + source +
                                              "/configs/fleets/h200-h20.yaml\nmodel: " + source +
                                              "/configs/models/llama2-7b.yaml\n"
                                              "global_batch: 64\nmicro_batch: 1\nprecision: bf16\n"
                                              "zero_stage: 1\nrecompute: selective\n"
                                              "strategy: uniform\ntransport: sim\nsteps: 1\n"
                                              "checkpoint_dir: ck\n"
                                              "layout: {chunk_split: all_layers}\n");
  const std::string warning =
      "warning: layout.chunk_split: all_layers has no effect without virtual_stages >= 2 (the "
      "job's layout.virtual_stages, or simulate --virtual-stages): each pipeline stage is one "
      "chunk";
  Result r = Run("plan --job " + job);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr(warning));
  r = Run("simulate --no-progress --job " + job);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr(warning));
  r = Run("simulate --no-progress --virtual-stages 2 --job " + job);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("chunk_split")));
}

// --cross-island-slowdown on a fleet of one island changed nothing and said nothing: warned now;
// on a fleet of two islands it applies without a warning.
TEST_F(CliTest, ACrossIslandSlowdownOnOneIslandIsWarnedAbout) {
  const std::string model = " --model configs/models/llama2-7b.yaml";
  Result r =
      Run("simulate --no-progress --cross-island-slowdown 4 --fleet "
          "configs/fleets/h200-h20.yaml" +
          model);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("warning: --cross-island-slowdown 4 has no effect: fleet h200-h20 "
                               "is one island (nccl), with no links between islands to slow"));
  r =
      Run("simulate --no-progress --cross-island-slowdown 4 --job "
          "configs/jobs/quota-mix-llama2-7b.yaml");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("has no effect")));
}

// Every option's range is checked before anything runs: exit 2 naming the option.
TEST_F(CliTest, OptionRangesExitTwoNamingTheOption) {
  const std::string job = "--job configs/jobs/local-tiny-gpt.yaml --transport sim";
  struct Case {
    std::string args, option;
  } cases[] = {
      {"train " + job + " --ranks 0", "--ranks"},
      {"train " + job + " --ranks -5", "--ranks"},
      {"train " + job + " --ranks 100000", "--ranks"},
      {"train " + job + " --steps 0", "--steps"},
      {"train " + job + " --steps -1", "--steps"},
      {"train " + job + " --steps 99999999999", "--steps"},
      {"train " + job + " --timeout nan", "--timeout"},
      {"train " + job + " --timeout 0", "--timeout"},
      {"train " + job + " --rebalance-threshold nan", "--rebalance-threshold"},
      {"train " + job + " --rebalance-threshold -1", "--rebalance-threshold"},
      {"train " + job + " --checkpoint-every -1", "--checkpoint-every"},
      {"train " + job + " --emulate-change 99:1:2", "--emulate-change"},
      {"train " + job + " --emulate-change 1:0:2", "--emulate-change"},
      {"train " + job + " --emulate-change 1:1:1000 --timeout 5", "--emulate-change"},
      {"train " + job + " --probe-budget-s -1", "--probe-budget-s"},
      {"train " + job + " --probe-budget-s nan", "--probe-budget-s"},
      {"probe " + job + " --out /tmp/never.yaml --probe-budget-s -1", "--probe-budget-s"},
      {"simulate --job configs/jobs/local-tiny-gpt.yaml --steps 99999999999", "--steps"},
      {"simulate --job configs/jobs/local-tiny-gpt.yaml --drift nan", "--drift"},
      {"bench collectives --bw-gbs 0", "--bw-gbs"},
      {"bench collectives --bw-gbs nan", "--bw-gbs"},
      {"bench collectives --alpha-us -1", "--alpha-us"},
      {"bench collectives --min-bytes 17179869184", "--min-bytes"},
      {"bench collectives --ranks 1024 --max-bytes 1073741824", "--max-bytes"},
      {"bench collectives --ranks 0", "--ranks"},
  };
  for (const auto& c : cases) {
    Result r = Run(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.option)) << c.args;
    EXPECT_THAT(r.out + r.err, Not(HasSubstr("step "))) << c.args;  // nothing ran
  }
}

TEST_F(CliTest, BadResumeIsCheckedBeforeMeasuring) {
  Result r = Run("train --job configs/jobs/local-tiny-gpt.yaml --transport sim --resume " +
                 (dir_ / "nothing").string() + " --checkpoint-dir " + (dir_ / "ckpt").string());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--resume"));
  EXPECT_TRUE(r.out.empty()) << r.out;  // no measuring or planning output (logged on stderr)
  EXPECT_THAT(r.err, Not(HasSubstr("measured"))) << r.err;
}

// The layer files, not only the manifest, are read before the ranks are measured (they were read
// after measuring and planning): a damaged one costs no start-up probe.
TEST_F(CliTest, DamagedResumeLayerIsRefusedBeforeMeasuring) {
  const std::string ckpt = (dir_ / "ckpt").string();
  const std::string train =
      "train --job configs/jobs/local-tiny-gpt.yaml --transport sim --ranks 2 --no-rebalance "
      "--checkpoint-dir " +
      ckpt;
  Result r = Run(train + " --steps 1");
  ASSERT_EQ(r.code, 0) << r.err;
  std::ofstream(dir_ / "ckpt" / "step-000001" / "layer-head.safetensors", std::ios::app) << "x";
  r = Run(train + " --steps 2 --resume " + ckpt);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("layer-head.safetensors"));
  EXPECT_THAT(r.err, Not(HasSubstr("measured"))) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("plan ("))) << r.err;
}

// A plan whose steps are predicted longer than a third of --timeout (a slow link) raises the
// calls' deadline to three predicted steps and says so; one predicted well inside it keeps it.
// On two full-speed CPU ranks: with the job's four (two slowed 3x and 6x by EMULATION) each run
// spent 20 s of its 26 s under ASan in the start-of-run probe, and the deadline depends only on
// the plan's predicted step and --timeout. (A smaller --probe-budget-s would not do: the gather
// after the calibration waits --timeout 20 s plus the budget for the 6x rank's minimum passes.)
TEST_F(CliTest, ALongPredictedStepRaisesTheCallsDeadline) {
  const std::string fleet = Write("two-cpu.yaml",
                                  "name: two-cpu\n"
                                  "nodes:\n"
                                  "  - device: cpu\n"
                                  "    devices_per_node: 1\n"
                                  "    count: 1\n"
                                  "    host: local\n"
                                  "  - device: cpu\n"
                                  "    devices_per_node: 1\n"
                                  "    count: 1\n"
                                  "    host: local\n");
  const std::string plan = (dir_ / "plan.json").string();
  Result r = Run("plan --job configs/jobs/local-tiny-gpt.yaml --fleet " + fleet + " --out " + plan);
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json json = nlohmann::json::parse(std::ifstream(plan));
  json["predicted"]["step_time_s"] = 50.0;
  const std::string slow = (dir_ / "slow.json").string();
  std::ofstream(slow) << json.dump();
  const std::string train = "train --job configs/jobs/local-tiny-gpt.yaml --fleet " + fleet +
                            " --transport sim --no-rebalance --steps 1 --timeout 20 --plan ";
  r = Run(train + slow + " --checkpoint-dir " + (dir_ / "ckpt-slow").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("calls' deadline 150 s: 3 x the plan's predicted 50.000 s step, "
                               "longer than --timeout 20 s"));
  r = Run(train + plan + " --checkpoint-dir " + (dir_ / "ckpt-fast").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("deadline"))) << r.err;
}

// --resume with --steps at or below the checkpoint's step has nothing to do: it says so, naming
// both steps, and succeeds (a requeued job that had finished is done), without measuring.
TEST_F(CliTest, ResumeAtOrPastTheLastStepSaysSo) {
  const std::string ckpt = (dir_ / "ckpt").string();
  const std::string train =
      "train --job configs/jobs/local-tiny-gpt.yaml --transport sim --ranks 2 --no-rebalance "
      "--checkpoint-dir " +
      ckpt;
  Result r = Run(train + " --steps 2");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const std::string steps : {"2", "1"}) {
    r = Run(train + " --steps " + steps + " --resume " + ckpt);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("nothing to train: the checkpoint is at step 2 and the run ends "
                                 "at step " +
                                 steps + " (--steps)"));
    EXPECT_THAT(r.err, Not(HasSubstr("measured"))) << r.err;
  }
  r = Run("--json " + train + " --steps 1 --auto-resume");
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["steps_done"], 2);
  EXPECT_THAT(j["warnings"].dump(), HasSubstr("nothing to train"));
}

// The exit-code contract for I/O (docs/training.md): a write that fails during the run (a full
// disk: /dev/full, a file size limit) is a runtime failure, 1, which launch.sh retries; it was 2
// (a checkpoint) or nothing at all (a metrics line). A path that cannot be written is still 2.
TEST_F(CliTest, FullDiskDuringTheRunExitsOne) {
  // --probe-budget-s 1: the start-of-run probe (about half of each run under ASan) is not tested.
  const std::string train =
      "train --job configs/jobs/local-tiny-gpt.yaml --transport sim --ranks 2 --no-rebalance "
      "--probe-budget-s 1 --steps 1 --checkpoint-dir ";
  Result r = Run(train + (dir_ / "a").string() + " --metrics /dev/full");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("metrics file /dev/full: step 1 not written: No space left"));
  const std::string file = Write("file", "x");
  r = Run(train + (dir_ / "b").string() + " --metrics " + file + "/m.jsonl");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot open the metrics file " + file + "/m.jsonl"));
  // Layer files past a 100 KiB file size limit fail with EFBIG (SIGXFSZ ignored, as a full
  // disk's ENOSPC would); the probe file at the start is smaller and passes.
  const std::string cmd = std::string("cd ") + TANGRAM_SOURCE_DIR +
                          " && trap '' XFSZ && ulimit -f 100 && " + TANGRAM_BINARY + " " + train +
                          (dir_ / "c").string() + " >" + (dir_ / "out").string() + " 2>" +
                          (dir_ / "err").string() + " </dev/null";
  const int raw = std::system(("bash -c \"" + cmd + "\"").c_str());
  ASSERT_TRUE(WIFEXITED(raw));
  EXPECT_EQ(WEXITSTATUS(raw), 1) << Slurp(dir_ / "err");
  EXPECT_THAT(Slurp(dir_ / "err"), HasSubstr("checkpoint on rank 0"));
}

TEST_F(CliTest, HostileFilesAreRefusedWithoutReading) {
  std::string fifo = (dir_ / "fifo.yaml").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Result r = Run("validate " + fifo);  // blocked forever before
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("fifo.yaml: not a regular file"));
  r = Run("train --transport sim --job " + fifo);
  EXPECT_EQ(r.code, 2);
  r = Run("describe --fleet /dev/zero");  // read until memory ran out before
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("/dev/zero: not a regular file"));
}

TEST_F(CliTest, HugeGlobalBatchIsRefusedBeforeSimulating) {
  std::string job = Write(
      "job.yaml", Slurp(std::string(TANGRAM_SOURCE_DIR) + "/configs/jobs/local-tiny-gpt.yaml"));
  std::string text = Slurp(job);
  text.replace(text.find("global_batch: 96"), 16, "global_batch: 1073741824");
  text.replace(text.find("../fleets/"), 10, std::string(TANGRAM_SOURCE_DIR) + "/configs/fleets/");
  text.replace(text.find("../models/"), 10, std::string(TANGRAM_SOURCE_DIR) + "/configs/models/");
  Write("job.yaml", text);
  Result r = Run("simulate --no-progress --job " + job);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("micro-batches"));
}

TEST_F(CliTest, MisspeltCommandGetsASuggestion) {
  Result r = Run("plna --job configs/jobs/local-tiny-gpt.yaml");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("did you mean \"plan\"?"));
}

TEST_F(CliTest, SubcommandHelpShowsTheGlobalOptions) {
  Result r = Run("plan --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("--json"));
  EXPECT_THAT(r.out, HasSubstr("--catalog"));
}

// --log-level and TANGRAM_LOG_LEVEL: an unknown level exits 2 naming where it came from; a known
// one filters the logged lines (plan's catalog warnings go at error, stay at warn) and never
// touches stdout.
TEST_F(CliTest, LogLevelFlagAndVariable) {
  const std::string plan = "plan --job configs/jobs/three-vendor-llama3-8b.yaml";
  Result r = Run("--log-level loud " + plan);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--log-level: log level \"loud\""));
  ASSERT_EQ(setenv("TANGRAM_LOG_LEVEL", "bogus", 1), 0);
  r = Run(plan);
  unsetenv("TANGRAM_LOG_LEVEL");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("TANGRAM_LOG_LEVEL: log level \"bogus\""));
  Result warn = Run(plan + " --log-level warn");
  Result error = Run(plan + " --log-level error");
  EXPECT_EQ(warn.code, 0) << warn.err;
  EXPECT_EQ(error.code, 0) << error.err;
  EXPECT_THAT(warn.err, HasSubstr("warning: "));
  EXPECT_THAT(error.err, Not(HasSubstr("warning: ")));
  EXPECT_EQ(warn.out, error.out);  // the result is the same whatever is logged
  EXPECT_THAT(Run("plan --help").out, HasSubstr("--log-level"));
}

// An output file that cannot be written follows the exit-code contract (base/files.h): a full
// device is a runtime failure (1, retried by the launchers), a path that cannot be written at all
// a configuration error (2); both name the file and why. It was 2 for both.
TEST_F(CliTest, OutputFilesThatCannotBeWrittenFollowTheExitCodeContract) {
  const std::string job = " --job configs/jobs/quota-mix-llama2-7b.yaml";
  Result r = Run("plan --out /dev/full" + job);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot write /dev/full: No space left on device"));
  r = Run("plan --out " + (dir_ / "no-such-dir" / "plan.json").string() + job);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("No such file or directory"));
  r = Run("hostfile --nodes a,b,c,d,e,f --out /dev/full" + job);
  EXPECT_EQ(r.code, 1) << r.err;
  r = Run("simulate --no-progress --gantt /dev/full" + job);
  EXPECT_EQ(r.code, 1) << r.err;
}

TEST_F(CliTest, ErrorsSayTheCommandOnce) {
  Result r = Run("describe");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("tangram describe: give --fleet"));
  EXPECT_THAT(r.err, Not(HasSubstr("describe: describe:")));
  r = Run("plan --compare --job configs/jobs/quota-mix-llama2-7b.yaml");  // oracle refuses 48
  EXPECT_THAT(r.out + r.err, HasSubstr("oracle is exhaustive"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("oracle: oracle")));
  // --compare runs every strategy: a --strategy beside it is a usage error, not ignored.
  r = Run("plan --compare --strategy uniform --job configs/jobs/quota-mix-llama2-7b.yaml");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--strategy excludes --compare"));
  r = Run("compare --job configs/jobs/quota-mix-llama2-7b.yaml --no-progress");
  EXPECT_THAT(r.out, HasSubstr("oracle is exhaustive"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("oracle: oracle")));
}

// The planner ranks plans by what the runtime runs: on large-4096 (a 2,560-device NVIDIA island
// and a 1,536-device Ascend island) the cost model costed dp 512 across the islands by the closed
// form (each island ring's α once per bucket), auto picked tp 8 pp 1 dp 512 at 11.41 s, and the
// simulator, which replays the islands allreduce segment by segment, gave it 12.36 s, 5.7 %
// slower than hetero-pipeline's plan. Now both charge the runtime's schedule.
TEST_F(CliTest, AutoOnTheLargeMultiIslandFleetPicksWhatSimulatesFastest) {
  Result r = Run("--json compare --no-progress --job configs/jobs/large-4096-llama3-70b.yaml");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  double auto_s = 0, best_other_s = 1e30;
  for (const auto& s : j.at("strategies")) {
    if (!s.at("feasible").get<bool>()) continue;
    const double simulated = s.at("step_time_s").get<double>();
    if (s.at("strategy") == "auto") {
      auto_s = simulated;
      EXPECT_NEAR(s.at("predicted_step_time_s").get<double>() / simulated, 1.0, 0.02) << s;
    } else {
      best_other_s = std::min(best_other_s, simulated);
    }
  }
  ASSERT_GT(auto_s, 0) << r.out;
  EXPECT_LE(auto_s, best_other_s * 1.001);
}

TEST_F(CliTest, CompareWritesNoChartUnlessAsked) {
  std::string cmd = "cd " + dir_.string() + " && " + TANGRAM_BINARY +
                    " compare --no-progress --fleet " + TANGRAM_SOURCE_DIR +
                    "/configs/fleets/local-cpu.yaml --model " + TANGRAM_SOURCE_DIR +
                    "/configs/models/tiny-gpt.yaml >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_FALSE(fs::exists(dir_ / "compare.svg"));
}

TEST_F(CliTest, StepNumbersCountFromOne) {
  const std::string base =
      "simulate --json --no-progress --fleet configs/fleets/h200-h20.yaml --model "
      "configs/models/llama2-7b.yaml --steps 3 ";
  Result r = Run(base + "--straggler 0:100@2");
  ASSERT_EQ(r.code, 0) << r.err;
  auto steps = nlohmann::json::parse(r.out)["steps"];
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0]["step"], 1);
  // "@2" slows the second step, as `train --emulate-change R:2:F` would.
  EXPECT_LT(steps[0]["step_time_s"].get<double>(), steps[1]["step_time_s"].get<double>());
  EXPECT_EQ(steps[1]["step_time_s"], steps[2]["step_time_s"]);
  r = Run(base + "--straggler 0:100@0");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("steps count from 1"));
  r = Run(base + "--fail-node 0@0");
  EXPECT_EQ(r.code, 2);
  r = Run(base + "--fail-node 1@2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["failure"]["step"], 2);
}

// --ignore-memory is a what-if: a layout that cannot fit (Llama 3 70B whole on each H100) is
// planned, simulated and compared, marked as not fitting, instead of refused.
TEST_F(CliTest, IgnoreMemoryPlansAndSimulatesWhatDoesNotFit) {
  const std::string src = TANGRAM_SOURCE_DIR;
  const std::string job =
      Write("job.yaml", "fleet: " + src + "/configs/fleets/h100-homogeneous.yaml\nmodel: " + src +
                            "/configs/models/llama3-70b.yaml\nglobal_batch: 64\nmicro_batch: 1\n"
                            "precision: bf16\nzero_stage: 1\nrecompute: none\nstrategy: auto\n"
                            "layout: {tp: 1, pp: 1, dp: 32}\ntransport: sim\nsteps: 1\n"
                            "checkpoint_dir: ck\n");
  Result r = Run("plan --job " + job);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("no layout fits the fleet's memory"));
  r = Run("plan --json --ignore-memory --job " + job);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json plan = nlohmann::json::parse(r.out);
  EXPECT_THAT(plan["notes"].dump(), HasSubstr("EXCEEDS MEMORY (--ignore-memory"));
  EXPECT_EQ(plan["stages"].size(), 1u);
  r = Run("simulate --json --no-progress --ignore-memory --job " + job);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json sim = nlohmann::json::parse(r.out);
  EXPECT_FALSE(sim["simulated"]["fits_memory"].get<bool>());
  EXPECT_GT(sim["step_time_s"].get<double>(), 0);
  r = Run("compare --no-progress --ignore-memory --job " + job);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("uniform"));
}

// `hostfile --exclude` on a probed fleet (a `measured:` section): the reduced fleet keeps the
// figures of the groups and ranks left, renumbered, and loads; it was written with every group's
// figures and refused by every command ("expected one figure per nodes[] entry").
TEST_F(CliTest, ExcludingHostsOfAMeasuredFleetKeepsItLoadable) {
  const std::string fleet = Write("probed.yaml", R"(name: probed
nodes:
  - {device: cpu, devices_per_node: 2, count: 2}
  - {device: cpu, devices_per_node: 1, count: 2}
measured:
  when: "x"
  how: "y"
  tool_version: "1"
  ranks: 6
  hosts: [a, b, c, d]
  group_tflops: [0.5, 0.25]
  group_optimizer_ns: [6, 7]
  links:
    - {class: same_node, latency_us: 2, bandwidth_gbs: 3}
  layer_times:
    - {group: 0, kind: block, tp: 1, micro_batch: 1, forward_ms: 10}
    - {group: 1, kind: block, tp: 1, micro_batch: 1, forward_ms: 20}
  cpu_pools:
    - {machine: "b", cores: 2, ranks: [2, 3], busy_tflops: 1, solo_tflops: 2, demand: [1, 1]}
    - {machine: "d", cores: 1, ranks: [5], busy_tflops: 1, solo_tflops: 2, demand: [1]}
)");
  const std::string out = (dir_ / "small.yaml").string();
  Result r =
      Run("hostfile --fleet " + fleet + " --nodes a,b,c,d --exclude a,c,d --fleet-out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "b slots=2 max_slots=2\n");
  r = Run("validate " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string small = Slurp(out);
  EXPECT_THAT(small, HasSubstr("forward_ms: 10"));
  EXPECT_THAT(small, Not(HasSubstr("forward_ms: 20")));  // group 1 is gone
  EXPECT_THAT(small, Not(HasSubstr("machine: d")));      // its rank is gone
  EXPECT_THAT(small, HasSubstr("ranks: [0, 1]"));        // b's ranks 2, 3 are now 0, 1
  EXPECT_THAT(small, HasSubstr("ranks: 2\n"));           // the probe's: b's two
  EXPECT_THAT(small, HasSubstr("hosts: [b]"));
  r = Run("describe --json --fleet " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["fleet"]["devices"], 2);
}

// The reduced fleet's measured.ranks and hosts are the probe's left (they were kept: 6 ranks on a
// fleet of 4 devices, an excluded host still listed), a link's `pair` is renumbered or, with a
// rank gone, removed, and `how:` says what was done; a probe none of whose ranks is left is
// dropped, saying so (session-12 CLI audit).
TEST_F(CliTest, ExcludingHostsReducesTheProbesRanksAndHosts) {
  const std::string nodes = R"(name: probed
nodes:
  - {device: cpu, devices_per_node: 2, count: 1, host: pn0}
  - {device: cpu, devices_per_node: 2, count: 1, host: pn1}
  - {device: cpu, devices_per_node: 2, count: 1, host: pn2}
measured:
  when: "x"
  how: "probed"
  tool_version: "1"
)";
  const std::string fleet = Write("probed.yaml", nodes + R"(  ranks: 6
  hosts: [pn0, pn1, pn2]
  group_tflops: [0.5, 0.25, 0.5]
  links:
    - {class: same_node, latency_us: 2, bandwidth_gbs: 3, pair: "4-5"}
    - {class: same_island, latency_us: 9, bandwidth_gbs: 1, pair: "0-2"}
  host_links:
    - {hosts: [pn0, pn1], bandwidth_gbs: 1}
    - {hosts: [pn0, pn2], bandwidth_gbs: 0.25}
    - {hosts: [pn1, pn2], bandwidth_gbs: 0.25}
)");
  const std::string out = (dir_ / "small.yaml").string();
  Result r = Run("hostfile --fleet " + fleet + " --exclude pn1 --fleet-out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(Run("validate " + out).code, 0);
  std::string small = Slurp(out);
  EXPECT_THAT(small, HasSubstr("ranks: 4\n"));
  EXPECT_THAT(small, HasSubstr("hosts: [pn0, pn2]"));
  EXPECT_THAT(small, HasSubstr("group_tflops: [0.5, 0.5]"));
  EXPECT_THAT(small, HasSubstr("pair: 2-3"));  // pn2's ranks 4, 5
  EXPECT_THAT(small, Not(HasSubstr("0-2")));   // rank 2 (pn1) is gone: no pair
  // The pairs of hosts without pn1 stay (pn1's would be refused: not in hosts).
  EXPECT_THAT(small, HasSubstr("bandwidth_gbs: 0.25"));
  EXPECT_THAT(small, Not(HasSubstr("[pn0, pn1]")));
  EXPECT_THAT(small, Not(HasSubstr("[pn1, pn2]")));
  EXPECT_THAT(small, HasSubstr("probed. Reduced by tangram hostfile --exclude pn1: ranks 6 -> 4;"));

  // Names the probe recorded that are not the fleet's (a simulated probe's node0..): the hosts of
  // the ranks left, as --nodes names them.
  const std::string renamed = Write("renamed.yaml", R"(name: renamed
nodes:
  - {device: cpu, devices_per_node: 1, count: 3}
measured:
  when: "x"
  how: "y"
  tool_version: "1"
  ranks: 3
  hosts: [node0, node1, node2]
  group_tflops: [0.5]
)");
  r = Run("hostfile --fleet " + renamed + " --nodes a,b,c --exclude b --fleet-out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(Run("validate " + out).code, 0);
  small = Slurp(out);
  EXPECT_THAT(small, HasSubstr("ranks: 2\n"));
  EXPECT_THAT(small, HasSubstr("hosts: [a, c]"));
  EXPECT_THAT(small, HasSubstr("hosts as the fleet names them"));

  // A probe of pn0's ranks only, pn0 excluded: nothing of it describes the nodes left.
  const std::string one = Write("one.yaml", nodes + R"(  ranks: 2
  hosts: [pn0]
  group_tflops: [0.5, 0, 0]
)");
  r = Run("hostfile --fleet " + one + " --exclude pn0 --fleet-out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(Run("validate " + out).code, 0);
  small = Slurp(out);
  EXPECT_THAT(small, HasSubstr("# its measured: section is dropped (no device left was probed)"));
  EXPECT_THAT(small, Not(HasSubstr("\nmeasured:")));
}

// --exclude naming a host no node is on (a typo) wrote the whole fleet back and exited 0.
TEST_F(CliTest, ExcludingAHostTheFleetDoesNotHaveIsRefused) {
  const std::string fleet =
      Write("two.yaml", "name: two\nnodes:\n  - {device: H100, devices_per_node: 8, count: 2}\n");
  const std::string out = (dir_ / "small.yaml").string();
  Result r =
      Run("hostfile --fleet " + fleet + " --nodes gpu1,gpu2 --exclude gpu3 --fleet-out " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--exclude names gpu3, a host no node of"));
  EXPECT_THAT(r.err, HasSubstr("(hosts: gpu1, gpu2)"));
  r = Run("hostfile --fleet " + fleet + " --nodes gpu1,gpu2 --exclude gpu2 --fleet-out " + out);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "gpu1 slots=8 max_slots=8\n");
}

// --exclude treated a `host: local` group as on every host (HostMatches' wildcard): excluding
// another host removed it, so a 4-device local fleet came back with 1 device and exit 0. And
// --nodes numbered a group's nodes by the group, not as the fleet does (groups on one named host
// are one node), so the names landed on the wrong devices.
TEST_F(CliTest, ExcludingHostsNumbersNodesAsTheFleetDoes) {
  const std::string local = Write("local.yaml", R"(name: local
nodes:
  - {device: cpu, devices_per_node: 1, count: 1, host: local}
  - {device: cpu, devices_per_node: 1, count: 1, host: local, emulate_slowdown: 3}
)");
  const std::string out = (dir_ / "small.yaml").string();
  Result r = Run("hostfile --fleet " + local + " --exclude b --fleet-out " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--exclude names b, a host no node of"));
  EXPECT_THAT(r.err, HasSubstr("(hosts: local)"));
  // Two groups on host h1 (one node), one on h2: --nodes x,y names h1's devices x, h2's y.
  const std::string shared = Write("shared.yaml", R"(name: shared
nodes:
  - {device: H100, devices_per_node: 4, count: 1, host: h1}
  - {device: H20, devices_per_node: 4, count: 1, host: h1}
  - {device: H100, devices_per_node: 8, count: 1, host: h2}
)");
  r = Run("hostfile --fleet " + shared + " --nodes x,y --exclude y --fleet-out " + out);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "x slots=8 max_slots=8\n");
  const std::string small = Slurp(out);
  EXPECT_THAT(small, HasSubstr("H20"));
  EXPECT_THAT(small, Not(HasSubstr("host: h2")));
  r = Run("hostfile --fleet " + shared + " --nodes x,y --exclude x --fleet-out " + out);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "y slots=8 max_slots=8\n");
  EXPECT_THAT(Slurp(out), Not(HasSubstr("H20")));
}

// --exclude read the fleet as plain YAML before it was validated: a `count` of 10^11 was expanded
// rank by rank (std::bad_alloc after ~20 s, exit 1), a negative count said "leaves no node", and
// a bad device kind was reported at --fleet-out's line after that file was written.
TEST_F(CliTest, ExcludingHostsOfAnInvalidFleetNamesItsLine) {
  const std::string huge = Write("huge.yaml", R"(name: huge
nodes:
  - {device: H100, devices_per_node: 8, count: 100000000000}
  - {device: H100, devices_per_node: 8, count: 1, host: b}
)");
  const std::string out = (dir_ / "small.yaml").string();
  Result r = Run("hostfile --fleet " + huge + " --exclude b --fleet-out " + out);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("huge.yaml:3:48: nodes[0].count: expected an integer in [1, "));
  const std::string typo = Write("typo.yaml", R"(name: typo
nodes:
  - {device: H2000, devices_per_node: 8, count: 1, host: a}
  - {device: H100, devices_per_node: 8, count: 1, host: b}
)");
  r = Run("hostfile --fleet " + typo + " --exclude b --fleet-out " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("typo.yaml:3:14: nodes[0].device: unknown device kind \"H2000\""));
  EXPECT_FALSE(std::filesystem::exists(out));
}

// Flags that did nothing, exit 0: --fleet-out without --exclude (no file written), --exclude ""
// (nothing excluded, --fleet-out not written), and --out naming --fleet-out's file (the hostfile
// overwrote the reduced fleet).
TEST_F(CliTest, HostfileFlagsThatWouldDoNothingAreRefused) {
  const std::string fleet =
      Write("two.yaml", "name: two\nnodes:\n  - {device: H100, devices_per_node: 8, count: 2}\n");
  const std::string base = "hostfile --nodes gpu1,gpu2 --fleet " + fleet;
  const std::string out = (dir_ / "small.yaml").string();
  Result r = Run(base + " --fleet-out " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--fleet-out requires --exclude"));
  r = Run(base + " --exclude '' --fleet-out " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--exclude \"\" names no host"));
  r = Run(base + " --exclude gpu2 --fleet-out " + out + " --out " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--out and --fleet-out are the same file"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

// An empty name in a host list was dropped (--nodes a, counted one node too few and said so), and
// an empty output path wrote nothing and exited 0: each is a usage error naming the option.
TEST_F(CliTest, EmptyHostNamesAndOutputPathsAreUsageErrors) {
  const std::string fleet =
      Write("two.yaml", "name: two\nnodes:\n  - {device: H100, devices_per_node: 8, count: 2}\n");
  Result r = Run("hostfile --nodes gpu1, --fleet " + fleet);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--nodes: name 2 of \"gpu1,\" is empty"));
  r = Run("hostfile --nodes gpu1,,gpu2 --fleet " + fleet);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("name 2 of \"gpu1,,gpu2\" is empty"));
  EXPECT_EQ(Run("hostfile --nodes gpu1,gpu2 --fleet " + fleet).code, 0);
  for (const std::string flag : {"--trace", "--gantt"}) {
    r = Run("simulate --no-progress --job configs/jobs/local-tiny-gpt.yaml " + flag + " ''");
    EXPECT_EQ(r.code, 2) << flag;
    EXPECT_THAT(r.err, HasSubstr(flag + ": expected a file path, found an empty one")) << r.err;
  }
  r = Run("plan --job configs/jobs/local-tiny-gpt.yaml --out ''");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--out: expected a file path"));
}

// simulate --plan runs the plan as it is: a --strategy beside it was ignored without a word.
TEST_F(CliTest, SimulateAPlanWithAStrategyIsAUsageError) {
  const std::string job = " --job configs/jobs/quota-mix-llama2-7b.yaml";
  const std::string plan = (dir_ / "plan.json").string();
  ASSERT_EQ(Run("plan --out " + plan + job).code, 0);
  Result r = Run("simulate --no-progress --strategy uniform --plan " + plan + job);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--strategy excludes --plan"));
  EXPECT_EQ(Run("simulate --no-progress --plan " + plan + job).code, 0);
  // After a node failure the job re-plans "with the same strategy": the plan's own (uniform),
  // not the job's (auto), which --strategy could no longer override.
  ASSERT_EQ(Run("plan --strategy uniform --out " + plan + job).code, 0);
  r = Run("simulate --json --no-progress --fail-node 1 --plan " + plan + job);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["failure"]["strategy"], "uniform");
}

// A catalog kind whose memory is not above the per-device reserve: the advice named the fleet's
// usable memory as "-16 GiB"; it now counts such devices as 0 and says why.
TEST_F(CliTest, AKindWithoutRoomAboveTheReserveIsNamed) {
  const std::string catalog = Write("tiny.yaml", R"(devices:
  - {kind: Tiny, vendor: NVIDIA, peak_tflops_bf16: 100, memory_gib: 0.001,
     memory_bandwidth_gbs: 1000, intra_node_link_gbs: 100, nic_gbps: 100,
     collective_library: nccl, confidence: uncertain, source: "test"}
)");
  Write("fleet.yaml", "name: tiny\nnodes:\n  - {device: Tiny, devices_per_node: 8, count: 2}\n");
  Result r = Run("--catalog " + catalog + " plan --fleet " + (dir_ / "fleet.yaml").string() +
                 " --model configs/models/tiny-gpt.yaml");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("Tiny's 0.001 GiB of memory is not above the 1 GiB reserved per "
                               "device, so it holds no stage"));
  EXPECT_THAT(r.err, Not(HasSubstr("(-")));
  // auto's example was uniform's first failure, whatever it was: with a global batch of 1 it
  // quoted the batch split ("smaller than the 2 data-parallel replicas"), not the memory.
  const std::string job =
      Write("job.yaml", "fleet: fleet.yaml\nmodel: " + std::string(TANGRAM_SOURCE_DIR) +
                            "/configs/models/tiny-gpt.yaml\nglobal_batch: 1\n"
                            "micro_batch: 1\nprecision: fp32\nzero_stage: 0\n"
                            "recompute: none\nstrategy: auto\ntransport: sim\n"
                            "steps: 1\ncheckpoint_dir: ck\n");
  r = Run("--catalog " + catalog + " plan --job " + job);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("auto: no layout fits the fleet's memory: Tiny's 0.001 GiB"));
  EXPECT_THAT(r.err, Not(HasSubstr("data-parallel replicas")));
}

// A job whose fleet or model names a file of another kind (the job itself, a model as the fleet)
// says so at the job's field; every key of that file was reported as an unknown fleet field, in
// the other file, without a word about the job.
TEST_F(CliTest, AJobNamingAFileOfAnotherKindSaysSo) {
  const std::string job_text =
      "name: j\nfleet: self.yaml\nmodel: " + std::string(TANGRAM_SOURCE_DIR) +
      "/configs/models/llama2-7b.yaml\nglobal_batch: 8\nmicro_batch: 1\nprecision: bf16\n"
      "zero_stage: 0\nrecompute: none\nstrategy: auto\ntransport: sim\nsteps: 1\n"
      "checkpoint_dir: ckpt\n";
  const std::string self = Write("self.yaml", job_text);
  Result r = Run("validate " + self);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err,
              HasSubstr("self.yaml:2:8: fleet: \"self.yaml\" is a job file, not a fleet file"));
  EXPECT_THAT(r.err, Not(HasSubstr("unknown field")));
  std::string text = job_text;
  text.replace(text.find("self.yaml"), 9,
               std::string(TANGRAM_SOURCE_DIR) + "/configs/models/llama2-13b.yaml");
  r = Run("plan --job " + Write("model-as-fleet.yaml", text));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("model-as-fleet.yaml:2:8: fleet: \""));
  EXPECT_THAT(r.err, HasSubstr("llama2-13b.yaml\" is a model file, not a fleet file"));
}

// A straggler or a node failure after the run's last step never happens: it is a usage error
// naming the step and --steps (exit 0 with nothing simulated before). A PERCENT out of range says
// so (the message spoke of STEP only).
TEST_F(CliTest, ScenarioEventsAfterTheLastStepAreRefused) {
  const std::string base =
      "simulate --no-progress --fleet configs/fleets/h200-h20.yaml --model "
      "configs/models/llama2-7b.yaml ";
  Result r = Run(base + "--straggler 0:40@5 --steps 2");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--straggler: step 5 is after the run's last step 2 (--steps 2)"));
  r = Run(base + "--fail-node 0@2");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--fail-node: step 2 is after the run's last step 1 (--steps 1)"));
  EXPECT_EQ(Run(base + "--straggler 0:40@2 --steps 2").code, 0);
  r = Run(base + "--straggler 0:1e9");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("PERCENT in (-100, 1e6]"));
}

// --async-p2p simulates the CPU runtime's non-blocking pipeline sends (what train predicts with).
TEST_F(CliTest, SimulateTakesAsyncPipelineSends) {
  const std::string base =
      "simulate --json --no-progress --fleet configs/fleets/h200-h20.yaml --model "
      "configs/models/llama2-7b.yaml ";
  Result sync = Run(base);
  Result async = Run(base + "--async-p2p");
  ASSERT_EQ(sync.code, 0) << sync.err;
  ASSERT_EQ(async.code, 0) << async.err;
  EXPECT_GT(nlohmann::json::parse(async.out)["step_time_s"].get<double>(), 0);
  EXPECT_THAT(Run("simulate --help").out, HasSubstr("--async-p2p"));
}

// A fresh run's first commit would delete an earlier run's steps in its directory: refused.
// --auto-resume finds a committed step without LATEST (a crash before LATEST was first written)
// as --resume does, rather than start fresh and delete it.
TEST_F(CliTest, AFreshRunKeepsAnEarlierRunsCheckpoint) {
  const std::string ckpt = (dir_ / "ckpt").string();
  // --probe-budget-s 1: the start-of-run probe (about half of each run under ASan) is not tested.
  const std::string train =
      "train --job configs/jobs/local-tiny-gpt.yaml --transport sim "
      "--ranks 2 --no-rebalance --probe-budget-s 1 --checkpoint-dir " +
      ckpt;
  Result r = Run(train + " --steps 1");
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run(train + " --steps 1");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("holds a checkpoint of an earlier run (step 1)"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "ckpt" / "step-000001" / "MANIFEST.json"));
  std::filesystem::remove(dir_ / "ckpt" / "LATEST");
  r = Run(train + " --steps 2 --auto-resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr("at step 1"));
}

TEST(CliUtilTest, JoinDistinctComparesWholeNames) {
  // "H20" is not already listed because "H200" contains it.
  EXPECT_EQ(orchestrator::JoinDistinct({"H200", "H20", "H200", "A100"}, "+"), "H200+H20+A100");
  EXPECT_EQ(orchestrator::JoinDistinct({"H20", "H200"}, "+"), "H20+H200");
}

// A probed CPU fleet computes at hundredths of a TFLOP/s: the plan's bound line said "the fleet's
// summed 0 TFLOP/s" and plan and simulate "0.0 TFLOP/s per device" (docs audit, session 12).
TEST_F(CliTest, SmallMeasuredRatesKeepTheirDigits) {
  const std::string fleet = Write("measured-cpu.yaml",
                                  "name: measured-cpu\n"
                                  "nodes:\n"
                                  "  - device: cpu\n"
                                  "    devices_per_node: 1\n"
                                  "    count: 4\n"
                                  "    measured_tflops: 0.0078\n");
  const std::string args = " --fleet " + fleet + " --model configs/models/tiny-gpt.yaml";
  Result r = Run("plan" + args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("summed 0\\.0[1-9][0-9]* TFLOP/s"));
  EXPECT_THAT(r.out, Not(HasSubstr(" 0.0 TFLOP/s per device")));
  r = Run("simulate --no-progress" + args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr(" 0.0 TFLOP/s per device")));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("; 0\\.00[1-9][0-9]* TFLOP/s per device"));
}

}  // namespace
}  // namespace tangram
