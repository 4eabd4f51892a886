// Per-layer checkpoints: round trip, a crash in the middle leaves the previous checkpoint usable,
// corruption and truncation are errors naming the file, retention keeps the newest.
#include "orchestrator/model/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
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
  std::ofstream(StepDirectory(dir_, 20) + "/layer-block.1.bin.tmp.1234") << "partial";
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
  const std::string file = StepDirectory(dir_, 10) + "/layer-block.0.bin";
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
  const std::string head = StepDirectory(dir_, 20) + "/layer-head.bin";
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

  fs::remove(StepDirectory(dir_, 20) + "/layer-embedding.bin");
  auto missing = LoadCheckpoint(dir_, 20);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(missing.status().message().find("layer-embedding.bin"), absl::string_view::npos);
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
