// Placement by host: the fleet's `host` against each rank's real host name, the hostfiles that
// make rank i land on fleet device i's host, and the launcher's world size from the environment.
#include "orchestrator/runtime/hosts.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "partitioner/device_catalog.h"

namespace tangram::orchestrator {
namespace {

using ::testing::HasSubstr;

partitioner::Fleet FleetOf(const std::string& yaml) {
  static const auto* catalog =
      new partitioner::DeviceCatalog(partitioner::DeviceCatalog::BuiltIn().value());
  auto fleet = partitioner::ParseFleet(yaml, "test.yaml", *catalog);
  EXPECT_TRUE(fleet.ok()) << fleet.status();
  return fleet.ok() ? *fleet : partitioner::Fleet{};
}

// Two hosts, two devices each, written as one group per device (as the namespace tests do).
const char kTwoHosts[] = R"(name: two
nodes:
  - {device: cpu, devices_per_node: 1, count: 1, host: h0}
  - {device: cpu, devices_per_node: 1, count: 1, host: h0}
  - {device: cpu, devices_per_node: 1, count: 1, host: h1}
  - {device: cpu, devices_per_node: 1, count: 1, host: h1}
)";

TEST(HostsTest, MatchesShortAndQualifiedNamesAndLocalMatchesAnything) {
  EXPECT_TRUE(HostMatches("h0", "h0"));
  EXPECT_TRUE(HostMatches("h0", "h0.cluster.example"));
  EXPECT_TRUE(HostMatches("h0.cluster.example", "h0"));
  EXPECT_FALSE(HostMatches("h0", "h1"));
  EXPECT_FALSE(HostMatches("h0", "h00"));
  EXPECT_TRUE(HostMatches("", "anything"));
  EXPECT_TRUE(HostMatches("local", "anything"));
}

TEST(HostsTest, PlacementInFleetOrderIsAccepted) {
  EXPECT_TRUE(CheckPlacement(FleetOf(kTwoHosts), {"h0", "h0", "h1", "h1"}).ok());
  // Fewer ranks than devices: only the running ranks are checked.
  EXPECT_TRUE(CheckPlacement(FleetOf(kTwoHosts), {"h0", "h0"}).ok());
}

TEST(HostsTest, MisplacedRankIsAnErrorSayingWhichRankSitsWhere) {
  // --map-by node: ranks alternate between the hosts.
  absl::Status s = CheckPlacement(FleetOf(kTwoHosts), {"h0", "h1", "h0", "h1"});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("rank 1 runs on host h1 but the fleet puts device 1"));
  EXPECT_THAT(s.message(), HasSubstr("rank 2 runs on host h0"));
  EXPECT_THAT(s.message(), HasSubstr("0@h0 1@h1 2@h0 3@h1"));
  EXPECT_THAT(s.message(), HasSubstr("tangram hostfile"));
}

TEST(HostsTest, OpenMpiHostfileListsHostsInFleetOrder) {
  auto text = WriteHostfile(FleetOf(kTwoHosts), HostfileFormat::kOpenMpi);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "h0 slots=2 max_slots=2\nh1 slots=2 max_slots=2\n");
}

TEST(HostsTest, SlurmHostListHasOneLinePerRank) {
  auto text = WriteHostfile(FleetOf(kTwoHosts), HostfileFormat::kSlurm);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "h0\nh0\nh1\nh1\n");
}

TEST(HostsTest, NodeNamesFillFleetsWithoutHosts) {
  const char kGpus[] = R"(name: gpus
nodes:
  - {device: H200, devices_per_node: 8, count: 2}
)";
  auto unnamed = WriteHostfile(FleetOf(kGpus), HostfileFormat::kOpenMpi);
  EXPECT_EQ(unnamed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(unnamed.status().message(), HasSubstr("--nodes"));
  auto named = WriteHostfile(FleetOf(kGpus), HostfileFormat::kOpenMpi, {"gpu-a", "gpu-b"});
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(*named, "gpu-a slots=8 max_slots=8\ngpu-b slots=8 max_slots=8\n");
  auto short_list = WriteHostfile(FleetOf(kGpus), HostfileFormat::kSlurm, {"gpu-a"});
  EXPECT_EQ(short_list.status().code(), absl::StatusCode::kFailedPrecondition);
}

// --nodes names each node once and no more nodes than the fleet has: a name left over was
// dropped without a word, and a name given twice put two machines' ranks on one host
// ("a slots=16").
TEST(HostsTest, NodeNamesLeftOverOrRepeatedAreRefused) {
  const char kGpus[] = R"(name: gpus
nodes:
  - {device: H200, devices_per_node: 8, count: 2}
)";
  auto extra = WriteHostfile(FleetOf(kGpus), HostfileFormat::kOpenMpi, {"a", "b", "c"});
  EXPECT_EQ(extra.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(extra.status().message(),
              HasSubstr("--nodes names 3 nodes but the fleet gpus has 2 (not placed: c)"));
  auto twice = WriteHostfile(FleetOf(kGpus), HostfileFormat::kOpenMpi, {"a", "a"});
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(twice.status().message(), HasSubstr("--nodes names a twice (nodes 0 and 1)"));
}

TEST(HostsTest, InterleavedHostsCannotBeAnOpenMpiHostfile) {
  const char kInterleaved[] = R"(name: mixed
nodes:
  - {device: cpu, devices_per_node: 1, count: 1, host: h0}
  - {device: cpu, devices_per_node: 1, count: 1, host: h1}
  - {device: cpu, devices_per_node: 1, count: 1, host: h0}
)";
  auto text = WriteHostfile(FleetOf(kInterleaved), HostfileFormat::kOpenMpi);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(text.status().message(), HasSubstr("host h0 holds devices 0 and 2"));
  auto slurm = WriteHostfile(FleetOf(kInterleaved), HostfileFormat::kSlurm);
  ASSERT_TRUE(slurm.ok());
  EXPECT_EQ(*slurm, "h0\nh1\nh0\n");
}

TEST(HostsTest, LauncherWorldSizeFromTheEnvironment) {
  for (const char* name :
       {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "PMIX_RANK", "SLURM_STEP_NUM_TASKS"}) {
    unsetenv(name);
  }
  EXPECT_EQ(LauncherWorldSize(), 1);
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  std::string source;
  EXPECT_EQ(LauncherWorldSize(&source), 4);
  EXPECT_EQ(source, "OMPI_COMM_WORLD_SIZE=4");
  unsetenv("OMPI_COMM_WORLD_SIZE");
  setenv("SLURM_STEP_NUM_TASKS", "16", 1);
  EXPECT_EQ(LauncherWorldSize(), 1);  // a Slurm step without PMIx: not an MPI launch
  setenv("PMIX_RANK", "3", 1);
  EXPECT_EQ(LauncherWorldSize(&source), 16);
  EXPECT_EQ(source, "SLURM_STEP_NUM_TASKS=16");
  unsetenv("PMIX_RANK");
  unsetenv("SLURM_STEP_NUM_TASKS");
}

}  // namespace
}  // namespace tangram::orchestrator
