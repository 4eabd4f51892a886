// The `tangram` binary as a user meets it: exit codes (0 ok, 1 runtime, 2 usage/config), errors
// on stderr naming file, line and field, and no crash on hostile input.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tangram {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out, err;
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tangram_cli_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result Run(const std::string& args) {
    std::string cmd = std::string("cd ") + TANGRAM_SOURCE_DIR + " && " + TANGRAM_BINARY + " " +
                      args + " >" + (dir_ / "out").string() + " 2>" + (dir_ / "err").string() +
                      " </dev/null";
    int raw = std::system(cmd.c_str());
    Result r;
    r.code = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    r.out = Slurp(dir_ / "out");
    r.err = Slurp(dir_ / "err");
    return r;
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return (dir_ / name).string();
  }
  fs::path dir_;
};

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

}  // namespace
}  // namespace tangram
