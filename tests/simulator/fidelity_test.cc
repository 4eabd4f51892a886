// The fidelity study (docs/simulator.md): published large-scale runs re-simulated exactly as they
// ran (configs/published/), predicted per-GPU throughput against the published figure. Nothing
// is fitted to these runs: device speed is the cost model's stated default (catalog peak ×
// CostOptions::default_efficiency), and the pipeline bubble, tensor- and data-parallel
// communication and the optimizer step come from the simulation. Like is compared with like: every
// published figure here is model TFLOP/s per GPU counted with recompute, 96·B·s·l·h²·(1 + s/6h +
// V/16lh) per step (Narayanan et al. eq. 3; Megatron-DeepSpeed's formula for BLOOM), so the
// simulated step time is converted with that same formula. The errors are printed; see kGuard for
// the bound.
#include <cstdlib>
#include <iostream>

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
  bool flash_attention;  // whether the run's attention kept the s×s scores (false: it did)
};

const Published kRuns[] = {
    // Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using
    // Megatron-LM", SC'21, arXiv 2104.04473: Table 2 (PTD-P, 175B) and Table 1 (530B, 1T).
    {"megatron-gpt3-175b-384.yaml", "Narayanan et al. SC'21 Table 2 (175B, 384 A100)", 153, false},
    {"megatron-gpt3-175b-1536.yaml", "Narayanan et al. SC'21 Table 2 (175B, 1,536 A100)", 141,
     false},
    {"megatron-gpt-530b.yaml", "Narayanan et al. SC'21 Table 1 (530B, 2,520 A100)", 163, false},
    {"megatron-gpt-1t.yaml", "Narayanan et al. SC'21 Table 1 (1T, 3,072 A100)", 163, false},
    // BigScience, "BLOOM", arXiv 2211.05100 §3.4 and the tr11-176B-ml README: ~150 TFLOP/s.
    {"bloom-176b-384.yaml", "BigScience BLOOM-176B (384 A100)", 150, false},
};

// The target is ±10%. It is not met: the cost model still applies an end-to-end
// utilisation (CostOptions::default_efficiency, 0.45) as the kernel rate, so the simulator is
// pessimistic on these runs (docs/simulator.md). This bound only guards the printed errors
// against regressions; tighten it to 0.10 when the kernel-level compute model lands.
constexpr double kGuard = 0.35;

TEST(FidelityTest, PublishedRunsPerGpuThroughput) {
  const char* root = std::getenv("TANGRAM_SOURCE_DIR");
  const std::string dir = std::string(root != nullptr ? root : ".") + "/configs/published/jobs/";
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  std::cout << absl::StrFormat("%-30s %12s %12s %8s\n", "run", "published", "simulated", "error");
  for (const Published& p : kRuns) {
    auto job = orchestrator::LoadJob(dir + p.job, *catalog);
    ASSERT_TRUE(job.ok()) << job.status();
    partitioner::CostOptions cost_options;
    cost_options.layers.flash_attention = p.flash_attention;
    auto cost = partitioner::CostModel::Create(job->fleet, job->model, job->training, cost_options);
    ASSERT_TRUE(cost.ok()) << cost.status();
    auto plan = partitioner::MakePlan(*cost, "uniform");
    ASSERT_TRUE(plan.ok()) << p.job << ": " << plan.status();
    SimOptions sim;
    const int v = job->training.layout.virtual_stages.value_or(1);
    if (v > 1) {
      sim.schedule = "interleaved";
      sim.virtual_stages = v;
    }
    auto step = Simulate(*cost, *plan, sim);
    ASSERT_TRUE(step.ok()) << p.job << ": " << step.status();
    const auto& m = job->model;
    const double l = m.layers, h = m.hidden, s = m.seq_len, vocab = m.vocab;
    const double batch = static_cast<double>(job->training.global_batch);
    const double flops = 96 * batch * s * l * h * h * (1 + s / (6 * h) + vocab / (16 * l * h));
    const double devices = static_cast<double>(job->fleet.num_devices());
    const double simulated = flops / step->step_time_s / devices / 1e12;
    const double error = simulated / p.tflops_per_gpu - 1;
    std::cout << absl::StrFormat("%-30s %12.1f %12.1f %+7.1f%%   (%s)\n", p.job, p.tflops_per_gpu,
                                 simulated, 100 * error, p.source);
    EXPECT_LT(std::abs(error), kGuard) << p.job;
  }
}

}  // namespace
}  // namespace tangram::simulator
