#include "partitioner/cost_model.h"

#include <cmath>

#include "gtest/gtest.h"
#include "partitioner/strategy.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using testing::Job;
using testing::Llama2_7B;
using testing::MakeCost;
using testing::MakeFleet;
using testing::MakeModel;

TEST(CostModelTest, MeasuredThroughputOverridesTheKernelModel) {
  Fleet fleet = MakeFleet("H200:8x1,H20:8x1");
  fleet.groups[1].measured_tflops = 100;
  CostModel cost = MakeCost(fleet, Llama2_7B(), Job(64));
  // Catalog kind: below its matmul rate (memory-bound traffic costs time), above 0.4 of peak.
  EXPECT_LT(cost.GroupTflops(0), 989 * MatmulEfficiency("H200"));
  EXPECT_GT(cost.GroupTflops(0), 989 * 0.4);
  // Measured figures are model FLOP/s without recompute; this job recomputes selectively, so
  // its model throughput is the measured rate × model ÷ hardware FLOPs.
  double model = 0, hardware = 0;
  for (const Layer& l : cost.layers()) {
    model += l.forward_flops_per_token + l.backward_flops_per_token;
    hardware +=
        l.forward_flops_per_token + l.backward_flops_per_token + l.recompute_flops_per_token;
  }
  EXPECT_DOUBLE_EQ(cost.GroupTflops(1), 100 * model / hardware);
  EXPECT_DOUBLE_EQ(cost.SummedTflops(), 8 * cost.GroupTflops(0) + 8 * cost.GroupTflops(1));
  // Measured: every FLOP at the measured rate, no separate memory-bound term.
  const double tokens = 4096;
  EXPECT_NEAR(cost.ForwardTime(1, 1, 1, 2, 1),
              tokens * cost.layers()[1].forward_flops_per_token / 100e12, 1e-15);
  EXPECT_NEAR(cost.BoundStepTime(), cost.ModelFlopsPerStep() / (cost.SummedTflops() * 1e12), 1e-12);
}

TEST(CostModelTest, ComputeTimeIsMatmulPlusMemoryBound) {
  CostModel cost = MakeCost(MakeFleet("H100:8x1"), Llama2_7B(), Job(64, 2, 1, Recompute::kNone));
  const Layer& block = cost.layers()[1];
  EXPECT_EQ(block.forward_shared_bytes_per_token, 0);  // sequence parallelism: all split by tp
  const double tokens = 2.0 * 4096;
  EXPECT_NEAR(cost.ForwardTime(0, 4, 1, 2, 2),
              tokens / 4 *
                  (block.forward_flops_per_token / (989e12 * MatmulEfficiency("H100")) +
                   block.forward_bytes_per_token / (3350e9 * 0.8)),
              1e-15);
  EXPECT_NEAR(cost.BackwardTime(0, 1, 1, 2, 2) / cost.ForwardTime(0, 1, 1, 2, 2), 2.0, 1e-12);
}

// Without sequence parallelism the norms, dropout and residual adds run whole on every
// tensor-parallel rank: their traffic is not divided by tp, so tp = 8 is less than 8× faster.
TEST(CostModelTest, SharedTrafficIsNotSplitWithoutSequenceParallelism) {
  TrainingSpec job = Job(64, 2, 1, Recompute::kNone);
  job.sequence_parallel = false;
  CostModel cost = MakeCost(MakeFleet("H100:8x1"), Llama2_7B(), job);
  CostModel sp = MakeCost(MakeFleet("H100:8x1"), Llama2_7B(), Job(64, 2, 1, Recompute::kNone));
  const Layer& block = cost.layers()[1];
  ASSERT_GT(block.forward_shared_bytes_per_token, 0);
  // Same total traffic, differently split.
  EXPECT_NEAR(block.forward_bytes_per_token + block.forward_shared_bytes_per_token,
              sp.layers()[1].forward_bytes_per_token, 1e-6);
  const double tokens = 2.0 * 4096, bw = 3350e9 * 0.8;
  EXPECT_NEAR(cost.ForwardTime(0, 8, 1, 2, 2),
              tokens * ((block.forward_flops_per_token / (989e12 * MatmulEfficiency("H100")) +
                         block.forward_bytes_per_token / bw) /
                            8 +
                        block.forward_shared_bytes_per_token / bw),
              1e-15);
  EXPECT_DOUBLE_EQ(cost.ForwardTime(0, 1, 1, 2, 2), sp.ForwardTime(0, 1, 1, 2, 2));
  EXPECT_GT(cost.ForwardTime(0, 8, 1, 2, 2), sp.ForwardTime(0, 8, 1, 2, 2));
}

TEST(CostModelTest, RingAllreduceFollowsAlphaBeta) {
  CostModel cost = MakeCost(MakeFleet("H100:8x4"), Llama2_7B(), Job(64));
  // One device per node: a ring over the NIC share (400 Gb/s per device = 50 GB/s), α = 5 µs.
  std::vector<int64_t> members = {0, 8, 16, 24};
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto;
  const double n = 1e9;
  double t = cost.AllreduceTime(cost.SummarizeGroup(members), n, &algorithm);
  EXPECT_EQ(algorithm, AllreduceAlgorithm::kRing);
  EXPECT_NEAR(t, 2 * 3 * 5e-6 + 2.0 * 3 / 4 * n / 50e9, 1e-12);
  // Inside one node: NVLink (450 GB/s per direction), α = 2 µs.
  t = cost.AllreduceTime(cost.SummarizeGroup(std::vector<int64_t>{0, 1}), n, &algorithm);
  EXPECT_EQ(algorithm, AllreduceAlgorithm::kIntraNode);
  EXPECT_NEAR(t, 2 * 2e-6 + n / 450e9, 1e-12);
}

TEST(CostModelTest, HierarchicalAllreduceWinsAcrossASlowIslandLink) {
  CostModel cost =
      MakeCost(MakeFleet("H100:8x4,Ascend910B:8x4", "network:\n  inter_island_gbps: 8\n"),
               Llama2_7B(), Job(64));
  std::vector<int64_t> members;
  for (int n = 0; n < 8; ++n) members.push_back(8 * n);  // one device per node, both islands
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto;
  double t = cost.AllreduceTime(cost.SummarizeGroup(members), 1e9, &algorithm);
  EXPECT_EQ(algorithm, AllreduceAlgorithm::kHierarchical);
  EXPECT_GT(t, 0);
}

// The orchestrator hands the cost model the runtime's composed islands allreduce (the partitioner
// cannot call the collectives library); a group that spans islands is then costed by it, unless a
// flat ring is pinned, and nothing else is.
TEST(CostModelTest, AnIslandsAllreduceFunctionCostsTheGroupsThatSpanIslands) {
  const Fleet fleet = MakeFleet("H100:8x4,Ascend910B:8x4", "network:\n  inter_island_gbps: 8\n");
  CostOptions options;
  int calls = 0;
  options.islands_allreduce = [&](const AllreduceGroup& group, double bytes, const NetworkSpec&) {
    ++calls;
    EXPECT_EQ(group.parts.size(), 2u);
    return bytes * 1e-9 + 42;
  };
  auto cost = CostModel::Create(fleet, Llama2_7B(), Job(64), options);
  ASSERT_TRUE(cost.ok()) << cost.status();
  std::vector<int64_t> both;
  for (int n = 0; n < 8; ++n) both.push_back(8 * n);  // one device per node, both islands
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto;
  EXPECT_DOUBLE_EQ(cost->AllreduceTime(cost->SummarizeGroup(both), 1e9, &algorithm), 43);
  EXPECT_EQ(algorithm, AllreduceAlgorithm::kHierarchical);
  EXPECT_EQ(calls, 1);
  // A pinned flat ring is the closed form's; a group inside one island never asks.
  const double ring =
      cost->comm().AllreduceTime(cost->SummarizeGroup(both), 1e9, AllreduceAlgorithm::kRing);
  EXPECT_LT(ring, 42);
  const std::vector<int64_t> one_island = {0, 8, 16, 24};
  EXPECT_LT(cost->AllreduceTime(cost->SummarizeGroup(one_island), 1e9, &algorithm), 42);
  EXPECT_EQ(calls, 1);
}

TEST(CostModelTest, OneFOneBKeepsPMinusIMicroBatchesInFlight) {
  CostModel cost = MakeCost(MakeFleet("H100:8x1"), MakeModel(8, 2048, 16, 2048), Job(64));
  // Four stages of two blocks each: stage i keeps 4 − i micro-batches.
  Plan plan;
  plan.tp = 1;
  plan.pp = 4;
  plan.dp = 1;
  plan.global_batch = 64;
  for (int s = 0; s < 4; ++s) {
    PlanStage st;
    st.index = s;
    st.layer_begin = s == 0 ? 0 : 1 + 2 * s;
    st.layer_end = s == 3 ? 10 : 3 + 2 * s;
    PlanCell cell;
    cell.devices = {s};
    st.cells.push_back(cell);
    plan.stages.push_back(st);
  }
  plan.replicas.push_back({0, 64, 1, 64, 0});
  ASSERT_TRUE(cost.Evaluate(&plan).ok());
  const double act1 = cost.StageMemory(1, 1, 3, 5, 1, 1).activations;
  for (int s = 1; s < 3; ++s) {  // middle stages hold the same layers' worth
    const double expected = cost.StageMemory(1, 1, 3, 5, 4 - s, 1).total();
    EXPECT_NEAR(plan.stages[s].cells[0].memory_gib * (1 << 30), expected, 1.0);
    EXPECT_NEAR(cost.StageMemory(1, 1, 3, 5, 4 - s, 1).activations, (4 - s) * act1, 1.0);
  }
}

TEST(CostModelTest, AMemoryOverflowNamesStageKindSizeAndRemedies) {
  // Llama 2 13B on a single pipeline stage of 910Bs (ZeRO-1) cannot fit; its training state
  // (~200 GiB) fits the node's eight devices together, so every remedy applies.
  ModelSpec m = MakeModel(40, 5120, 40, 4096, 32000, true);
  m.ffn_hidden = 13824;
  CostModel cost = MakeCost(MakeFleet("Ascend910B:8x1"), m, Job(64, 1, 1, Recompute::kNone));
  auto plan = MakePlan(cost, "proportional");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string msg(plan.status().message());
  for (const char* word : {"stage 0", "needs", "GiB", "Ascend910B", "too much", "recompute",
                           "ZeRO-3", "pipeline stages"}) {
    EXPECT_NE(msg.find(word), std::string::npos) << word << " missing from: " << msg;
  }
}

// The advice offers only what can help on this fleet and layout (a user audit saw "use ZeRO-3"
// with a pinned dp 1, "use >= 13 pipeline stages" on 12 devices, and more stages for a model
// whose training state exceeds the whole fleet's memory).
TEST(CostModelTest, MemoryAdviceOffersOnlyWhatCanHelp) {
  ModelSpec m70 = MakeModel(80, 8192, 64, 4096, 32000, true, 8);
  m70.ffn_hidden = 28672;  // Llama 2 70B: ~1,030 GiB of weights, gradients and Adam state
  CostModel too_big = MakeCost(MakeFleet("Ascend910B:8x1"), m70, Job(64, 1, 1, Recompute::kNone));
  auto plan = MakePlan(too_big, "proportional");
  ASSERT_FALSE(plan.ok());
  std::string msg(plan.status().message());
  EXPECT_NE(msg.find("exceed the usable memory of every device of the fleet together"),
            std::string::npos)
      << msg;
  EXPECT_EQ(msg.find("pipeline stages"), std::string::npos) << msg;

  ModelSpec m13 = MakeModel(40, 5120, 40, 4096, 32000, true);
  m13.ffn_hidden = 13824;
  TrainingSpec one = Job(64, 1, 1, Recompute::kNone);
  one.layout.tp = 1;
  one.layout.pp = 1;
  one.layout.dp = 1;  // one replica: ZeRO-3 has nothing to shard over
  CostModel single = MakeCost(MakeFleet("Ascend910B:1x1"), m13, one);
  plan = MakePlan(single, "uniform");
  ASSERT_FALSE(plan.ok());
  msg = std::string(plan.status().message());
  EXPECT_EQ(msg.find("ZeRO-3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exceed"), std::string::npos) << msg;  // 200 GiB on one 64 GB device

  TrainingSpec deep = Job(64, 1, 3, Recompute::kFull);
  deep.layout.pp = 8;  // every device a stage: no deeper pipeline on 8 devices
  // a million-token sequence: one block's working memory alone overflows a device
  CostModel full = MakeCost(MakeFleet("Ascend910B:8x1"), MakeModel(40, 5120, 40, 1 << 20), deep);
  plan = MakePlan(full, "uniform");
  ASSERT_FALSE(plan.ok());
  msg = std::string(plan.status().message());
  EXPECT_EQ(msg.find("pipeline stages"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no setting of this job makes it fit"), std::string::npos) << msg;
}

}  // namespace
}  // namespace tangram::partitioner

namespace tangram::partitioner {
namespace {

Fleet ParseTestFleet(const std::string& yaml) {
  auto fleet = ParseFleet(yaml, "comm-test.yaml", testing::Catalog());
  EXPECT_TRUE(fleet.ok()) << fleet.status();
  return *fleet;
}

// A ring across nodes uses each node's NIC once per direction: eight devices of a node in one
// ring share the node's one NIC, they do not each get an eighth of it (issue 10, section 2).
TEST(CommModelTest, ARingAcrossNodesUsesTheWholeNodeNic) {
  const Fleet fleet = ParseTestFleet(
      "name: pcie\nnodes:\n  - device: L40S\n    devices_per_node: 8\n    count: 2\n"
      "    nic_gbps: 100\n");
  EXPECT_EQ(fleet.groups[0].nics_per_node, 1);  // a per-node nic_gbps: one shared NIC
  const CostModel cost = testing::MakeCost(fleet, testing::Llama2_7B(), testing::Job(16));
  std::vector<int64_t> all(16);
  for (int i = 0; i < 16; ++i) all[i] = i;
  const double bytes = 1e9;
  const double alpha = fleet.network.inter_node_latency_us * 1e-6;
  // 100 Gb/s = 12.5 GB/s per node, below the PCIe link (32 GB/s).
  EXPECT_DOUBLE_EQ(cost.AllreduceTime(cost.SummarizeGroup(all), bytes),
                   RingAllreduceTime(16, bytes, 12.5, alpha));
  // One device per node (tp 8 lanes each running their own ring): an eighth each.
  const std::vector<int64_t> two = {0, 8};
  EXPECT_DOUBLE_EQ(cost.AllreduceTime(cost.SummarizeGroup(two), bytes),
                   RingAllreduceTime(2, bytes, 12.5 / 8, alpha));
  // Pipeline p2p across nodes: every device of the node sends at once, an eighth of the NIC.
  EXPECT_DOUBLE_EQ(cost.LinkGbs(0, 8), 12.5 / 8);
}

// PCIe-only nodes of an NVLink kind: the node group overrides the intra-node link, and tensor
// parallelism pays for it.
TEST(CommModelTest, IntraNodeLinkOverridePerNodeGroupSlowsTensorParallelism) {
  const std::string base = "name: x\nnodes:\n  - device: A100-80G\n    devices_per_node: 8\n";
  const Fleet nvlink = ParseTestFleet(base + "    count: 1\n");
  const Fleet pcie = ParseTestFleet(base + "    count: 1\n    intra_node_link_gbs: 25\n");
  EXPECT_EQ(pcie.groups[0].device.intra_node_link_gbs, 25);
  const CostModel a = testing::MakeCost(nvlink, testing::Llama2_7B(), testing::Job(8));
  const CostModel b = testing::MakeCost(pcie, testing::Llama2_7B(), testing::Job(8));
  const int64_t n = a.num_layers();
  EXPECT_GT(b.TpCommTime(0, 8, 0, n, 1), 10 * a.TpCommTime(0, 8, 0, n, 1));
}

// Gradients on the wire in fp32 move twice the bytes of bf16; buckets each pay their α.
TEST(CommModelTest, GradReduceDtypeAndBuckets) {
  const Fleet fleet = testing::MakeFleet("H100:8x2");
  TrainingSpec job = testing::Job(16);
  const CostModel bf16 = testing::MakeCost(fleet, testing::Llama2_7B(), job);
  job.grad_reduce_dtype = GradReduceDtype::kFp32;
  const CostModel fp32 = testing::MakeCost(fleet, testing::Llama2_7B(), job);
  const int64_t n = bf16.num_layers();
  EXPECT_DOUBLE_EQ(fp32.GradientAllreduceBytes(1, 0, n), 2 * bf16.GradientAllreduceBytes(1, 0, n));
  const std::vector<int64_t> group = {0, 8};
  const AllreduceGroup g = bf16.SummarizeGroup(group);
  const double bytes = bf16.GradientAllreduceBytes(1, 0, n);
  const int64_t buckets = GradientBuckets(bytes, 25, 64);
  EXPECT_EQ(buckets, 64);  // 13 GB of gradients: the cap
  EXPECT_DOUBLE_EQ(bf16.GradientAllreduceTime(g, bytes), 64 * bf16.AllreduceTime(g, bytes / 64));
  EXPECT_GT(bf16.GradientAllreduceTime(g, bytes), bf16.AllreduceTime(g, bytes));
}

// A probe's measured figures replace the catalog's, class by class (fleet `measured:` section).
TEST(CommModelTest, MeasuredLinkClassesOverrideTheCatalog) {
  Fleet fleet = testing::MakeFleet("H100:8x2");
  fleet.network.measured_links[static_cast<int>(LinkClass::kSameIsland)] = LinkSpec{50, 2.0, 8.0};
  const CostModel cost = testing::MakeCost(fleet, testing::Llama2_7B(), testing::Job(16));
  EXPECT_DOUBLE_EQ(cost.LinkGbs(0, 8), 1.0);  // 8 GB/s per node over 8 devices
  EXPECT_DOUBLE_EQ(cost.LinkLatency(0, 8), 50e-6);
  EXPECT_DOUBLE_EQ(cost.LinkGbs(0, 1), 450);  // same node: the catalog's NVLink
}

// An unlisted kind's matmul efficiency comes from its architecture, with a warning.
TEST(CommModelTest, UnmeasuredKindWarnsAndUsesItsArchitecture) {
  const CostModel a100 =
      testing::MakeCost(testing::MakeFleet("A100-80G:8x1"), testing::Llama2_7B(), testing::Job(8));
  EXPECT_TRUE(a100.warnings().empty());
  // The 40 GB A100 is the measured die (same peak and power): no warning (it said "no measured
  // matmul efficiency" for the same chip).
  const CostModel a40 =
      testing::MakeCost(testing::MakeFleet("A100-40G:8x1"), testing::Llama2_7B(), testing::Job(8));
  EXPECT_TRUE(a40.warnings().empty()) << a40.warnings()[0];
  const CostModel rtx =
      testing::MakeCost(testing::MakeFleet("RTX3090:8x1"), testing::Llama2_7B(), testing::Job(8));
  ASSERT_GE(rtx.warnings().size(), 1u);
  EXPECT_NE(rtx.warnings()[0].find("ampere"), std::string::npos) << rtx.warnings()[0];
  EXPECT_DOUBLE_EQ(MatmulEfficiency(*testing::Catalog().Find("RTX3090"), nullptr),
                   MatmulEfficiency("A100-80G"));
  const CostModel t4 =
      testing::MakeCost(testing::MakeFleet("T4:8x1"), testing::Llama2_7B(), testing::Job(8));
  // (and, this job being bf16, that the T4 has no BF16: precision_test.cc)
  ASSERT_EQ(t4.warnings().size(), 2u);
  EXPECT_NE(t4.warnings()[0].find("turing"), std::string::npos) << t4.warnings()[0];
}

}  // namespace
}  // namespace tangram::partitioner

namespace tangram::partitioner {
namespace {

// A measured rate above the kind's catalog peak (a unit slip: 900000 for 900) loaded without a
// word and planned at "MFU 7906 %": it is warned about, naming the kind, the figure and the peak;
// a plausible one and a host CPU's (whose catalog peak is a placeholder) are not.
TEST(CostModelTest, AMeasuredRateAboveThePeakIsWarnedAbout) {
  auto warnings_for = [](const std::string& device, double tflops) {
    auto fleet = ParseFleet(
        absl::StrCat("name: m\nnodes:\n  - {device: ", device,
                     ", devices_per_node: 8, count: 1, measured_tflops: ", tflops, "}\n"),
        "m.yaml", testing::Catalog());
    EXPECT_TRUE(fleet.ok()) << fleet.status();
    return MakeCost(*fleet, testing::Llama2_7B(), Job(64)).warnings();
  };
  const std::vector<std::string> hot = warnings_for("H200", 900000);
  ASSERT_EQ(hot.size(), 1u);
  EXPECT_EQ(hot[0],
            "H200: measured 900000 TFLOP/s per device, above its catalog peak at bf16 (989): no "
            "measurement can be; check the figure's unit and the kind");
  EXPECT_TRUE(warnings_for("H200", 700).empty());
  EXPECT_TRUE(warnings_for("cpu", 5).empty());
}

}  // namespace
}  // namespace tangram::partitioner
