// Deterministic fuzzing of the checkpoint manifest reader
// (orchestrator/model/checkpoint_manifest.h) through the calls that read it: seeded mutants of real
// version 2 and version 1 manifests (the shared fuzz_mutator.h, plus JSON-specific type swaps, huge
// and non-finite numbers, deep nesting, escapes and unicode) are written over a committed step's
// MANIFEST.json, then loaded. Every mutant must load or be refused with kDataLoss or kNotFound (the
// runtime refuses both with exit 2) and a message naming a file of the step; a crash fails the
// test.
//
// Reproducers: tests/foundation/corpus/manifest-*.json are replayed first, as the version 2
// step's manifest. A failing mutant is written to $TMPDIR/tangram_fuzz_failure.manifest.json.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "orchestrator/model/checkpoint.h"
#include "orchestrator/model/checkpoint_manifest.h"
#include "orchestrator/model/checksum.h"
#include "orchestrator/model/layer_state.h"
#include "tests/foundation/fuzz_mutator.h"
#include "tests/foundation/sample_count.h"

namespace tangram::train {
namespace {

namespace fs = std::filesystem;
using fuzzing::Slurp;
const fs::path kSource = TANGRAM_SOURCE_DIR;

void Spit(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

LayerState SmallLayer(const std::string& name, float seed) {
  LayerState s;
  s.layer = name;
  s.params.push_back(Tensor{"w", {2, 3}, {seed, 1, 2, 3, 4, 5}});
  s.params.push_back(Tensor{"b", {3}, {seed, -1, 0.5f}});
  for (const Tensor& p : s.params) {
    s.optimizer.m.push_back(Tensor{p.name, p.shape, std::vector<float>(p.data.size(), 0.25f)});
    s.optimizer.v.push_back(Tensor{p.name, p.shape, std::vector<float>(p.data.size(), 0.5f)});
  }
  s.optimizer.step = 7;
  return s;
}

// JSON-specific mutations on top of fuzz_mutator.h's: a value swapped for another JSON type, an
// out-of-range or non-finite number, an escape, or deep nesting.
std::string MutateJson(std::string text, uint64_t seed) {
  train::Rng rng(seed * 7919 + 1);
  static const std::vector<std::string> kValues = {"null",
                                                   "true",
                                                   "[]",
                                                   "{}",
                                                   "\"2\"",
                                                   "2.0",
                                                   "-1",
                                                   "0",
                                                   "1e400",
                                                   "-1e400",
                                                   "NaN",
                                                   "Infinity",
                                                   "18446744073709551615",
                                                   "18446744073709551616",
                                                   "4294967298",
                                                   "-9223372036854775808",
                                                   "\"\\ud800\"",
                                                   "\"\\u0000\"",
                                                   "\"..\"",
                                                   "\".\"",
                                                   "\"\"",
                                                   "\"a/b\"",
                                                   "\"\xc3\xa9\"",
                                                   "\"\xff\xfe\"",
                                                   "[[[[[[[[[[1]]]]]]]]]]",
                                                   "{\"format\": {}}",
                                                   "\"layer-x.safetensors\""};
  // Offsets just after each ": " (a JSON value's start) and its end.
  std::vector<std::pair<size_t, size_t>> values;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] == ':' && text[i + 1] == ' ') {
      size_t end = text.find_first_of(",\n}", i + 2);
      if (end == std::string::npos) end = text.size();
      values.push_back({i + 2, end});
    }
  }
  switch (rng.Next() % 4) {
    case 0:
    case 1: {
      if (values.empty()) return text;
      auto [b, e] = values[rng.Next() % values.size()];
      return text.substr(0, b) + kValues[rng.Next() % kValues.size()] + text.substr(e);
    }
    case 2: {  // deep nesting: up to 100,000 levels, where a recursive reader would overflow
      const size_t depth = size_t{1} << (rng.Next() % 17);
      const bool array = rng.Next() % 2;
      std::string deep(depth, array ? '[' : '{');
      if (!array) {
        deep.clear();
        for (size_t i = 0; i < depth; ++i) deep += "{\"a\":";
      }
      const std::string close(depth, array ? ']' : '}');
      if (values.empty()) return deep + close;
      auto [b, e] = values[rng.Next() % values.size()];
      return text.substr(0, b) + deep + "1" + close + text.substr(e);
    }
    default:
      return Mutator(seed).Mutate(std::move(text));
  }
}

class ManifestFuzzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / absl::StrCat("tangram_manifest_fuzz_", getpid())).string();
    fs::remove_all(dir_);
    // A version 2 checkpoint at step 20, as the runtime writes it.
    std::vector<LayerFileInfo> infos;
    for (const char* name : {"embedding", "block.0", "head"}) {
      auto info = WriteLayerCheckpoint(dir_, 20, SmallLayer(name, 1.5f));
      ASSERT_TRUE(info.ok()) << info.status();
      infos.push_back(*info);
    }
    ASSERT_TRUE(CommitCheckpoint(dir_, 20, infos, /*keep=*/5).ok());
    v2_ = Slurp(ManifestPath(20));
    // A version 1 checkpoint at step 10 (layer-*.bin in LayerState's encoding), as older builds
    // wrote it; LATEST keeps naming step 20.
    Manifest old;
    old.version = kOldManifestVersion;
    old.step = 10;
    fs::create_directories(StepDirectory(dir_, 10));
    for (const char* name : {"embedding", "head"}) {
      const std::string bytes = SerializeLayerState(SmallLayer(name, 2.5f));
      const std::string file = absl::StrCat("layer-", name, ".bin");
      Spit(fs::path(StepDirectory(dir_, 10)) / file, bytes);
      old.layers.push_back({name, file, static_cast<int64_t>(bytes.size()),
                            absl::StrFormat("%016x", Fnv1a64(bytes))});
    }
    v1_ = EncodeManifest(old);
    Spit(ManifestPath(10), v1_);
    ASSERT_TRUE(LoadCheckpoint(dir_, 20).ok());
    ASSERT_TRUE(LoadCheckpoint(dir_, 10).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string ManifestPath(int64_t step) const {
    return StepDirectory(dir_, step) + "/" + kManifestFile;
  }

  // Writes `text` as step `step`'s manifest and loads the step every way the code does. Returns
  // whether it was refused.
  bool Check(const std::string& text, int64_t step, const std::string& what) {
    Spit(ManifestPath(step), text);
    bool refused = false;
    auto check = [&](const absl::Status& s, const char* call) {
      if (s.ok()) return;
      refused = true;
      const bool code_ok = absl::IsDataLoss(s) || absl::IsNotFound(s);
      const bool names_file = s.message().find(StepDirectory(dir_, step)) != std::string::npos;
      if (!code_ok || !names_file) {
        const fs::path out = fs::temp_directory_path() / "tangram_fuzz_failure.manifest.json";
        Spit(out, text);
        ADD_FAILURE() << what << ": " << call << ": " << s << "; input kept in " << out;
      }
    };
    check(LoadCheckpoint(dir_, step).status(), "LoadCheckpoint");
    check(LoadCheckpointFiles(dir_, step).status(), "LoadCheckpointFiles");
    check(ParseManifest(text, ManifestPath(step), step).status(), "ParseManifest");
    if (step == 20) check(LatestStep(dir_).status(), "LatestStep");
    return refused;
  }

  std::string dir_, v1_, v2_;
};

TEST_F(ManifestFuzzTest, CorpusOfPastReproducers) {
  int replayed = 0;
  for (const auto& e : fs::directory_iterator(kSource / "tests/foundation/corpus")) {
    if (e.path().filename().string().rfind("manifest-", 0) != 0) continue;
    Check(Slurp(e.path()), 20, e.path().filename().string());
    ++replayed;
  }
  EXPECT_GT(replayed, 0);
}

TEST_F(ManifestFuzzTest, MutantsLoadOrAreRefusedNamingTheFile) {
  constexpr int kMutants = sampling::SampleCount(1500);  // 375 under the sanitizers
  int refused = 0;
  for (uint64_t seed = 0; seed < kMutants; ++seed) {
    const bool old = seed % 3 == 2;  // a third of them on the version 1 manifest
    const std::string text = MutateJson(old ? v1_ : v2_, seed);
    refused += Check(text, old ? 10 : 20, absl::StrCat(old ? "v1" : "v2", " seed ", seed));
  }
  // Restored, both load again: the fuzzing left nothing behind that a later load would trip on.
  Spit(ManifestPath(20), v2_);
  Spit(ManifestPath(10), v1_);
  EXPECT_TRUE(LoadCheckpoint(dir_, 20).ok());
  EXPECT_TRUE(LoadCheckpoint(dir_, 10).ok());
  // Most mutants must be refused: a fuzzer whose mutants all load tests nothing.
  EXPECT_GT(refused, kMutants / 2);
}

}  // namespace
}  // namespace tangram::train
