// The runtime refuses what must not be trained on or committed: a damaged or mistyped checkpoint
// (one refusal code), non-finite weights, an unwritable checkpoint directory, an emulated rank that
// does not exist; retention never trades a committed step for an orphan; a rank whose launcher is
// gone stops.
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <limits>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "orchestrator/model/checkpoint.h"
#include "orchestrator/runtime/stop_request.h"
#include "partitioner/plan_json.h"
#include "runtime_test_util.h"

namespace tangram::testing {
namespace {

using orchestrator::TrainOptions;
using ::testing::HasSubstr;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

train::LayerState SmallLayer(const std::string& name, float value) {
  train::LayerState s;
  s.layer = name;
  train::Tensor t = train::Tensor::Zeros(name + ".w", {2});
  t.data = {value, value};
  s.params.push_back(t);
  s.optimizer.m.push_back(train::Tensor::Zeros(name + ".w", {2}));
  s.optimizer.v.push_back(train::Tensor::Zeros(name + ".w", {2}));
  return s;
}

void Commit(const std::string& dir, int64_t step, int keep = 2) {
  auto info = train::WriteLayerCheckpoint(dir, step, SmallLayer("l", static_cast<float>(step)));
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_TRUE(train::CommitCheckpoint(dir, step, {*info}, keep).ok());
}

TEST(RuntimeHardeningTest, ManifestWithWrongJsonTypesIsRefusedNamingTheFile) {
  TempJob job(1);
  const std::string dir = job.dir() + "/ckpt";
  Commit(dir, 1);
  const std::string manifest = train::StepDirectory(dir, 1) + "/MANIFEST.json";
  nlohmann::json good = nlohmann::json::parse(Slurp(manifest));
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"version", "1"}, {"version", 1.5}, {"format", 7}, {"format", nullptr}}) {
    nlohmann::json bad = good;
    bad[key] = value;
    std::ofstream(manifest) << bad.dump();
    auto loaded = train::LoadLatest(dir);  // threw type_error.302 before
    ASSERT_FALSE(loaded.ok()) << key;
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(manifest));
  }
}

TEST(RuntimeHardeningTest, RetentionNeverKeepsAnOrphanOverACommittedStep) {
  TempJob job(1);
  const std::string dir = job.dir() + "/ckpt";
  Commit(dir, 10);
  Commit(dir, 30);                                    // an abandoned run's step ...
  std::ofstream(dir + "/LATEST") << "step-000020\n";  // ... that LATEST no longer names
  Commit(dir, 20);
  Commit(dir, 25, /*keep=*/2);
  EXPECT_TRUE(fs::exists(train::StepDirectory(dir, 20)));  // committed, among the 2 newest
  EXPECT_TRUE(fs::exists(train::StepDirectory(dir, 25)));
  EXPECT_FALSE(fs::exists(train::StepDirectory(dir, 30)));  // the orphan
  EXPECT_FALSE(fs::exists(train::StepDirectory(dir, 10)));
  auto latest = train::LoadLatest(dir);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->step, 25);
}

TEST(RuntimeHardeningTest, RefusedCheckpointsShareOneCode) {
  TempJob job(2);
  TrainOptions options;
  options.steps = 1;
  ASSERT_TRUE(Train(job, 2, options).ok());
  options.steps = 2;
  options.resume = true;
  // Damaged: a layer file's bytes changed.
  const std::string step_dir = train::StepDirectory(job.dir() + "/ckpt", 1);
  std::ofstream(step_dir + "/layer-head.safetensors", std::ios::app) << "x";
  auto damaged = Train(job, 2, options);
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kFailedPrecondition) << damaged.status();
  EXPECT_THAT(std::string(damaged.status().message()), HasSubstr("checkpoint refused"));
  // Missing: no checkpoint at all in another directory.
  options.resume_dir = job.dir() + "/empty";
  fs::create_directories(options.resume_dir);
  auto missing = Train(job, 2, options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition) << missing.status();
}

// `train --resume A --checkpoint-dir B` reads from A and writes to B (it ignored A before).
TEST(RuntimeHardeningTest, ResumeDirIsReadEvenWithAnotherCheckpointDir) {
  TempJob job(2);
  TrainOptions options;
  options.steps = 1;
  options.checkpoint_dir = job.dir() + "/a";
  ASSERT_TRUE(Train(job, 2, options).ok());
  options.steps = 2;
  options.resume = true;
  options.resume_dir = job.dir() + "/a";
  options.checkpoint_dir = job.dir() + "/b";
  auto resumed = Train(job, 2, options);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->first_step, 1);
  EXPECT_EQ(resumed->losses.size(), 1u);
  EXPECT_TRUE(fs::exists(train::StepDirectory(job.dir() + "/b", 2)));
}

// A checkpoint of another model is refused as a configuration error naming the checkpoint and
// what differs; extra layers were dropped without a word, a missing one was a runtime failure.
TEST(RuntimeHardeningTest, CheckpointOfAnotherModelIsRefused) {
  TempJob written(2);  // kModel: 2 blocks of hidden 32
  TrainOptions options;
  options.steps = 1;
  ASSERT_TRUE(Train(written, 2, options).ok());
  const std::string ckpt = written.dir() + "/ckpt";
  options.steps = 2;
  options.resume = true;
  options.resume_dir = ckpt;
  struct Case {
    std::string model;
    std::string expected;
  };
  const std::string model = kModel;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string m = model;
    m.replace(m.find(from), from.size(), to);
    return m;
  };
  for (const Case& c : std::vector<Case>{
           {with("layers: 2", "layers: 1"), "layers the model lacks block.1"},
           {with("layers: 2", "layers: 3"), "missing layers block.2"},
           {with("ffn_hidden: 64", "ffn_hidden: 128"), "in the checkpoint, [32, 128] in the model"},
       }) {
    TempJob other(2, {}, "auto", "", c.model);
    options.checkpoint_dir = other.dir() + "/ckpt";
    LogCapture log;
    auto run = Train(other, 2, options);
    ASSERT_FALSE(run.ok()) << c.expected;
    EXPECT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition) << run.status();
    EXPECT_THAT(std::string(run.status().message()), HasSubstr(ckpt + "/step-000001"));
    EXPECT_THAT(std::string(run.status().message()), HasSubstr("is not of model test-gpt"));
    EXPECT_THAT(std::string(run.status().message()), HasSubstr(c.expected));
    EXPECT_THAT(log.str(), ::testing::Not(HasSubstr("measured"))) << log.str();
  }
  // The model that wrote it resumes, and says where its own checkpoints go.
  options.checkpoint_dir = "";
  LogCapture log;
  auto same = Train(written, 2, options);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_THAT(log.str(), HasSubstr("checkpoints go to"));
}

// Fewer ranks than fleet devices train on the first devices: rank 0 names the unused ones, in the
// log and in the result's warnings (it said nothing before). Odd and even counts of each.
TEST(RuntimeHardeningTest, FewerRanksThanDevicesNameTheUnusedOnes) {
  for (auto [devices, ranks] : std::vector<std::pair<int, int>>{{4, 3}, {5, 2}}) {
    TempJob job(devices);
    TrainOptions options;
    options.steps = 1;
    LogCapture log;
    auto run = Train(job, ranks, options);
    ASSERT_TRUE(run.ok()) << run.status();
    std::vector<std::string> unused;
    for (int d = ranks; d < devices; ++d) unused.push_back(absl::StrCat(d, " (cpu on local)"));
    const std::string expected = absl::StrCat(
        ranks, " ranks for the ", devices, " devices of the fleet (", job.dir(),
        "/fleet.yaml): ", devices - ranks, " devices unused: ", absl::StrJoin(unused, ", "), ";");
    EXPECT_THAT(log.str(), HasSubstr(expected)) << log.str();
    ASSERT_EQ(run->warnings.size(), 1u);
    EXPECT_THAT(run->warnings[0], HasSubstr(expected));
  }
  TempJob all(2);
  TrainOptions options;
  options.steps = 1;
  auto run = Train(all, 2, options);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_TRUE(run->warnings.empty());
}

TEST(RuntimeHardeningTest, NonFiniteWeightsStopBeforeAnythingIsCommitted) {
  TempJob job(2);
  TrainOptions options;
  options.steps = 1;
  ASSERT_TRUE(Train(job, 2, options).ok());
  // NaN weights written as a valid checkpoint (sizes and checksums recomputed).
  const std::string dir = job.dir() + "/ckpt";
  auto checkpoint = train::LoadLatest(dir);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  std::vector<train::LayerFileInfo> infos;
  for (train::LayerState& layer : checkpoint->layers) {
    for (train::Tensor& t : layer.params) t.data[0] = std::numeric_limits<float>::quiet_NaN();
    auto info = train::WriteLayerCheckpoint(dir, 1, layer);
    ASSERT_TRUE(info.ok());
    infos.push_back(*info);
  }
  ASSERT_TRUE(train::CommitCheckpoint(dir, 1, infos).ok());
  options.steps = 3;
  options.resume = true;
  auto resumed = Train(job, 2, options);
  ASSERT_FALSE(resumed.ok());
  EXPECT_THAT(std::string(resumed.status().message()), HasSubstr("non-finite"));
  EXPECT_EQ(Slurp(dir + "/LATEST"), "step-000001\n");  // nothing newer committed
  EXPECT_FALSE(fs::exists(train::StepDirectory(dir, 3)));
}

TEST(RuntimeHardeningTest, UnwritableCheckpointDirFailsBeforeTraining) {
  TempJob job(1);
  EXPECT_TRUE(orchestrator::CheckWritableDirectory(job.dir() + "/new/ckpt").ok());
  // A regular file where the directory should be: refused whoever runs the test (root too).
  const std::string file = job.Write("file", "x");
  absl::Status s = orchestrator::CheckWritableDirectory(file + "/ckpt");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr(file));
  TrainOptions options;
  options.steps = 1;
  options.checkpoint_dir = file + "/ckpt";
  auto run = Train(job, 1, options);
  EXPECT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition);
}

// SIGUSR1 (stop_request.h, a cluster's notice before a time limit or preemption): every rank
// stops after the same step with that step's checkpoint committed, and the resumed run ends
// where an uninterrupted one does (the serial reference). Two ranks in a pipeline, three in
// uneven data parallelism. The signal is raised before the run, so the step it ends is known;
// tests/cluster/stop_request_test.sh sends it to mpirun in the middle of a run.
TEST(RuntimeHardeningTest, AStopRequestEndsEveryRankAfterOneStepWithItsCheckpoint) {
  for (int ranks : {2, 3}) {
    TempJob job(ranks);
    TrainOptions options;
    const partitioner::Plan plan =
        ranks == 2 ? MakeTestPlan({0, 2, 4}, {8}) : MakeTestPlan({0, 4}, {3, 3, 2});
    options.plan_path = job.Write("plan.json", partitioner::PlanToJsonString(plan));
    options.steps = 4;
    orchestrator::InstallStopRequestHandler();
    ASSERT_EQ(raise(SIGUSR1), 0);
    ASSERT_TRUE(orchestrator::StopRequested());
    auto stopped = Train(job, ranks, options);
    orchestrator::ClearStopRequest();
    ASSERT_TRUE(stopped.ok()) << stopped.status();
    EXPECT_TRUE(stopped->stopped_on_request) << ranks << " ranks";
    EXPECT_EQ(stopped->steps_done, 1);
    EXPECT_EQ(stopped->losses.size(), 1u);
    EXPECT_TRUE(fs::exists(train::StepDirectory(job.dir() + "/ckpt", 1)));
    options.resume = true;
    auto resumed = Train(job, ranks, options);
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    EXPECT_FALSE(resumed->stopped_on_request);
    EXPECT_EQ(resumed->first_step, 1);
    EXPECT_EQ(resumed->steps_done, 4);
    ExpectSameParameters(SerialParameters(4), Flatten(resumed->layers));
  }
}

TEST(RuntimeHardeningTest, EmulatedChangeOfAMissingRankIsRefused) {
  TempJob job(2);
  TrainOptions options;
  options.steps = 1;
  options.slowdown_changes.push_back({/*rank=*/99, /*step=*/0, /*factor=*/2});
  auto run = Train(job, 2, options);
  EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(run.status().message()), HasSubstr("rank 99 does not exist"));
}

// A grandchild that asked to die with its parent holds a pipe open; once its parent exits, the
// pipe closes (EOF) because the kernel killed it.
TEST(RuntimeHardeningTest, RankDiesWithItsLauncher) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pid_t grandchild = fork();
    if (grandchild == 0) {
      close(fds[0]);
      if (!orchestrator::DieWithParent().ok()) _exit(3);
      (void)!write(fds[1], "ab", 2);  // "a" for its parent, "b" for the test
      for (;;) pause();               // an orphan would wait here forever
    }
    close(fds[1]);
    char c;
    (void)!read(fds[0], &c, 1);  // "a": the grandchild is armed
    _exit(0);                    // the "launcher" dies
  }
  close(fds[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  // Read until EOF: "b", then EOF once the grandchild is gone (a hang here is the failure, caught
  // by ctest's timeout).
  std::string got;
  char buf[8];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) got.append(buf, n);
  close(fds[0]);
  EXPECT_EQ(got, "b");
}

}  // namespace
}  // namespace tangram::testing
