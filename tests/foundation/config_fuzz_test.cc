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
#include "orchestrator/model/random.h"
#include "orchestrator/simulator/run.h"
#include "partitioner/plan_json.h"
#include "partitioner/strategy.h"

namespace tangram {
namespace {

namespace fs = std::filesystem;
const fs::path kSource = TANGRAM_SOURCE_DIR;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

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

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  std::string Mutate(std::string text) {
    int rounds = 1 + static_cast<int>(Below(3));
    for (int i = 0; i < rounds; ++i) text = MutateOnce(std::move(text));
    return text;
  }

 private:
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_.Next() % n; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

  // Byte offsets of the value after a ": " (or a "- "), to swap types and numbers there.
  std::vector<std::pair<size_t, size_t>> Values(const std::string& text) {
    std::vector<std::pair<size_t, size_t>> out;
    for (size_t i = 0; i + 1 < text.size(); ++i) {
      if ((text[i] == ':' || text[i] == '-') && text[i + 1] == ' ') {
        size_t end = text.find_first_of("\n,}]", i + 2);
        if (end == std::string::npos) end = text.size();
        if (end > i + 2) out.push_back({i + 2, end});
      }
    }
    return out;
  }

  std::string MutateOnce(std::string text) {
    if (text.empty()) return "x";
    static const std::vector<std::string> kValues = {"",
                                                     "null",
                                                     "~",
                                                     "[]",
                                                     "{}",
                                                     "[1, 2]",
                                                     "{a: 1}",
                                                     "\"\"",
                                                     "true",
                                                     "no",
                                                     "-1",
                                                     "0",
                                                     "-0",
                                                     ".nan",
                                                     "NaN",
                                                     ".inf",
                                                     "-.inf",
                                                     "inf",
                                                     "1e308",
                                                     "-1e308",
                                                     "1e-320",
                                                     "4.9e-324",
                                                     "99999999999999999999",
                                                     "9223372036854775807",
                                                     "-9223372036854775808",
                                                     "1073741824",
                                                     "0x10",
                                                     "0o17",
                                                     "1_000",
                                                     "3.5",
                                                     "\"12\"",
                                                     "&x 5",
                                                     "*x",
                                                     "!!binary aGk=",
                                                     "? a",
                                                     "'",
                                                     "\"\\u0000\"",
                                                     "H200",
                                                     "auto",
                                                     "\xe2\x80\xae\xe2\x80\x8b",
                                                     "\xf0\x9f\x98\x80",
                                                     "\xc3\x28",
                                                     "\xed\xa0\x80",
                                                     std::string(300, 'n'),
                                                     std::string(5000, 'p')};
    const size_t pos = Below(text.size());
    switch (Below(12)) {
      case 0:  // flip a byte
        text[pos] = static_cast<char>(Below(256));
        return text;
      case 1:  // truncate
        return text.substr(0, pos);
      case 2:
      case 3:
      case 4: {  // swap a value for another type, a special number, a long or non-ASCII string
        auto values = Values(text);
        if (values.empty()) return text;
        auto [b, e] = Pick(values);
        return text.substr(0, b) + Pick(kValues) + text.substr(e);
      }
      case 5: {  // deep nesting
        size_t depth = 1 + Below(200);
        std::string open(depth, Below(2) ? '[' : '{');
        return text.substr(0, pos) + open + text.substr(pos);
      }
      case 6: {  // an alias bomb or a self-referencing alias at the top
        if (Below(2)) {
          std::string bomb = "z0: &z0 [1, 1, 1, 1, 1, 1, 1, 1]\n";
          for (int i = 1; i < 9; ++i) {
            std::string p = absl::StrCat("*z", i - 1);
            bomb += absl::StrCat("z", i, ": &z", i, " [", p, ", ", p, ", ", p, ", ", p, ", ", p,
                                 ", ", p, ", ", p, ", ", p, "]\n");
          }
          return bomb + text;
        }
        auto values = Values(text);
        if (values.empty()) return text;
        auto [b, e] = Pick(values);
        std::string anchored = text.substr(0, b) + "&a " + text.substr(b);
        return anchored + "\nalias_use: *a\n";
      }
      case 7: {  // duplicate a line
        size_t start = text.rfind('\n', pos);
        start = start == std::string::npos ? 0 : start + 1;
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        return text.substr(0, end) + "\n" + line + text.substr(end);
      }
      case 8: {  // drop a line
        size_t start = text.rfind('\n', pos);
        start = start == std::string::npos ? 0 : start + 1;
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        return text.substr(0, start) + text.substr(std::min(text.size(), end + 1));
      }
      case 9:  // insert unicode or control bytes
        return text.substr(0, pos) +
               Pick(std::vector<std::string>{"\xe2\x80\xae", "\xc3\xa9", "\t", "\r", "\x01",
                                             "\xef\xbb\xbf", "\xf4\x90\x80\x80", "\n  - "}) +
               text.substr(pos);
      case 10: {  // indent or dedent a line
        size_t start = text.rfind('\n', pos);
        start = start == std::string::npos ? 0 : start + 1;
        if (Below(2)) return text.substr(0, start) + "  " + text.substr(start);
        return text.substr(0, start) + text.substr(std::min(text.size(), start + 2));
      }
      default: {  // replace a key with a near miss
        auto values = Values(text);
        if (values.empty()) return text;
        size_t colon = Pick(values).first - 2;
        if (text[colon] != ':' || colon == 0) return text;
        return text.substr(0, colon) + Pick(std::vector<std::string>{"x", "_", "s", ""}) +
               text.substr(colon);
      }
    }
  }

  train::Rng rng_;
};

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

void CheckConfig(const std::string& text, const std::string& name, const std::string& what) {
  absl::Status s = ValidateText(text, name);
  if (!ExitsZeroOrTwo(s)) {
    KeepFailure(text, ".yaml", absl::StrCat(what, ": ", s.ToString()));
  } else if (!s.ok() && (s.message().empty() || s.message().find(name) == std::string::npos)) {
    KeepFailure(text, ".yaml",
                absl::StrCat(what, ": error does not name the file: ", s.ToString()));
  }
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
  constexpr int kMutantsPerFile = 40;
  int rejected = 0, total = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string original = Slurp(files[f]);
    // Named as the shipped file so that a job's relative fleet and model paths resolve.
    const std::string name = files[f].string();
    for (int i = 0; i < kMutantsPerFile; ++i) {
      const uint64_t seed = f * 1000 + i;
      std::string text = Mutator(seed).Mutate(original);
      CheckConfig(text, name, absl::StrCat(files[f].filename().string(), " seed ", seed));
      rejected += !ValidateText(text, name).ok();
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
