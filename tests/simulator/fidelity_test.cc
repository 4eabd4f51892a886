// The fidelity study (docs/simulator.md): published large-scale runs re-simulated exactly as they
// ran (configs/published/: layout, micro-batch, precision, recompute, attention kernel, sequence
// parallelism, gradient-reduction overlap), predicted per-GPU throughput against the published
// figure. Device speed is the cost model's kernel model: catalog peak × the measured best-shape
// matmul efficiency × kSustainedMatmulFraction, plus memory-bound bytes at HBM bandwidth. That
// fraction is the one constant taken from a run, and from one run only, chosen beforehand as the
// least confounded: Megatron-LM's 22B on a single DGX A100 node (no pipeline, no data
// parallelism). CalibrationRunGivesTheSustainedFraction re-derives it; the eight other runs are
// the validation and must land within the issue's ±10%. Like is compared with like: every
// published figure here is model TFLOP/s per GPU counted with recompute, 96·B·s·l·h²·(1 + s/6h +
// V/16lh) per step (Narayanan et al. eq. 3; Megatron-DeepSpeed's formula for BLOOM), so the
// simulated step time is converted with that same formula; Korthikanti et al. give iteration
// times, converted by the same formula. The errors are printed.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "orchestrator/simulator/simulator.h"
#include "partitioner/cost_model.h"
#include "partitioner/strategy.h"

namespace tangram::simulator {
namespace {

struct Published {
  const char* job;  // under configs/published/jobs/
  const char* source;
  double tflops_per_gpu;  // as published: 96·B·s·l·h²·(1 + s/6h + V/16lh) per step ÷ time ÷ GPUs
  double step_time_s = 0;  // when the source gives the iteration time instead of TFLOP/s
};

// The calibration run (see the file comment): Korthikanti et al. 2022, Table 5, 22B, full
// recompute, 1.42 s per iteration on 8 A100.
const Published kCalibration = {"korthikanti-22b-full.yaml",
                                "Korthikanti et al. 2022 Table 5 (22B, 8 A100)", 0, 1.42};

const Published kRuns[] = {
    // Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using
    // Megatron-LM", SC'21, arXiv 2104.04473: Table 2 (PTD-P, 175B) and Table 1 (530B, 1T).
    // Table 1's weak-scaling rows, with examples/sc21/run_table_1.sh's layouts and micro-batches.
    {"megatron-gpt-1.7b.yaml", "Narayanan et al. SC'21 Table 1 (1.7B, 32 A100)", 137},
    {"megatron-gpt-3.6b.yaml", "Narayanan et al. SC'21 Table 1 (3.6B, 64 A100)", 138},
    {"megatron-gpt-7.5b.yaml", "Narayanan et al. SC'21 Table 1 (7.5B, 128 A100)", 142},
    {"megatron-gpt-18b.yaml", "Narayanan et al. SC'21 Table 1 (18B, 256 A100)", 135},
    {"megatron-gpt-39b.yaml", "Narayanan et al. SC'21 Table 1 (39B, 512 A100)", 138},
    {"megatron-gpt-76b.yaml", "Narayanan et al. SC'21 Table 1 (76B, 1,024 A100)", 140},
    {"megatron-gpt-145b.yaml", "Narayanan et al. SC'21 Table 1 (145B, 1,536 A100)", 148},
    {"megatron-gpt-310b.yaml", "Narayanan et al. SC'21 Table 1 (310B, 1,920 A100)", 155},
    {"megatron-gpt3-175b-384.yaml", "Narayanan et al. SC'21 Table 2 (175B, 384 A100)", 153},
    {"megatron-gpt3-175b-1536.yaml", "Narayanan et al. SC'21 Table 2 (175B, 1,536 A100)", 141},
    {"megatron-gpt-530b.yaml", "Narayanan et al. SC'21 Table 1 (530B, 2,520 A100)", 163},
    {"megatron-gpt-1t.yaml", "Narayanan et al. SC'21 Table 1 (1T, 3,072 A100)", 163},
    // BigScience BLOOM-176B (arXiv 2211.05100): 156 TFLOP/s per GPU sustained, as GENCI/IDRIS
    // report it (the model card's running estimate said "about 150").
    {"bloom-176b-384.yaml", "BigScience BLOOM-176B (384 A100)", 156},
    // Korthikanti et al. 2022, arXiv 2205.05198, Table 5 (full recompute, no sequence parallelism).
    {"korthikanti-175b-full.yaml", "Korthikanti et al. 2022 Table 5 (175B, 64 A100)", 0, 18.13},
    {"korthikanti-530b-full.yaml", "Korthikanti et al. 2022 Table 5 (530B, 280 A100)", 0, 49.05},
    {"korthikanti-1t-full.yaml", "Korthikanti et al. 2022 Table 5 (1T, 512 A100)", 0, 94.42},
    // The same table with sequence parallelism and selective recompute.
    {"korthikanti-22b-seqsel.yaml", "Korthikanti et al. 2022 Table 5 (22B seq+sel)", 0, 1.10},
    {"korthikanti-175b-seqsel.yaml", "Korthikanti et al. 2022 Table 5 (175B seq+sel)", 0, 13.75},
    {"korthikanti-530b-seqsel.yaml", "Korthikanti et al. 2022 Table 5 (530B seq+sel)", 0, 37.83},
    {"korthikanti-1t-seqsel.yaml", "Korthikanti et al. 2022 Table 5 (1T seq+sel)", 0, 71.49},
};

constexpr double kTarget = 0.10;  // the bound on the per-GPU throughput error

std::string JobPath(const Published& p) {
  const char* root = std::getenv("TANGRAM_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/configs/published/jobs/" + p.job;
}

struct Outcome {
  double published = 0;  // TFLOP/s per GPU
  double simulated = 0;
};

// Simulates `p` exactly as it ran; gemm_efficiency 0 = the cost model's per-kind default.
absl::StatusOr<Outcome> Simulated(const Published& p, double gemm_efficiency = 0) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  if (!catalog.ok()) return catalog.status();
  auto job = orchestrator::LoadJob(JobPath(p), *catalog);
  if (!job.ok()) return job.status();
  partitioner::CostOptions cost_options;
  cost_options.gemm_efficiency = gemm_efficiency;
  auto cost = partitioner::CostModel::Create(job->fleet, job->model, job->training, cost_options);
  if (!cost.ok()) return cost.status();
  auto plan = partitioner::MakePlan(*cost, "uniform");
  if (!plan.ok()) return plan.status();
  SimOptions sim;
  const int v = job->training.layout.virtual_stages.value_or(1);
  if (v > 1) {
    sim.schedule = "interleaved";
    sim.virtual_stages = v;
  }
  auto step = Simulate(*cost, *plan, sim);
  if (!step.ok()) return step.status();
  const auto& m = job->model;
  const double l = m.layers, h = m.hidden, s = m.seq_len, vocab = m.vocab;
  const double batch = static_cast<double>(job->training.global_batch);
  const double flops = 96 * batch * s * l * h * h * (1 + s / (6 * h) + vocab / (16 * l * h));
  const double devices = static_cast<double>(job->fleet.num_devices());
  Outcome o;
  o.simulated = flops / step->step_time_s / devices / 1e12;
  o.published = p.step_time_s > 0 ? flops / p.step_time_s / devices / 1e12 : p.tflops_per_gpu;
  return o;
}

// Solves for the A100 matmul efficiency that reproduces the calibration run and checks that the
// shipped constant is that solution (so nobody can retune it without this test saying so).
TEST(FidelityTest, CalibrationRunGivesTheSustainedFraction) {
  double lo = 0.3, hi = 1.0;
  for (int i = 0; i < 30; ++i) {
    const double mid = (lo + hi) / 2;
    auto o = Simulated(kCalibration, mid);
    ASSERT_TRUE(o.ok()) << o.status();
    (o->simulated < o->published ? lo : hi) = mid;
  }
  const double solved = (lo + hi) / 2;
  const double shipped = partitioner::MatmulEfficiency("A100-80G");
  std::cout << absl::StrFormat(
      "calibration %s: A100 matmul efficiency solved %.4f, shipped %.4f (fraction %.4f of the "
      "best-shape 0.86)\n",
      kCalibration.job, solved, shipped, partitioner::kSustainedMatmulFraction);
  EXPECT_NEAR(shipped, solved, 0.005);
  auto o = Simulated(kCalibration);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_NEAR(o->simulated / o->published, 1.0, 0.01);
}

TEST(FidelityTest, PublishedRunsPerGpuThroughput) {
  std::cout << absl::StrFormat("%-30s %12s %12s %8s\n", "run", "published", "simulated", "error");
  double worst = 0;
  for (const Published& p : kRuns) {
    auto o = Simulated(p);
    ASSERT_TRUE(o.ok()) << p.job << ": " << o.status();
    const double error = o->simulated / o->published - 1;
    worst = std::max(worst, std::abs(error));
    std::cout << absl::StrFormat("%-30s %12.1f %12.1f %+7.1f%%   (%s)\n", p.job, o->published,
                                 o->simulated, 100 * error, p.source);
    EXPECT_LT(std::abs(error), kTarget) << p.job;
  }
  std::cout << absl::StrFormat("worst |error| over %d runs: %.1f%% (target %.0f%%)\n",
                               static_cast<int>(std::size(kRuns)), 100 * worst, 100 * kTarget);
}

}  // namespace
}  // namespace tangram::simulator
