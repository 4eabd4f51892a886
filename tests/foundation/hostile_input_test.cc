// Hostile and malformed config files: each case is answered quickly with a kInvalidArgument that
// names the file (and the field), never a crash, a hang or an unbounded read.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/model.h"
#include "partitioner/plan_json.h"

namespace tangram {
namespace {

using partitioner::DeviceCatalog;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

const DeviceCatalog& Catalog() {
  static const DeviceCatalog* catalog = new DeviceCatalog(DeviceCatalog::BuiltIn().value());
  return *catalog;
}

std::string Slurp(const std::string& relative) {
  std::ifstream in(std::string(TANGRAM_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The shipped job and model, as text to break (line numbers below are the job file's).
const std::string kJob = Slurp("configs/jobs/local-tiny-gpt.yaml");

std::string ModelText() { return Slurp("configs/models/tiny-gpt.yaml"); }

std::string Message(const absl::Status& s) { return std::string(s.message()); }

absl::Status JobStatus(const std::string& text) {
  auto doc = partitioner::YamlDocument::Parse(text, "job.yaml");
  if (!doc.ok()) return doc.status();
  return orchestrator::JobFromDocument(*doc, Catalog()).status();
}

std::string Replace(const std::string& text, const std::string& from, const std::string& to) {
  return absl::StrReplaceAll(text, {{from, to}});
}

TEST(HostileInputTest, AliasBombIsRefusedQuickly) {
  // Ten levels of ten aliases: 10^10 nodes when expanded.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 10; ++i) {
    std::string prev = absl::StrCat("*a", i - 1);
    text += absl::StrCat("a", i, ": &a", i, " [", prev, ", ", prev, ", ", prev, ", ", prev, ", ",
                         prev, ", ", prev, ", ", prev, ", ", prev, ", ", prev, ", ", prev, "]\n");
  }
  auto doc = partitioner::YamlDocument::Parse(text, "bomb.yaml");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(doc.status()), HasSubstr("bomb.yaml"));
  EXPECT_THAT(Message(doc.status()), HasSubstr("aliases"));
}

TEST(HostileInputTest, DuplicateKeysNameBothLines) {
  auto doc = partitioner::YamlDocument::Parse("name: a\nlayers: 2\nname: b\n", "dup.yaml");
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(Message(doc.status()), HasSubstr("dup.yaml:3:1"));
  EXPECT_THAT(Message(doc.status()), HasSubstr("duplicate key \"name\" (first at line 1)"));
}

// A second document (two files concatenated) was ignored: the first loaded, exit 0.
TEST(HostileInputTest, ASecondDocumentIsRefused) {
  const std::string fleet = "name: f\nnodes:\n  - {device: H100, devices_per_node: 8, count: 1}\n";
  auto doc =
      partitioner::YamlDocument::Parse("---\n" + fleet + "---\nname: g\nnodes: 5\n", "two.yaml");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(Message(doc.status()),
            "two.yaml:6:1: a second YAML document (after `---`); a config file holds one: split it "
            "into files");
  // Markers alone are fine: a leading `---`, a trailing one, or `...`.
  EXPECT_TRUE(partitioner::YamlDocument::Parse("---\n" + fleet + "---\n", "a.yaml").ok());
  EXPECT_TRUE(partitioner::YamlDocument::Parse(fleet + "...\n", "b.yaml").ok());
  EXPECT_THAT(Message(partitioner::YamlDocument::Parse("---\n---\n", "c.yaml").status()),
              HasSubstr("c.yaml: empty file"));
}

// yaml-cpp reads `010` as octal 8 and `0x8` as 8 where an integer is expected (a number field
// reads 010 as 10): `layers: 010` planned 8 layers. Integers are decimal now.
TEST(HostileInputTest, IntegersAreDecimal) {
  for (const std::string spelling : {"010", "0x8", "0o10"}) {
    auto model =
        partitioner::ParseModel(Replace(ModelText(), "layers: 4", "layers: " + spelling), "m.yaml");
    ASSERT_FALSE(model.ok()) << spelling;
    EXPECT_THAT(Message(model.status()),
                HasSubstr(absl::StrCat("m.yaml:6:9: layers: expected an integer in [1, ")))
        << spelling;
    EXPECT_THAT(Message(model.status()),
                HasSubstr(absl::StrCat("found \"", spelling,
                                       "\" (write it in decimal, without a leading 0)")));
  }
  for (const std::string spelling : {"8", "+8", "0"}) {
    auto model =
        partitioner::ParseModel(Replace(ModelText(), "layers: 4", "layers: " + spelling), "m.yaml");
    if (spelling == "0") {
      EXPECT_THAT(Message(model.status()), HasSubstr("found 0"));
    } else {
      ASSERT_TRUE(model.ok()) << model.status();
      EXPECT_EQ(model->layers, 8);
    }
  }
  absl::Status tp = JobStatus(Replace(kJob, "seed: 1", "seed: 1\nlayout: {tp: [01, 1]}"));
  EXPECT_THAT(Message(tp), HasSubstr("layout.tp[0]: expected an integer in [1, 1024]"));
}

TEST(HostileInputTest, StringFieldsAreBounded) {
  std::string long_name(1 << 20, 'x');
  auto model = partitioner::ParseModel(Replace(ModelText(), "name: tiny-gpt", "name: " + long_name),
                                       "m.yaml");
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(Message(model.status()),
              HasSubstr("name: string of 1048576 characters; at most 256"));
  EXPECT_LT(model.status().message().size(), 400u);  // the value is not echoed back
  absl::Status path =
      JobStatus(Replace(kJob, "checkpoint_dir: ../../out/local-tiny-gpt/checkpoints",
                        "checkpoint_dir: " + std::string(5000, 'p')));
  EXPECT_THAT(Message(path), HasSubstr("checkpoint_dir: string of 5000 characters; at most 4096"));
}

TEST(HostileInputTest, EnumsAreValidatedWithASuggestion) {
  absl::Status s = JobStatus(Replace(kJob, "strategy: auto", "strategy: autto"));
  EXPECT_THAT(Message(s), HasSubstr("job.yaml:12:11: strategy: expected one of auto | "));
  EXPECT_THAT(Message(s), HasSubstr("found \"autto\"; did you mean \"auto\"?"));
  s = JobStatus(Replace(kJob, "precision: fp32", "precision: FP32"));
  EXPECT_THAT(Message(s), HasSubstr("did you mean \"fp32\"?"));
}

TEST(HostileInputTest, MissingFieldPointsAtTheMapThatLacksIt) {
  absl::Status s = JobStatus("# a job\n\n" + Replace(kJob, "steps: 20\n", ""));
  EXPECT_THAT(Message(s), HasSubstr("job.yaml:6:1: steps: required field is missing from the "
                                    "top-level mapping (starting at line 6)"));
  auto fleet = partitioner::ParseFleet("name: f\nnodes:\n  - device: H200\n    count: 2\n",
                                       "f.yaml", Catalog());
  EXPECT_THAT(Message(fleet.status()),
              HasSubstr("f.yaml:3:5: nodes[0].devices_per_node: required field is missing from "
                        "the mapping nodes[0] (starting at line 3)"));
}

TEST(HostileInputTest, NullOrEmptyRequiredFieldsNameTheField) {
  struct Case {
    std::string from, to, field;
  };
  for (const Case& c : std::vector<Case>{{"steps: 20", "steps:", "steps"},
                                         {"zero_stage: 0", "zero_stage: null", "zero_stage"},
                                         {"precision: fp32", "precision: null", "precision"},
                                         {"strategy: auto", "strategy: ~", "strategy"},
                                         {"fleet: ../fleets/local-cpu.yaml", "fleet:", "fleet"}}) {
    absl::Status s = JobStatus(Replace(kJob, c.from, c.to));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.to;
    EXPECT_THAT(Message(s), HasSubstr(c.field + ": required field is empty")) << c.to;
  }
  auto model = partitioner::ParseModel(Replace(ModelText(), "layers: 4", "layers:"), "m.yaml");
  EXPECT_THAT(Message(model.status()), HasSubstr("layers: required field is empty"));
  auto catalog = DeviceCatalog::Parse(
      "devices:\n  - kind: X\n    vendor: NVIDIA\n    peak_tflops_bf16:\n", "c.yaml");
  EXPECT_THAT(Message(catalog.status()), HasSubstr("peak_tflops_bf16: required field is empty"));
}

// A micro-batch need not divide the global batch: replicas' shares are uneven anyway, and a
// replica ends with a smaller micro-batch (the planner, the simulator and the runtime take it).
// A micro-batch larger than the whole batch is an error.
TEST(HostileInputTest, MicroBatchNeedNotDivideTheGlobalBatch) {
  const std::string job = Replace(Replace(kJob, "global_batch: 96", "global_batch: 50"), "../",
                                  std::string(TANGRAM_SOURCE_DIR) + "/configs/");
  const absl::Status ok = JobStatus(Replace(job, "micro_batch: 1", "micro_batch: 4"));
  EXPECT_TRUE(ok.ok()) << ok;
  absl::Status s = JobStatus(Replace(job, "micro_batch: 1", "micro_batch: 64"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), HasSubstr("job.yaml:8:14: micro_batch: micro_batch (64) exceeds "
                                    "global_batch (50)"));
}

TEST(HostileInputTest, OnlyRegularFilesAreRead) {
  // /dev/zero would read until memory runs out; a FIFO with no writer would block forever.
  for (const char* device : {"/dev/zero", "/dev/null"}) {
    auto fleet = partitioner::LoadFleet(device, Catalog());
    EXPECT_EQ(fleet.status().code(), absl::StatusCode::kInvalidArgument) << device;
    EXPECT_THAT(Message(fleet.status()), HasSubstr(absl::StrCat(device, ": not a regular file")));
  }
  fs::path fifo = fs::temp_directory_path() / absl::StrCat("tangram_fifo_", getpid());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto model = partitioner::LoadModel(fifo.string());
  EXPECT_THAT(Message(model.status()), HasSubstr("not a regular file"));
  auto plan = partitioner::LoadPlanFile(fifo.string());
  EXPECT_THAT(Message(plan.status()), HasSubstr("not a regular file"));
  auto job = orchestrator::LoadJob(fifo.string(), Catalog());
  EXPECT_THAT(Message(job.status()), HasSubstr("not a regular file"));
  fs::remove(fifo);
  auto zero_plan = partitioner::LoadPlanFile("/dev/zero");
  EXPECT_THAT(Message(zero_plan.status()), HasSubstr("/dev/zero: not a regular file"));
}

TEST(HostileInputTest, AllErrorsOfAFileAreReportedUpToTwenty) {
  std::string job =
      Replace(Replace(Replace(kJob, "steps: 20", "steps: x"), "precision: fp32", "precision: bf17"),
              "zero_stage: 0", "zero_stage: 9");
  std::string message = Message(JobStatus(job));
  EXPECT_THAT(message, HasSubstr("job.yaml:14:8: steps: expected an integer"));
  EXPECT_THAT(message, HasSubstr("job.yaml:9:12: precision: expected one of bf16"));
  EXPECT_THAT(message, HasSubstr("did you mean \"bf16\"?"));
  EXPECT_THAT(message, HasSubstr("job.yaml:10:13: zero_stage: expected an integer in [0, 3]"));
  // An unknown key no longer hides the value errors of the same file (it did: the unknown-key
  // check returned before any field was read), and a misspelt required key is reported once,
  // where it was written, not also as a missing field.
  job = Replace(Replace(kJob, "steps: 20", "steps: x\ncolour: blue"),
                "global_batch:", "globl_batch:");
  message = Message(JobStatus(job));
  EXPECT_THAT(message, HasSubstr("steps: expected an integer"));
  EXPECT_THAT(message, HasSubstr("colour: unknown field"));
  EXPECT_THAT(message, HasSubstr("globl_batch: unknown field; did you mean \"global_batch\"?"));
  EXPECT_THAT(message, Not(HasSubstr("global_batch: required field is missing")));
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 2) << message;
  auto model =
      partitioner::ParseModel(Replace(Replace(ModelText(), "layers: 4", "layer: 4\nflavour: x"),
                                      "\nheads: 4\nkv_heads: 4", "\nheads: 6\nkv_heads: 4"),
                              "m.yaml");
  message = Message(model.status());
  EXPECT_THAT(message, HasSubstr("layer: unknown field; did you mean \"layers\"?"));
  EXPECT_THAT(message, HasSubstr("flavour: unknown field"));
  EXPECT_THAT(message, Not(HasSubstr("required field is missing")));
  // The cross-field checks run once the fields are read, and report together too.
  model = partitioner::ParseModel(
      Replace(ModelText(), "\nheads: 4\nkv_heads: 4", "\nheads: 6\nkv_heads: 4"), "m.yaml");
  message = Message(model.status());
  EXPECT_THAT(message, HasSubstr("heads (6) must divide hidden (128)"));
  EXPECT_THAT(message, HasSubstr("kv_heads (4) must divide heads (6)"));
  // Thirty bad node groups: twenty errors, then how many more there were.
  std::string fleet = "name: f\nnodes:\n";
  for (int i = 0; i < 30; ++i) fleet += "  - device: H2OO\n    devices_per_node: 8\n    count: 1\n";
  auto parsed = partitioner::ParseFleet(fleet, "f.yaml", Catalog());
  message = Message(parsed.status());
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 20);
  EXPECT_THAT(message, HasSubstr("nodes[19].device: unknown device kind \"H2OO\""));
  EXPECT_THAT(message, HasSubstr("did you mean \"H200\"?"));
  EXPECT_THAT(message, HasSubstr("(10 more errors not shown)"));
}

}  // namespace
}  // namespace tangram
