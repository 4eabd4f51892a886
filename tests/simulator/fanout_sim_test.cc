// How a measured fleet's sends share network ports in the simulator's contention model:
// - a measured fan-out (partitioner::MeasuredFanout; NetworkSpec::fanout_links; engine.h:
//   Workload::network_links): a pipeline's middle stage sends its activations forward and its
//   gradients back at once; through one port (a switch) they share it, on a mesh they do not;
// - a measured NIC (partitioner::MeasuredNic; NetworkSpec::measured_nics; Workload::cell_nic):
//   two ranks of one host whose sends together reach one pair's rate share one NIC's ports.
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "orchestrator/simulator/simulator.h"
#include "tests/simulator/sim_test_util.h"

namespace tangram::simulator {
namespace {

using testing::EvenPlan;
using testing::MakeCost;

// Three one-rank hosts over 20 Mbit/s links, as a netns run probes them; `fanout` is the measured
// section's fanout line (empty: none).
partitioner::Fleet ThreeHosts(const std::string& fanout) {
  const std::string yaml = absl::StrCat(
      "name: measured\nnodes:\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: fa0, island: A}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: fa1, island: A}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: fa2, island: A}\n"
      "measured:\n  when: \"x\"\n  how: \"x\"\n  tool_version: \"0\"\n  ranks: 3\n"
      "  hosts: [fa0, fa1, fa2]\n  group_tflops: [0.03, 0.03, 0.03]\n  links:\n"
      "    - {class: same_island, latency_us: 6, bandwidth_gbs: 0.0025, pair: \"0-1\"}\n",
      fanout);
  auto fleet = partitioner::ParseFleet(yaml, "measured.yaml", testing::Catalog());
  EXPECT_TRUE(fleet.ok()) << fleet.status();
  return *fleet;
}

// A 3-stage pipeline of a model whose activations take about as long on the link as a stage's
// compute, so that the middle stage's sends overlap (1F1B's steady state).
absl::StatusOr<StepResult> SimulatePipeline(const partitioner::Fleet& fleet, bool contention) {
  partitioner::TrainingSpec t = testing::Training(16, 2);
  t.layout.tp = 1;
  t.layout.pp = 3;
  t.layout.dp = 1;
  auto cost = MakeCost(fleet, testing::BlockModel(6, 256, 256), t);
  SimOptions options;
  options.contention = contention;
  options.async_p2p = true;  // the CPU runtime's sends
  return Simulate(cost, EvenPlan(cost, 1, 3, 1), options);
}

TEST(FanoutSimTest, TheFleetCarriesTheMeasuredLinks) {
  EXPECT_EQ(ThreeHosts("").network.fanout_links, 1);
  EXPECT_EQ(ThreeHosts("  fanout: {node: fa0, peers: 2, links: 1.8}\n").network.fanout_links, 1.8);
}

TEST(FanoutSimTest, AMeshPassesBothSendsAtFullRate) {
  auto shared = SimulatePipeline(ThreeHosts(""), true);
  auto one = SimulatePipeline(ThreeHosts("  fanout: {node: fa0, peers: 2, links: 1}\n"), true);
  auto partly = SimulatePipeline(ThreeHosts("  fanout: {node: fa0, peers: 2, links: 1.5}\n"), true);
  auto mesh = SimulatePipeline(ThreeHosts("  fanout: {node: fa0, peers: 2, links: 2}\n"), true);
  auto free = SimulatePipeline(ThreeHosts(""), false);
  ASSERT_TRUE(shared.ok() && one.ok() && partly.ok() && mesh.ok() && free.ok());
  // links: 1 is the switch every fleet without a fanout has.
  EXPECT_EQ(one->step_time_s, shared->step_time_s);
  // The middle stage's sends share its port through a switch: the step is longer.
  EXPECT_GT(shared->step_time_s, 1.05 * free->step_time_s);
  // On a mesh each send has its own link: nothing else is shared here (one rank per host, no data
  // parallelism), so the step is the one without contention, to rounding.
  EXPECT_NEAR(mesh->step_time_s, free->step_time_s, 1e-9 * free->step_time_s);
  EXPECT_LT(partly->step_time_s, shared->step_time_s);
  EXPECT_GT(partly->step_time_s, mesh->step_time_s);
}

// Two hosts of two ranks, pipeline 2 × data parallel 2 (the netns bench's pp2dp2): both replicas'
// stage-0 cells sit on host 0 and send at once. `nic` is the measured section's nic line.
partitioner::Fleet TwoByTwo(const std::string& nic) {
  const std::string yaml = absl::StrCat(
      "name: measured\nnodes:\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: fb0, island: A}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: fb0, island: A}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: fb1, island: A}\n"
      "  - {device: cpu, devices_per_node: 1, count: 1, host: fb1, island: A}\n"
      "measured:\n  when: \"x\"\n  how: \"x\"\n  tool_version: \"0\"\n  ranks: 4\n"
      "  hosts: [fb0, fb1]\n  group_tflops: [0.03, 0.03, 0.03, 0.03]\n  links:\n"
      "    - {class: same_node, latency_us: 3, bandwidth_gbs: 5, pair: \"0-1\"}\n"
      "    - {class: same_island, latency_us: 6, bandwidth_gbs: 0.0025, pair: \"0-2\"}\n",
      nic);
  auto fleet = partitioner::ParseFleet(yaml, "measured.yaml", testing::Catalog());
  EXPECT_TRUE(fleet.ok()) << fleet.status();
  return *fleet;
}

absl::StatusOr<StepResult> SimulateTwoByTwo(const partitioner::Fleet& fleet) {
  partitioner::TrainingSpec t = testing::Training(16, 2);
  t.layout.tp = 1;
  t.layout.pp = 2;
  t.layout.dp = 2;
  auto cost = MakeCost(fleet, testing::BlockModel(4, 256, 256), t);
  SimOptions options;
  options.async_p2p = true;
  partitioner::Plan plan = EvenPlan(cost, 1, 2, 2);
  // Stage 0 on host 0 (devices 0, 1), stage 1 on host 1 (2, 3).
  plan.stages[0].cells[0].devices = {0};
  plan.stages[0].cells[1].devices = {1};
  plan.stages[1].cells[0].devices = {2};
  plan.stages[1].cells[1].devices = {3};
  return Simulate(cost, plan, options);
}

TEST(SharedNicSimTest, RanksOfAHostWhoseSendsShareItsRateShareItsPorts) {
  // Together under 1.5x one pair's rate: one NIC, whose ports the host's two cells share.
  const partitioner::Fleet one =
      TwoByTwo("  nic: {node: fb0, senders: 2, aggregate_gbs: 0.0037}\n");
  EXPECT_EQ(one.network.measured_nics, 1);
  // From 1.5x: a NIC each (as every fleet without the measurement), the link figures 3 % faster.
  const partitioner::Fleet two =
      TwoByTwo("  nic: {node: fb0, senders: 2, aggregate_gbs: 0.0038}\n");
  EXPECT_EQ(two.network.measured_nics, 2);
  EXPECT_EQ(TwoByTwo("").network.measured_nics, 0);
  auto shared = SimulateTwoByTwo(one);
  auto own = SimulateTwoByTwo(two);
  ASSERT_TRUE(shared.ok() && own.ok());
  // The replicas' sends leave host 0 (and host 1) at once: on one NIC each takes twice as long.
  EXPECT_GT(shared->step_time_s, 1.1 * own->step_time_s);
}

}  // namespace
}  // namespace tangram::simulator
