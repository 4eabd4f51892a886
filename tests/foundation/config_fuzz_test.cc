// Deterministic config fuzzing: seeded mutants of every shipped config (byte flips, truncation,
// type swaps, NaN/inf/huge numbers, deep nesting, aliases, unicode, duplicated and dropped lines)
// and of a plan JSON given to the simulator as --plan. Every mutant must be accepted or refused
// with an error that the CLI maps to exit 2 and that names the file; a crash or a hang fails the
// test (ctest's timeout). A few mutants also go through the `tangram` binary.
//
// Reproducers: every input that ever broke this lives in tests/foundation/corpus/ and is replayed
// first (*.yaml as configs, *.json as plans). Add a file there when a mutant fails: the failing
// mutant is written to $TMPDIR/tangram_fuzz_failure.* with the seed in the test output.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/cli/cli_util.h"
#include "orchestrator/simulator/run.h"
#include "partitioner/plan_json.h"
#include "partitioner/strategy.h"
#include "tests/foundation/fuzz_mutator.h"
#include "tests/foundation/sample_count.h"

namespace tangram {
namespace {

namespace fs = std::filesystem;
using fuzzing::Slurp;
const fs::path kSource = TANGRAM_SOURCE_DIR;

const partitioner::DeviceCatalog& Catalog() {
  static const auto* catalog =
      new partitioner::DeviceCatalog(partitioner::DeviceCatalog::BuiltIn().value());
  return *catalog;
}

// Every shipped YAML config, in a stable order.
std::vector<fs::path> ShippedConfigs() {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(kSource / "configs")) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The CLI's mapping: OK (exit 0), or an error code that exits 2.
bool ExitsZeroOrTwo(const absl::Status& s) {
  return s.ok() || orchestrator::ExitCodeFor(s) == orchestrator::kExitUsageError;
}

absl::Status ValidateText(const std::string& text, const std::string& name) {
  auto doc = partitioner::YamlDocument::Parse(text, name);
  if (!doc.ok()) return doc.status();
  std::string kind;
  return orchestrator::ValidateConfigDocument(*doc, Catalog(), &kind);
}

void KeepFailure(const std::string& text, const std::string& suffix, const std::string& what) {
  fs::path out = fs::temp_directory_path() / ("tangram_fuzz_failure" + suffix);
  std::ofstream(out, std::ios::binary) << text;
  ADD_FAILURE() << what << "; input kept in " << out;
}

// Whether `text` was refused; a refusal that would not exit 2 or does not name the file fails.
bool CheckConfig(const std::string& text, const std::string& name, const std::string& what) {
  absl::Status s = ValidateText(text, name);
  if (!ExitsZeroOrTwo(s)) {
    KeepFailure(text, ".yaml", absl::StrCat(what, ": ", s.ToString()));
  } else if (!s.ok() && (s.message().empty() || s.message().find(name) == std::string::npos)) {
    KeepFailure(text, ".yaml",
                absl::StrCat(what, ": error does not name the file: ", s.ToString()));
  }
  return !s.ok();
}

// A small fleet and model whose plan is mutated; the mutant is then simulated as --plan is.
struct PlanSetup {
  partitioner::Fleet fleet;
  partitioner::ModelSpec model;
  partitioner::TrainingSpec training;
  std::string plan_json;
};

const PlanSetup& PlanFixture() {
  static const PlanSetup* setup = [] {
    auto* s = new PlanSetup;
    s->fleet =
        partitioner::LoadFleet((kSource / "configs/fleets/h200-h20.yaml").string(), Catalog())
            .value();
    s->model = partitioner::LoadModel((kSource / "configs/models/llama2-7b.yaml").string()).value();
    s->training = orchestrator::DefaultTraining(s->fleet);
    s->training.global_batch = 64;
    auto cost = partitioner::CostModel::Create(s->fleet, s->model, s->training).value();
    s->plan_json =
        partitioner::PlanToJson(partitioner::MakePlan(cost, "hetero-pipeline").value()).dump(1);
    return s;
  }();
  return *setup;
}

absl::Status SimulatePlanText(const std::string& text) {
  absl::StatusOr<partitioner::Plan> plan = partitioner::PlanFromJsonString(text);
  if (!plan.ok()) return plan.status();
  simulator::RunOptions options;
  options.steps = 2;
  options.progress = false;
  const PlanSetup& s = PlanFixture();
  return simulator::SimulateRun(s.fleet, s.model, s.training, *plan,
                                partitioner::StrategyKind::kAuto, options)
      .status();
}

void CheckPlan(const std::string& text, const std::string& what) {
  absl::Status s = SimulatePlanText(text);
  if (!ExitsZeroOrTwo(s) || (!s.ok() && s.message().empty())) {
    KeepFailure(text, ".json", absl::StrCat(what, ": ", s.ToString()));
  }
}

TEST(ConfigFuzzTest, CorpusOfPastReproducers) {
  int replayed = 0;
  for (const auto& e : fs::directory_iterator(kSource / "tests/foundation/corpus")) {
    // Checkpoint manifests are replayed by manifest_fuzz_test.
    if (e.path().filename().string().rfind("manifest-", 0) == 0) continue;
    const std::string text = Slurp(e.path());
    if (e.path().extension() == ".json") {
      CheckPlan(text, e.path().filename().string());
    } else {
      CheckConfig(text, e.path().string(), e.path().filename().string());
    }
    ++replayed;
  }
  EXPECT_GT(replayed, 0);
}

TEST(ConfigFuzzTest, ShippedConfigMutants) {
  const std::vector<fs::path> files = ShippedConfigs();
  ASSERT_GT(files.size(), 20u);
  // 40 mutants of each file; 10 under the sanitizers (still every shipped file, ~1500 mutants).
  constexpr int kMutantsPerFile = sampling::SampleCount(40, /*floor=*/10);
  int rejected = 0, total = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string original = Slurp(files[f]);
    // Named as the shipped file so that a job's relative fleet and model paths resolve.
    const std::string name = files[f].string();
    for (int i = 0; i < kMutantsPerFile; ++i) {
      const uint64_t seed = f * 1000 + i;
      std::string text = Mutator(seed).Mutate(original);
      rejected +=
          CheckConfig(text, name, absl::StrCat(files[f].filename().string(), " seed ", seed));
      ++total;
    }
  }
  // Most mutants must be refused: a fuzzer whose mutants all pass tests nothing.
  EXPECT_GT(rejected, total / 2) << rejected << " of " << total;
}

TEST(ConfigFuzzTest, PlanMutants) {
  const std::string original = PlanFixture().plan_json;
  ASSERT_TRUE(SimulatePlanText(original).ok());
  for (uint64_t seed = 0; seed < 400; ++seed) {
    CheckPlan(Mutator(seed).Mutate(original), absl::StrCat("plan seed ", seed));
  }
}

// The binary itself on a few mutants: the exit code is 0 or 2, and an error names the file.
TEST(ConfigFuzzTest, CliExitsZeroOrTwo) {
  fs::path dir = fs::temp_directory_path() / absl::StrCat("tangram_fuzz_cli_", getpid());
  fs::create_directories(dir);
  const std::vector<fs::path> files = ShippedConfigs();
  for (uint64_t seed = 0; seed < 12; ++seed) {
    const fs::path& source = files[(seed * 7) % files.size()];
    fs::path mutant = dir / absl::StrCat("m", seed, ".yaml");
    std::ofstream(mutant, std::ios::binary) << Mutator(seed).Mutate(Slurp(source));
    fs::path plan = dir / absl::StrCat("p", seed, ".json");
    std::ofstream(plan, std::ios::binary) << Mutator(seed).Mutate(PlanFixture().plan_json);
    for (const std::string& args :
         {absl::StrCat("validate ", mutant.string()),
          absl::StrCat("simulate --no-progress --fleet configs/fleets/h200-h20.yaml --model "
                       "configs/models/llama2-7b.yaml --plan ",
                       plan.string())}) {
      std::string cmd = absl::StrCat("cd ", kSource.string(), " && ", TANGRAM_BINARY, " ", args,
                                     " >/dev/null 2>", (dir / "err").string(), " </dev/null");
      int raw = std::system(cmd.c_str());
      ASSERT_TRUE(WIFEXITED(raw)) << args << " died of signal " << WTERMSIG(raw);
      int code = WEXITSTATUS(raw);
      EXPECT_TRUE(code == 0 || code == 2)
          << args << " exited " << code << ": " << Slurp(dir / "err");
      if (code == 2) {  // a message naming the file (validate) or the command (simulate)
        const std::string err = Slurp(dir / "err");
        EXPECT_THAT(err, ::testing::AnyOf(::testing::HasSubstr(mutant.filename().string()),
                                          ::testing::HasSubstr("tangram simulate: ")))
            << args;
      }
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tangram
