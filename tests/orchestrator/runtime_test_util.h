// Shared by the runtime tests: a small job written to a temporary directory, hand-made plans, and
// the serial reference every distributed run must match.
#ifndef TANGRAM_TESTS_ORCHESTRATOR_RUNTIME_TEST_UTIL_H_
#define TANGRAM_TESTS_ORCHESTRATOR_RUNTIME_TEST_UTIL_H_

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "orchestrator/model/layer_state.h"
#include "orchestrator/model/serial_trainer.h"
#include "orchestrator/runtime/train_job.h"
#include "partitioner/device_catalog.h"
#include "partitioner/plan.h"
#include "partitioner/plan_json.h"

namespace tangram::testing {

namespace fs = std::filesystem;

// The model every runtime test trains: 2 blocks (4 layers: embedding, block.0, block.1, head).
inline constexpr char kModel[] = R"(name: test-gpt
layers: 2
hidden: 32
ffn_hidden: 64
heads: 2
kv_heads: 2
vocab: 256
seq_len: 16
mlp: gelu
)";
// The tensor-parallel tests' model: 6 heads (and ffn_hidden 96) divide by tp 2 and 3.
inline constexpr char kTpModel[] = R"(name: test-gpt-tp
layers: 2
hidden: 48
ffn_hidden: 96
heads: 6
kv_heads: 6
vocab: 256
seq_len: 16
mlp: gelu
)";
inline const train::GptSpec kSpec = {256, 16, 32, 2, 64, 2};
inline const train::GptSpec kTpSpec = {256, 16, 48, 6, 96, 2};
inline constexpr int kLayers = 4;
inline constexpr int64_t kGlobalBatch = 8;
inline constexpr int64_t kMicroBatch = 2;
inline constexpr double kLearningRate = 0.01;
inline constexpr uint64_t kSeed = 7;

class TempJob {
 public:
  // A job over `ranks` CPU devices on one host, with the given emulated slowdowns (default 1).
  explicit TempJob(int ranks, std::vector<double> slowdowns = {},
                   const std::string& strategy = "auto", const std::string& extra = "",
                   const std::string& model = kModel) {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("tangram_runtime_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_", ranks,
                        "_", counter_++);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string fleet = "name: test-fleet\nnodes:\n";
    for (int r = 0; r < ranks; ++r) {
      double s = r < static_cast<int>(slowdowns.size()) ? slowdowns[r] : 1.0;
      absl::StrAppend(&fleet, "  - device: cpu\n    devices_per_node: 1\n    count: 1\n",
                      "    host: local\n    emulate_slowdown: ", s, "\n");
    }
    Write("fleet.yaml", fleet);
    Write("model.yaml", model);
    Write("job.yaml",
          absl::StrCat("fleet: fleet.yaml\nmodel: model.yaml\nglobal_batch: ", kGlobalBatch,
                       "\nmicro_batch: ", kMicroBatch,
                       "\nprecision: fp32\nzero_stage: 0\nrecompute: none\nstrategy: ", strategy,
                       "\ntransport: sim\nsteps: 3\ncheckpoint_dir: ckpt\n", "seed: ", kSeed,
                       "\nlearning_rate: ", kLearningRate, "\n", extra));
  }
  ~TempJob() { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::string path() const { return (dir_ / "job.yaml").string(); }
  std::string dir() const { return dir_.string(); }
  orchestrator::JobConfig Load() const {
    auto job = orchestrator::LoadJob(path(), Catalog());
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }
  static const partitioner::DeviceCatalog& Catalog() {
    static const auto* catalog =
        new partitioner::DeviceCatalog(partitioner::DeviceCatalog::BuiltIn().value());
    return *catalog;
  }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
};

inline std::vector<std::string> LayerNames() { return {"embedding", "block.0", "block.1", "head"}; }

// A plan: `bounds` are the stage boundaries (pp+1 entries, 0 .. kLayers), `shares` each
// replica's samples; rank of (stage s, replica r, tensor-parallel rank k) = (r * pp + s) * tp + k.
inline partitioner::Plan MakeTestPlan(std::vector<int64_t> bounds, std::vector<int64_t> shares,
                                      int64_t micro_batch = kMicroBatch, int tp = 1) {
  partitioner::Plan plan;
  plan.strategy = partitioner::StrategyKind::kUniform;
  plan.fleet = "test-fleet";
  plan.model = "test-gpt";
  plan.tp = tp;
  plan.pp = static_cast<int>(bounds.size()) - 1;
  plan.dp = static_cast<int>(shares.size());
  plan.global_batch = kGlobalBatch;
  plan.seq_len = 16;
  plan.precision = partitioner::Precision::kFp32;
  plan.layer_names = LayerNames();
  for (int s = 0; s < plan.pp; ++s) {
    partitioner::PlanStage stage;
    stage.index = s;
    stage.layer_begin = bounds[s];
    stage.layer_end = bounds[s + 1];
    for (int r = 0; r < plan.dp; ++r) {
      partitioner::PlanCell cell;
      cell.replica = r;
      for (int k = 0; k < tp; ++k) cell.devices.push_back((r * plan.pp + s) * tp + k);
      cell.kind = "cpu";
      stage.cells.push_back(cell);
    }
    plan.stages.push_back(stage);
  }
  for (int r = 0; r < plan.dp; ++r) {
    partitioner::PlanReplica replica;
    replica.index = r;
    replica.samples = shares[r];
    replica.micro_batch_size = micro_batch;
    replica.micro_batches = (shares[r] + micro_batch - 1) / micro_batch;
    plan.replicas.push_back(replica);
  }
  return plan;
}

// The serial reference: the whole model, the whole batch, one process.
inline std::map<std::string, std::vector<float>> SerialParameters(
    int steps, std::vector<double>* losses = nullptr, const train::GptSpec& spec = kSpec) {
  train::SerialTrainerOptions o;
  o.model.spec = spec;
  o.model.seed = kSeed;
  o.corpus.seed = kSeed;
  o.corpus.seq_len = 16;
  o.global_batch = kGlobalBatch;
  o.micro_batch = kMicroBatch;
  o.adamw.learning_rate = static_cast<float>(kLearningRate);
  auto trainer = train::SerialTrainer::Create(o);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  for (int s = 0; s < steps; ++s) {
    auto loss = (*trainer)->Step();
    EXPECT_TRUE(loss.ok()) << loss.status();
    if (losses) losses->push_back(*loss);
  }
  std::map<std::string, std::vector<float>> out;
  train::Stage& stage = (*trainer)->stage();
  for (int64_t i = 0; i < stage.size(); ++i) {
    for (const auto* t : stage.layer(i).parameters()) out[t->name] = t->data;
  }
  return out;
}

inline std::map<std::string, std::vector<float>> Flatten(
    const std::map<std::string, train::LayerState>& layers) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, state] : layers) {
    for (const auto& t : state.params) out[t.name] = t.data;
  }
  return out;
}

// fp32 tolerance. A distributed run sums the same per-sample gradients in another order, so they
// differ from the serial ones by rounding (~1e-7 relative). AdamW normalises each update (m/√v),
// so an element whose gradient is near zero can move by a visible fraction of the learning rate
// (0.01) on rounding alone: the largest difference is held to 1e-3 (a tenth of one step's update)
// and the mean to 1e-5. A wrong batch share or a lost micro-batch moves parameters by ~1e-2.
inline constexpr double kTolerance = 1e-3;
inline constexpr double kMeanTolerance = 1e-5;

inline void ExpectSameParameters(const std::map<std::string, std::vector<float>>& expected,
                                 const std::map<std::string, std::vector<float>>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  double worst = 0, sum = 0;
  size_t n = 0;
  for (const auto& [name, values] : expected) {
    auto it = actual.find(name);
    ASSERT_NE(it, actual.end()) << name;
    ASSERT_EQ(values.size(), it->second.size()) << name;
    for (size_t i = 0; i < values.size(); ++i) {
      double d = std::abs(static_cast<double>(values[i]) - it->second[i]);
      worst = std::max(worst, d);
      sum += d;
      ++n;
    }
  }
  EXPECT_LT(worst, kTolerance);
  EXPECT_LT(sum / n, kMeanTolerance) << "worst " << worst;
  if (std::getenv("TANGRAM_TEST_VERBOSE"))
    std::cerr << "worst " << worst << " mean " << sum / n << "\n";
}

// Trains `job` on `ranks` simulated ranks (threads in this process), collecting every rank's
// layers for comparison with the serial reference; checkpoints go under the job's directory unless
// `options` name another.
inline absl::StatusOr<orchestrator::TrainResult> Train(const TempJob& job, int ranks,
                                                       orchestrator::TrainOptions options) {
  options.collect_layers = true;
  if (options.checkpoint_dir.empty()) options.checkpoint_dir = job.dir() + "/ckpt";
  orchestrator::TrainLaunch launch;
  launch.transport = "sim";
  launch.ranks = ranks;
  launch.timeout = absl::Seconds(30);
  return orchestrator::RunTraining(job.Load(), TempJob::Catalog(), options, launch);
}

// Every line the process logs (base/log.h) while in scope: rank 0's progress of a run.
class LogCapture {
 public:
  LogCapture()
      : capture_([this](logging::Level, absl::string_view line) {
          std::lock_guard<std::mutex> lock(mu_);
          absl::StrAppend(&text_, line, "\n");
        }) {}
  std::string str() const {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
  logging::ScopedCapture capture_;  // last: it starts writing into text_ once constructed
};

}  // namespace tangram::testing

#endif  // TANGRAM_TESTS_ORCHESTRATOR_RUNTIME_TEST_UTIL_H_
