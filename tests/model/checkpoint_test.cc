// Per-layer checkpoints: round trip, a crash in the middle leaves the previous checkpoint usable,
// corruption and truncation are errors naming the file, retention keeps the newest.
#include "orchestrator/model/checkpoint.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "orchestrator/model/checksum.h"
#include "orchestrator/model/stage.h"
#include "tests/model/test_util.h"

namespace tangram::train {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("tangram_ckpt_" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())))
               .string();
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes every layer of `stage` at `step` and commits it.
  void Save(Stage& stage, int64_t step, int keep = 2) {
    std::vector<LayerFileInfo> files;
    for (int64_t i = 0; i < stage.size(); ++i) {
      auto info = WriteLayerCheckpoint(dir_, step, stage.ExportLayer(i));
      ASSERT_TRUE(info.ok()) << info.status();
      files.push_back(*info);
    }
    ASSERT_TRUE(CommitCheckpoint(dir_, step, files, keep).ok());
  }

  std::string dir_;
  GptOptions options_ = testing::TinyOptions();
};

TEST_F(CheckpointTest, RoundTripIntoADifferentSplit) {
  Stage whole(testing::Build(options_, 0, 4));
  for (int64_t i = 0; i < whole.size(); ++i) testing::Perturb(whole.layer(i), 0.1, i);
  whole.optimizer_state(2).step = 5;
  Save(whole, 10);
  auto loaded = LoadLatest(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  ASSERT_EQ(loaded->layers.size(), 4u);
  // Resume as two stages (another plan).
  Stage first(testing::Build(options_, 0, 2)), second(testing::Build(options_, 2, 4));
  for (Stage* s : {&first, &second}) {
    for (int64_t i = 0; i < s->size(); ++i) {
      const LayerState* state = loaded->Find(s->layer(i).name());
      ASSERT_NE(state, nullptr);
      ASSERT_TRUE(s->ImportLayer(*state).ok());
    }
  }
  EXPECT_EQ(second.optimizer_state(0).step, 5);
  EXPECT_EQ(second.layer(0).parameters()[3]->data, whole.layer(2).parameters()[3]->data);
  EXPECT_EQ(first.layer(1).parameters()[0]->data, whole.layer(1).parameters()[0]->data);
  // DescribeLayerFile agrees with what the writer reported.
  auto info = DescribeLayerFile(dir_, 10, "head");
  ASSERT_TRUE(info.ok());
  EXPECT_GT(info->bytes, 0);
}

TEST_F(CheckpointTest, CrashInTheMiddleLeavesThePreviousCheckpoint) {
  Stage stage(testing::Build(options_, 0, 4));
  Save(stage, 10);
  const std::vector<float> saved = stage.layer(0).parameters()[0]->data;
  testing::Perturb(stage.layer(0), 0.1, 1);
  // Step 20: two layers written, a third left as a temporary file, no manifest (the crash).
  ASSERT_TRUE(WriteLayerCheckpoint(dir_, 20, stage.ExportLayer(0)).ok());
  ASSERT_TRUE(WriteLayerCheckpoint(dir_, 20, stage.ExportLayer(1)).ok());
  std::ofstream(StepDirectory(dir_, 20) + "/layer-block.1.safetensors.tmp.1234") << "partial";
  auto loaded = LoadLatest(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  EXPECT_EQ(loaded->Find("embedding")->params[0].data, saved);
  EXPECT_EQ(LoadCheckpoint(dir_, 20).status().code(), absl::StatusCode::kNotFound);
  // Without LATEST (crash before the first one was written), the newest manifest wins.
  fs::remove(dir_ + "/LATEST");
  loaded = LoadLatest(dir_);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->step, 10);
  // The next commit removes the unfinished step.
  Save(stage, 30);
  EXPECT_FALSE(fs::exists(StepDirectory(dir_, 20)));
}

TEST_F(CheckpointTest, CorruptedAndTruncatedFilesAreErrorsNamingTheFile) {
  Stage stage(testing::Build(options_, 0, 4));
  Save(stage, 10);
  const std::string file = StepDirectory(dir_, 10) + "/layer-block.0.safetensors";
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  auto corrupted = LoadLatest(dir_);
  EXPECT_EQ(corrupted.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(corrupted.status().message().find(file), absl::string_view::npos) << corrupted.status();
  EXPECT_NE(corrupted.status().message().find("corrupted"), absl::string_view::npos);

  Save(stage, 20);
  const std::string head = StepDirectory(dir_, 20) + "/layer-head.safetensors";
  fs::resize_file(head, fs::file_size(head) - 10);
  auto truncated = LoadLatest(dir_);
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(truncated.status().message().find(head), absl::string_view::npos) << truncated.status();

  Save(stage, 30);
  const std::string manifest = StepDirectory(dir_, 30) + "/MANIFEST.json";
  std::ofstream(manifest, std::ios::trunc) << "{\"format\": \"tangram-checkpoint\", \"vers";
  auto bad_manifest = LoadLatest(dir_);
  EXPECT_EQ(bad_manifest.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad_manifest.status().message().find(manifest), absl::string_view::npos);

  fs::remove(StepDirectory(dir_, 20) + "/layer-embedding.safetensors");
  auto missing = LoadCheckpoint(dir_, 20);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(missing.status().message().find("layer-embedding.safetensors"),
            absl::string_view::npos);
}

// A version 1 checkpoint (layer-*.bin in LayerState's byte encoding), as Tangram wrote before the
// switch to safetensors, still loads; the next checkpoint is written in the new format.
TEST_F(CheckpointTest, ResumesFromTheOldFormatAndWritesTheNewOne) {
  Stage whole(testing::Build(options_, 0, 4));
  for (int64_t i = 0; i < whole.size(); ++i) testing::Perturb(whole.layer(i), 0.1, i);
  whole.optimizer_state(1).step = 7;
  const std::string step_dir = StepDirectory(dir_, 10);
  fs::create_directories(step_dir);
  nlohmann::json manifest = {{"format", "tangram-checkpoint"}, {"version", 1}, {"step", 10}};
  for (int64_t i = 0; i < whole.size(); ++i) {
    const LayerState state = whole.ExportLayer(i);
    const std::string bytes = SerializeLayerState(state);
    const std::string file = "layer-" + state.layer + ".bin";
    std::ofstream(step_dir + "/" + file, std::ios::binary) << bytes;
    char checksum[17];
    std::snprintf(checksum, sizeof(checksum), "%016llx",
                  static_cast<unsigned long long>(Fnv1a64(bytes)));
    manifest["layers"].push_back({{"name", state.layer},
                                  {"file", file},
                                  {"bytes", bytes.size()},
                                  {"fnv1a64", std::string(checksum)}});
  }
  std::ofstream(step_dir + "/MANIFEST.json") << manifest.dump();
  std::ofstream(dir_ + "/LATEST") << "step-000010\n";

  auto loaded = LoadLatest(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  Stage resumed(testing::Build(options_, 0, 4));
  for (int64_t i = 0; i < resumed.size(); ++i) {
    ASSERT_TRUE(resumed.ImportLayer(*loaded->Find(resumed.layer(i).name())).ok());
    EXPECT_EQ(resumed.layer(i).parameters()[0]->data, whole.layer(i).parameters()[0]->data);
  }
  EXPECT_EQ(resumed.optimizer_state(1).step, 7);
  auto files = LoadLatestFiles(dir_);  // the generic view converts old files too
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->layers[0].second.metadata.at("format"), "tangram-layer");

  Save(resumed, 20);
  EXPECT_TRUE(fs::exists(StepDirectory(dir_, 20) + "/layer-head.safetensors"));
  std::ifstream in(StepDirectory(dir_, 20) + "/MANIFEST.json");
  EXPECT_EQ(nlohmann::json::parse(in)["version"], 2);
  auto reloaded = LoadLatest(dir_);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->Find("block.0")->optimizer.step, 7);
  EXPECT_EQ(reloaded->Find("head")->params[0].data, loaded->Find("head")->params[0].data);
}

// The layer files are plain safetensors: the header names parameters and moments, the data holds
// the parameters' float bytes at the recorded offsets.
TEST_F(CheckpointTest, LayerFilesAreSafetensors) {
  Stage stage(testing::Build(options_, 3, 4));
  testing::Perturb(stage.layer(0), 0.1, 3);
  Save(stage, 1);
  std::ifstream in(StepDirectory(dir_, 1) + "/layer-head.safetensors", std::ios::binary);
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["__metadata__"]["layer"], "head");
  const Tensor& p = *stage.layer(0).parameters()[0];
  const auto& entry = header[p.name];
  EXPECT_EQ(entry["dtype"], "F32");
  EXPECT_EQ(entry["shape"].get<std::vector<int64_t>>(), p.shape);
  const uint64_t begin = entry["data_offsets"][0];
  std::vector<float> data(p.data.size());
  std::memcpy(data.data(), bytes.data() + 8 + n + begin, data.size() * sizeof(float));
  EXPECT_EQ(data, p.data);
  EXPECT_TRUE(header.contains("optimizer.exp_avg." + p.name));
  EXPECT_TRUE(header.contains("optimizer.exp_avg_sq." + p.name));
}

TEST_F(CheckpointTest, KeepsTheNewestCommittedSteps) {
  Stage stage(testing::Build(options_, 3, 4));
  EXPECT_EQ(LoadLatest(dir_).status().code(), absl::StatusCode::kNotFound);
  for (int64_t step : {1, 2, 3, 4}) Save(stage, step, /*keep=*/2);
  EXPECT_FALSE(fs::exists(StepDirectory(dir_, 2)));
  EXPECT_TRUE(fs::exists(StepDirectory(dir_, 3)));
  EXPECT_TRUE(fs::exists(StepDirectory(dir_, 4)));
  EXPECT_EQ(CommitCheckpoint(dir_, 5, {}).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tangram::train
