// The fidelity study (docs/simulator.md): published large-scale runs re-simulated exactly as they
// ran (configs/published/), predicted per-GPU throughput against the published figure. Nothing
// is fitted to these runs: device throughput is the catalog peak × the cost model's stated
// default efficiency. The errors are printed; the test guards them against regressions.
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "orchestrator/simulator/run.h"

namespace tangram::simulator {
namespace {

struct Published {
  const char* job;  // under configs/published/jobs/
  const char* source;
  double tflops_per_gpu;  // as published: 96·B·s·l·h²·(1 + s/6h + V/16lh) per step, recompute in
};

// Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using
// Megatron-LM", SC'21, arXiv 2104.04473, Table 1.
const Published kRuns[] = {
    {"megatron-gpt3-175b.yaml", "Narayanan et al. SC'21 Table 1 (175B, 1,024 A100)", 153},
    {"megatron-gpt-530b.yaml", "Narayanan et al. SC'21 Table 1 (530B, 2,520 A100)", 163},
    {"megatron-gpt-1t.yaml", "Narayanan et al. SC'21 Table 1 (1T, 3,072 A100)", 163},
};

TEST(FidelityTest, PublishedRunsPerGpuThroughput) {
  const char* root = std::getenv("TANGRAM_SOURCE_DIR");
  const std::string dir = std::string(root != nullptr ? root : ".") + "/configs/published/jobs/";
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  std::cout << absl::StrFormat("%-28s %14s %14s %8s\n", "run", "published tok/s", "simulated",
                               "error");
  for (const Published& p : kRuns) {
    auto job = orchestrator::LoadJob(dir + p.job, *catalog);
    ASSERT_TRUE(job.ok()) << job.status();
    RunOptions options;
    auto run = SimulateRun(job->fleet, job->model, job->training, std::nullopt, "uniform", options);
    ASSERT_TRUE(run.ok()) << p.job << ": " << run.status();
    const auto& m = job->model;
    const double l = m.layers, h = m.hidden, s = m.seq_len, v = m.vocab;
    const double flops_per_token = 96 * l * h * h * (1 + s / (6 * h) + v / (16 * l * h));
    // The paper's formula counts 96·B·s·l·h²(…) per step, i.e. 96·l·h²(…) per token.
    const double published = p.tflops_per_gpu * 1e12 / flops_per_token;
    const double devices = static_cast<double>(job->fleet.num_devices());
    const double simulated = run->last.tokens_per_s / devices;
    const double error = simulated / published - 1;
    std::cout << absl::StrFormat("%-28s %14.1f %14.1f %+7.1f%%   (%s)\n", p.job, published,
                                 simulated, 100 * error, p.source);
    // The target is ±10%; with the stated default efficiency (0.45 of peak) the
    // simulator is pessimistic on these runs (docs/simulator.md). Guard against regressions.
    EXPECT_LT(std::abs(error), 0.35) << p.job;
  }
}

}  // namespace
}  // namespace tangram::simulator
