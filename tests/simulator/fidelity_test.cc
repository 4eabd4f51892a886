// The fidelity study (docs/simulator.md): published large-scale runs re-simulated exactly as they
// ran (configs/published/: layout, micro-batch, precision, recompute, attention kernel, sequence
// parallelism, gradient-reduction overlap), predicted per-GPU throughput against the published
// figure. Device speed is the cost model's kernel model: catalog peak × the measured best-shape
// matmul efficiency × SustainedMatmulFraction(kind), plus memory-bound bytes at HBM bandwidth.
// That fraction is what is taken from runs, single-node runs chosen as the least confounded:
// Megatron-LM's 22B on a DGX A100 (no pipeline, no data parallelism) for Ampere, and MosaicML's
// MPT-7B on 8 H100 against the same on 8 A100 for the Hopper-to-Ampere ratio.
// CalibrationRunsGiveTheSustainedFractions re-derives them; the twenty Megatron-LM and BLOOM runs
// are the validation and must land within the issue's ±10%. Like is compared with like: every
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
#include <vector>

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
  double step_time_s = 0;           // when the source gives the iteration time instead of TFLOP/s
  double tokens_per_s_per_gpu = 0;  // when it gives tokens per second per GPU
  // When it gives TFLOP/s per GPU counted as 6N + 12·l·s·h per token (the cost model's
  // ModelFlopsPerStep; Megatron-Core's and NeMo's convention) for a model the GPT formula above
  // does not describe (gated MLP, grouped-query attention).
  double model_tflops_per_gpu = 0;
};

// The calibration runs (see the file comment): Korthikanti et al. 2022, Table 5, 22B, full
// recompute, 1.42 s per iteration on 8 A100, fixes Ampere's matmul efficiency; MosaicML's MPT-7B
// on 8 H100 (10,643 tokens/s per GPU) and on 8 A100 (4,641), the same model, batch and software,
// fix the Hopper-to-Ampere ratio.
const Published kAmpereRun = {"korthikanti-22b-full.yaml",
                              "Korthikanti et al. 2022 Table 5 (22B, 8 A100)", 0, 1.42};
const Published kHopperPair[2] = {
    {"mosaic-mpt-7b-h100.yaml", "MosaicML MPT benchmarks, H100 80GB BF16", 0, 0, 10643},
    {"mosaic-mpt-7b-a100.yaml", "MosaicML MPT benchmarks, A100 80GB", 0, 0, 4641},
};

// Ascend (DaVinci): MindFormers' Llama 2 7B on one Atlas 800T A2 (8 Ascend 910B), 4160 tokens/s
// per NPU (mindspore-lab/mindformers docs/model_cards/llama2.md, performance table), fixes the
// DaVinci sustained matmul fraction. Chosen beforehand as the least confounded Ascend run: one
// node, no tensor or pipeline parallelism, no recompute.
const Published kAscendRun = {"mindformers-llama2-7b-8p.yaml",
                              "MindFormers llama2.md, llama2_7b bf16, Atlas 800T A2", 0, 0, 4160};

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

// Other software stacks and kinds, simulated the same way: MosaicML's MPT benchmarks
// (mosaicml/llm-foundry scripts/train/benchmarking/README.md; PyTorch FSDP, FlashAttention, no
// pipeline), every one-node sequence-2048 row without activation checkpointing, on A100 80 GB and
// on H100 80 GB. tokens/s per GPU as published.
const Published kOtherStacks[] = {
    {"mosaic-mpt-760m-a100.yaml", "MosaicML MPT benchmarks, A100 80GB", 0, 0, 32434},
    {"mosaic-mpt-1b-a100.yaml", "MosaicML MPT benchmarks, A100 80GB", 0, 0, 20513},
    {"mosaic-mpt-3b-a100.yaml", "MosaicML MPT benchmarks, A100 80GB", 0, 0, 10811},
    {"mosaic-mpt-13b-a100.yaml", "MosaicML MPT benchmarks, A100 80GB", 0, 0, 2262},
    {"mosaic-mpt-1b-h100.yaml", "MosaicML MPT benchmarks, H100 80GB BF16", 0, 0, 45455},
    {"mosaic-mpt-13b-h100.yaml", "MosaicML MPT benchmarks, H100 80GB BF16", 0, 0, 4792},
};

// Published runs added after every constant above was frozen (issue 10 §4), nothing changed for
// them: the other Ascend rows of the same MindFormers table (its configs give each layout), and
// the DeepSpeed-era A100 runs of Megatron-Turing NLG 530B (Smith et al. 2022, arXiv 2201.11990
// §2.4: 60.1, 50.2 and 44.4 s per iteration on 280, 350 and 420 DGX A100).
const Published kOutOfSample[] = {
    {"mindformers-llama2-13b-8p.yaml", "MindFormers llama2.md, llama2_13b bf16, Atlas 800T A2", 0,
     0, 1691},
    {"mindformers-llama2-70b-32p.yaml", "MindFormers llama2.md, llama2_70b_32p, Atlas 800T A2", 0,
     0, 337},
    {"mindformers-llama2-70b-64p.yaml", "MindFormers llama2.md, llama2_70b_64p, Atlas 900 A2 PoDc",
     0, 0, 405},
    // A second Ascend stack: ModelLink (MindSpeed, Megatron-Core on Ascend), README table of
    // pre-training performance on Atlas 900 A2 PODc, measured with MC2 (tensor-parallel
    // communication fused with the matmuls: tp_comm_overlap) on; layouts from its example scripts.
    {"modellink-llama2-7b-8p.yaml", "ModelLink README, LLaMA2 7B 1x8 (PODc)", 0, 0, 4672},
    {"modellink-llama2-13b-8p.yaml", "ModelLink README, LLaMA2 13B 1x8 (PODc)", 0, 0, 2016},
    {"modellink-codellama-34b-16p.yaml", "ModelLink README, LLaMA2 34B 2x8 (PODc)", 0, 0, 810},
    {"modellink-llama2-70b-32p.yaml", "ModelLink README, LLaMA2 70B 4x8 (PODc)", 0, 0, 439},
    {"modellink-llama3-8b-8p.yaml", "ModelLink README, LLaMA3 8B 1x8 (PODc)", 0, 0, 2400},
    {"mt-nlg-530b-2240.yaml", "Smith et al. 2022 §2.4 (MT-NLG 530B, 2,240 A100)", 0, 60.1},
    {"mt-nlg-530b-2800.yaml", "Smith et al. 2022 §2.4 (MT-NLG 530B, 2,800 A100)", 0, 50.2},
    {"mt-nlg-530b-3360.yaml", "Smith et al. 2022 §2.4 (MT-NLG 530B, 3,360 A100)", 0, 44.4},
};

// H100 BF16 runs (issue 10 §4: the Hopper fraction's first validation against measured Hopper
// runs), added with every constant frozen: NVIDIA's DGX Cloud benchmarks of NeMo on DGX H100
// (NVIDIA/dgxc-benchmarking @ 35a9aecc, release 24.11.1; each job file names its table, column
// and configuration files), the smallest and the largest scale of each weak-scaling table.
// Measured seconds per step, the last of 50 steps. One structural switch was added with them,
// pipeline_p2p: overlapped (set from each run's own configuration; no constant): GPT-3 175B
// -3.8/-2.6 %
// -> -0.2/+1.0 %, Llama 3 405B -2.5 -> -2.2 %. Nemotron-4 340B was first simulated without its
// launch script's tp_comm_overlap override (-15.2/-11.2 %); as configured: -5.7/-1.2 %.
const Published kHopperRuns[] = {
    {"nemo-gpt3-175b-h100-128.yaml", "dgxc-benchmarking README_175b, NeMo 24.11 BF16, 128 H100", 0,
     8.91},
    {"nemo-gpt3-175b-h100-2048.yaml", "dgxc-benchmarking README_175b, NeMo 24.11 BF16, 2048 H100",
     0, 9.02},
    {"nemo-nemotron4-15b-h100-16.yaml", "dgxc-benchmarking README_15b, 24.11 BF16, 16 H100", 0,
     2.83},
    {"nemo-nemotron4-15b-h100-2048.yaml", "dgxc-benchmarking README_15b, 24.11 BF16, 2048 H100", 0,
     2.96},
    {"nemo-nemotron4-340b-h100-128.yaml", "dgxc-benchmarking README_340b, 24.11 BF16, 128 H100", 0,
     4.61},
    {"nemo-nemotron4-340b-h100-2048.yaml", "dgxc-benchmarking README_340b, 24.11 BF16, 2048 H100",
     0, 4.84},
    // Llama 3 405B, Dubey et al. 2024 (arXiv 2407.21783) Table 4, second row (16,384 H100): its
    // recompute, ZeRO stage and FLOP count are ASSUMED (the job file says which).
    {"llama3-405b-16384.yaml", "Dubey et al. 2024 Table 4 (Llama 3 405B, 16,384 H100)", 0, 0, 0,
     400},
    // The first row (8,192 H100, dp 64, 32 micro-batches per pipeline, 430 TFLOP/s), the same
    // assumptions. Refused by the static memory check until the model stopped counting dropout
    // masks for models trained without dropout (a structural change, no constant); added after
    // that, with nothing changed for it.
    {"llama3-405b-8192.yaml", "Dubey et al. 2024 Table 4 (Llama 3 405B, 8,192 H100)", 0, 0, 0, 430},
};

constexpr double kTarget = 0.10;  // the bound on the per-GPU throughput error

std::string JobPath(const Published& p) {
  const char* root = std::getenv("TANGRAM_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/configs/published/jobs/" + p.job;
}

struct Outcome {
  // Per-GPU throughput, published and simulated, in the source's own unit (TFLOP/s by the
  // formula above, seconds per step, or tokens/s per GPU); error() is a ratio of step times.
  double published = 0, simulated = 0;
  const char* unit = "TFLOP/s";
  double error() const {
    return std::string(unit) == "s/step" ? published / simulated - 1 : simulated / published - 1;
  }
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
    sim.schedule = partitioner::PipelineSchedule::kInterleaved;
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
  if (p.step_time_s > 0) {
    o = {p.step_time_s, step->step_time_s, "s/step"};
  } else if (p.model_tflops_per_gpu > 0) {
    o = {p.model_tflops_per_gpu, cost->ModelFlopsPerStep() / step->step_time_s / devices / 1e12,
         "TFLOP/s"};
  } else if (p.tokens_per_s_per_gpu > 0) {
    o = {p.tokens_per_s_per_gpu, batch * s / step->step_time_s / devices, "tokens/s"};
  } else {
    o = {p.tflops_per_gpu, flops / step->step_time_s / devices / 1e12, "TFLOP/s"};
  }
  return o;
}

// The matmul efficiency (every kind at the same value) that reproduces `p`.
double Solve(const Published& p) {
  double lo = 0.2, hi = 1.0;
  for (int i = 0; i < 30; ++i) {
    const double mid = (lo + hi) / 2;
    auto o = Simulated(p, mid);
    if (!o.ok()) {
      ADD_FAILURE() << p.job << ": " << o.status();
      return 0;
    }
    (o->error() < 0 ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

// Solves the calibration runs and checks that the shipped constants are their solutions (so
// nobody can retune them without this test saying so).
TEST(FidelityTest, CalibrationRunsGiveTheSustainedFractions) {
  const double ampere = Solve(kAmpereRun);
  const double h100 = Solve(kHopperPair[0]), a100 = Solve(kHopperPair[1]);
  std::cout << absl::StrFormat(
      "calibration: Ampere matmul efficiency %.4f (%s; shipped %.4f); Hopper / Ampere on one "
      "stack %.4f / %.4f = %.4f (shipped %.4f); H100 %.4f of peak\n",
      ampere, kAmpereRun.job, partitioner::kAmpereSustainedMatmul, h100, a100, h100 / a100,
      partitioner::kHopperToAmpereMatmul, partitioner::MatmulEfficiency("H100"));
  EXPECT_NEAR(partitioner::MatmulEfficiency("A100-80G"), ampere, 0.005);
  EXPECT_NEAR(partitioner::kHopperToAmpereMatmul, h100 / a100, 0.005);
  EXPECT_NEAR(partitioner::MatmulEfficiency("H100"), ampere * h100 / a100, 0.005);
  const double ascend = Solve(kAscendRun);
  std::cout << absl::StrFormat(
      "calibration: DaVinci (Ascend 910B) %.4f of peak (%s; shipped %.4f)\n", ascend,
      kAscendRun.job, partitioner::MatmulEfficiency("Ascend910B"));
  EXPECT_NEAR(partitioner::MatmulEfficiency("Ascend910B"), ascend, 0.005);
  auto o = Simulated(kAmpereRun);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_NEAR(o->error(), 0.0, 0.01);
}

TEST(FidelityTest, PublishedRunsPerGpuThroughput) {
  std::cout << absl::StrFormat("%-30s %12s %12s %-9s %8s\n", "run", "published", "simulated",
                               "unit", "error");
  double worst = 0;
  for (const Published& p : kRuns) {
    auto o = Simulated(p);
    ASSERT_TRUE(o.ok()) << p.job << ": " << o.status();
    const double error = o->error();
    worst = std::max(worst, std::abs(error));
    std::cout << absl::StrFormat("%-30s %12.2f %12.2f %-9s %+7.1f%%   (%s)\n", p.job, o->published,
                                 o->simulated, o->unit, 100 * error, p.source);
    EXPECT_LT(std::abs(error), kTarget) << p.job;
  }
  std::cout << absl::StrFormat("worst |error| over %d runs: %.1f%% (target %.0f%%)\n",
                               static_cast<int>(std::size(kRuns)), 100 * worst, 100 * kTarget);
}

// Printed beside the main table and held to the same ±10 %. History, so that nobody mistakes this
// for an independent check of everything: the first comparison had the two MPT-13B rows
// (micro-batch 2, FSDP gathering 26 GB of weights for every forward and backward) 14 % and 23 %
// optimistic, because the cost model hid ZeRO-3's gathers behind the backward pass. ZeRO-3's
// parameter gathers are now counted per micro-batch on the critical path
// (CostModel::ParameterGatherTime) — a structural change, no constant — which moved every row of
// this table to +4…+9 %. The MPT-7B rows calibrate the Hopper-to-Ampere ratio.
TEST(FidelityTest, OtherStacksAndKinds) {
  for (const Published& p : kOtherStacks) {
    auto o = Simulated(p);
    ASSERT_TRUE(o.ok()) << p.job << ": " << o.status();
    std::cout << absl::StrFormat("%-30s %12.2f %12.2f %-9s %+7.1f%%   (%s)\n", p.job, o->published,
                                 o->simulated, o->unit, 100 * o->error(), p.source);
    EXPECT_LT(std::abs(o->error()), kTarget) << p.job;
  }
}

// Issue 10 §4's targets over every homogeneous validation run (the twenty above, the six other
// stacks, and the out-of-sample runs added after the constants were frozen): median |error|
// ≤ 8 %, worst ≤ 15 %. The runs that miss the worst-case bound are listed, not hidden and not
// tuned away (docs/simulator.md says why each misses); each is held to the band it sits in now, so
// a change that worsens it fails here too.
struct KnownMiss {
  const char* job;
  double bound;  // |error| it stays below
};
constexpr KnownMiss kKnownMisses[] = {
    // DeepSpeed's 2021 pipeline engine: the same model and layout on Megatron-LM's interleaved
    // schedule ran 163 TFLOP/s (SC'21) against 126 here; what the simulator misses is that stack.
    // Its rendezvous p2p (pipeline_p2p: rendezvous) is modelled and explains little of it:
    // +26.3 / +27.9 / +31.7 % (+26.7 / +28.2 / +32.1 % with pre-posted p2p). DeepSpeed v0.5.0's
    // schedule replays to exactly the 1F1B time (bench/simulator/deepspeed_train_schedule.py);
    // its ZeRO-1 allgather and checkpoint re-gathers are < 1 % (docs/simulator.md).
    {"mt-nlg-530b-2240.yaml", 0.33},
    {"mt-nlg-530b-2800.yaml", 0.33},
    {"mt-nlg-530b-3360.yaml", 0.33},
    // The Atlas 800T A2 rows of the MindFormers table run ~15 % below the Atlas 900 A2 PoDc rows
    // of the same configs (13B: 1691 vs 1945 tokens/s/p); 70B on 32 NPUs is the one 800T row
    // with pipelining, where that gap is not absorbed by the calibration run.
    {"mindformers-llama2-70b-32p.yaml", 0.20},
    // Llama 3 8B at tp 8 with MC2 (without the overlap it is +11 %). Not GEMM shape: ModelLink's
    // 13B at tp 8 has nearly its per-rank GEMMs and solves to 0.597 of peak against the 8B's
    // 0.470; wave quantization, per-half overlap pairing and a slow 8K attention core were tried
    // and rejected with figures (docs/simulator.md).
    {"modellink-llama3-8b-8p.yaml", 0.45},
};

// One row of the out-of-sample tables (docs/simulator.md), printed beside the assertions.
void PrintRow(const Published& p, const Outcome& o) {
  std::cout << absl::StrFormat("%-34s %10.2f %10.2f %-9s %+7.1f%%   (%s)\n", p.job, o.published,
                               o.simulated, o.unit, 100 * o.error(), p.source);
}

TEST(FidelityTest, HomogeneousPublishedRunsMedianAndWorst) {
  std::vector<double> errors;
  double worst_held = 0;
  // Simulates `p` once, holds it to its bound and, when `print`, prints its row.
  auto check = [&](const Published& p, bool print = false) {
    auto o = Simulated(p);
    ASSERT_TRUE(o.ok()) << p.job << ": " << o.status();
    if (print) PrintRow(p, *o);
    const double e = std::abs(o->error());
    errors.push_back(e);
    const auto miss = std::find_if(std::begin(kKnownMisses), std::end(kKnownMisses),
                                   [&](const KnownMiss& k) { return std::string(k.job) == p.job; });
    if (miss != std::end(kKnownMisses)) {
      EXPECT_LT(e, miss->bound) << p.job << " (known miss) got worse";
    } else {
      worst_held = std::max(worst_held, e);
      EXPECT_LT(e, 0.15) << p.job;
    }
  };
  for (const Published& p : kRuns) check(p);
  for (const Published& p : kOtherStacks) check(p);
  for (const Published& p : kOutOfSample) check(p, /*print=*/true);
  for (const Published& p : kHopperRuns) check(p, /*print=*/true);
  std::sort(errors.begin(), errors.end());
  const size_t n = errors.size();
  const double median = n % 2 ? errors[n / 2] : (errors[n / 2 - 1] + errors[n / 2]) / 2;
  std::cout << absl::StrFormat(
      "homogeneous validation runs: %d, median |error| %.1f%% (target 8%%), worst %.1f%% "
      "(%.1f%% without the %d known misses; target 15%%)\n",
      static_cast<int>(n), 100 * median, 100 * errors.back(), 100 * worst_held,
      static_cast<int>(std::size(kKnownMisses)));
  EXPECT_LE(median, 0.08);
}

}  // namespace
}  // namespace tangram::simulator
