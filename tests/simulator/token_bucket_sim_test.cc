// Token buckets on shaped links in the simulator's engine (engine.h: Workload::port_buckets): a
// pipeline send after an idle gap at the peak rate, past the bucket at the sustained rate, the
// bucket refilled between sends; and fleets without a measured bucket unchanged to the bit.
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "orchestrator/simulator/simulator.h"
#include "tests/simulator/sim_test_util.h"

namespace tangram::simulator {
namespace {

using testing::EvenPlan;
using testing::MakeCost;

// tiny-gpt (configs/models/tiny-gpt.yaml): a micro-batch of 2 sends 2 × 64 × 128 fp32 = 64 KiB.
partitioner::ModelSpec TinyGpt() {
  partitioner::ModelSpec m;
  m.name = "tiny-gpt";
  m.layers = 4;
  m.hidden = 128;
  m.ffn_hidden = 512;
  m.heads = 4;
  m.kv_heads = 4;
  m.vocab = 256;
  m.seq_len = 64;
  m.mlp = partitioner::MlpKind::kGelu;
  m.tie_embeddings = false;
  return m;
}

partitioner::TrainingSpec Fp32(int64_t global_batch) {
  partitioner::TrainingSpec t = testing::Training(global_batch, 2);
  t.precision = partitioner::Precision::kFp32;
  t.zero_stage = 0;
  t.layout.tp = 1;
  t.layout.pp = 2;
  t.layout.dp = 1;
  return t;
}

// Two one-rank hosts of one machine's pool over a 50 Mbit/s link, as a netns run probes them;
// `link_extra` adds fields to the measured link (a bucket).
partitioner::Fleet TwoHosts(const std::string& link_extra) {
  const std::string yaml = absl::StrCat(
      "name: measured\nnodes:\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: bu0, island: A}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: bu1, island: A}\n"
      "measured:\n  when: \"x\"\n  how: \"x\"\n  tool_version: \"0\"\n  ranks: 2\n"
      "  hosts: [bu0, bu1]\n  group_tflops: [0.0304, 0.0297]\n  links:\n"
      "    - {class: same_island, latency_us: 6.3, bandwidth_gbs: 0.005974",
      link_extra,
      ", pair: \"0-1\"}\n"
      "  cpu_pools:\n    - {machine: \"f1c76578\", cores: 2, ranks: [0, 1], busy_tflops: "
      "0.03007875, solo_tflops: 0.0302}\n");
  auto fleet = partitioner::ParseFleet(yaml, "measured.yaml", testing::Catalog());
  EXPECT_TRUE(fleet.ok()) << fleet.status();
  return *fleet;
}

absl::StatusOr<StepResult> SimulateTwoHosts(const partitioner::Fleet& fleet, int64_t global_batch,
                                            bool async_p2p = true) {
  auto cost = MakeCost(fleet, TinyGpt(), Fp32(global_batch));
  SimOptions options;
  options.allreduce = partitioner::AllreduceAlgorithm::kRing;
  options.async_p2p = async_p2p;
  options.record_timeline = true;
  // The planner's order on this fleet (tangram plan): the faster rank 1 first.
  partitioner::Plan plan = EvenPlan(cost, 1, 2, 1);
  plan.stages[0].cells[0].devices = {1};
  plan.stages[1].cells[0].devices = {0};
  return Simulate(cost, plan, options);
}

std::vector<Span> Sends(const StepResult& r) {
  std::vector<Span> out;
  for (const Span& s : r.timeline) {
    if (s.kind == SpanKind::kSend) out.push_back(s);
  }
  return out;
}

constexpr double kBytes = 65536;        // one micro-batch's activations
constexpr double kAlpha = 6.3e-6;       // the link's latency
constexpr double kSustained = 5.974e6;  // bytes/s

TEST(TokenBucketSimTest, FleetWithoutABucketIsUnchangedToTheBit) {
  // The step of this fleet before buckets existed (tangram simulate --allreduce ring on main at
  // cc9dba7, the same fleet, model and pinned layout): identical to the bit.
  auto r = SimulateTwoHosts(TwoHosts(""), 16, /*async_p2p=*/false);
  ASSERT_TRUE(r.ok()) << r.status();
  const double before = 0.202618146087313;
  EXPECT_EQ(std::memcmp(&r->step_time_s, &before, sizeof(double)), 0)
      << absl::StrFormat("%.17g", r->step_time_s);
  // And every send took exactly latency + bytes ÷ sustained rate when alone on its ports.
  for (const Span& s : Sends(*r)) {
    EXPECT_GE(s.end_s - s.start_s, kAlpha + kBytes / kSustained - 1e-12);
  }
}

TEST(TokenBucketSimTest, SendSmallerThanTheBucketAfterIdleGoesAtPeak) {
  // A 128 KB bucket at 1 GB/s: the first activation (64 KiB) goes at the peak rate.
  auto r = SimulateTwoHosts(TwoHosts(", burst_bytes: 128000, peak_gbs: 1"), 2);
  ASSERT_TRUE(r.ok()) << r.status();
  const auto sends = Sends(*r);
  ASSERT_FALSE(sends.empty());
  EXPECT_NEAR(sends[0].end_s - sends[0].start_s, kAlpha + kBytes / 1e9, 1e-12);
}

TEST(TokenBucketSimTest, SendLargerThanTheBucketFinishesAtTheSustainedRate) {
  // A 16 KB bucket: its tokens carry the first bytes at peak, the rest goes at 50 Mbit/s.
  auto r = SimulateTwoHosts(TwoHosts(", burst_bytes: 16000, peak_gbs: 1"), 2);
  ASSERT_TRUE(r.ok()) << r.status();
  const auto sends = Sends(*r);
  ASSERT_FALSE(sends.empty());
  const double peak_s = 16000 / (1e9 - kSustained);
  const double expected = kAlpha + peak_s + (kBytes - peak_s * 1e9) / kSustained;
  EXPECT_NEAR(sends[0].end_s - sends[0].start_s, expected, 1e-9);
  // The cost model's closed form for the same message after idle agrees.
  auto cost = MakeCost(TwoHosts(", burst_bytes: 16000, peak_gbs: 1"), TinyGpt(), Fp32(2));
  EXPECT_NEAR(cost.LinkTime(0, 1, kBytes, 1.0), expected, 1e-9);
}

TEST(TokenBucketSimTest, BucketRefillsBetweenSendsAndDrainsWhenTheyComeBackToBack) {
  // 8 micro-batches through a 64 KB bucket: sends spaced by compute find it partly refilled, so
  // each takes between the peak time and the sustained time, and the step is shorter than
  // without the bucket but no shorter than with free links.
  auto shaped = SimulateTwoHosts(TwoHosts(", burst_bytes: 64000, peak_gbs: 0.4"), 16);
  auto plain = SimulateTwoHosts(TwoHosts(""), 16);
  auto fast = SimulateTwoHosts(TwoHosts(", burst_bytes: 1000000000, peak_gbs: 1000"), 16);
  ASSERT_TRUE(shaped.ok() && plain.ok() && fast.ok());
  EXPECT_LT(shaped->step_time_s, plain->step_time_s);
  EXPECT_GT(shaped->step_time_s, fast->step_time_s);
  for (const Span& s : Sends(*shaped)) {
    const double t = s.end_s - s.start_s;
    EXPECT_GE(t, kAlpha + kBytes / 0.4e9 - 1e-12);
    // Alone on its port no send is slower than the sustained rate; two at once share it.
    EXPECT_LE(t, 2 * (kAlpha + kBytes / kSustained) + 1e-9);
  }
}

}  // namespace
}  // namespace tangram::simulator
