// Training over a fleet of several islands: the runtime switches to the composed "islands"
// communicator by itself, data-parallel gradients cross the islands through its hierarchical
// allreduce, tensor-parallel groups stay inside one island, and the parameters equal the serial
// reference (sim transport; tests/netns/islands_train.sh does the same across namespace hosts).
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "orchestrator/model/checkpoint.h"

#include "gtest/gtest.h"
#include "runtime_test_util.h"

namespace tangram::testing {
namespace {

// `islands[r]` names rank r's island.
void WriteIslandFleet(const TempJob& job, const std::vector<std::string>& islands) {
  std::string fleet = "name: test-fleet\nnodes:\n";
  for (const std::string& island : islands) {
    absl::StrAppend(&fleet, "  - device: cpu\n    devices_per_node: 1\n    count: 1\n",
                    "    host: local\n    island: ", island, "\n");
  }
  job.Write("fleet.yaml", fleet);
}

absl::StatusOr<orchestrator::TrainResult> TrainPlan(const TempJob& job, int ranks,
                                                    const partitioner::Plan& plan) {
  orchestrator::TrainOptions options;
  options.plan_path = job.Write("plan.json", partitioner::PlanToJsonString(plan));
  options.steps = 3;
  return Train(job, ranks, options);
}

TEST(RuntimeIslandsTest, DataParallelAcrossTwoIslandsMatchesSerialReference) {
  TempJob job(4);
  WriteIslandFleet(job, {"nvidia", "nvidia", "ascend", "ascend"});
  LogCapture log;
  auto result = TrainPlan(job, 4, MakeTestPlan({0, 4}, {2, 2, 2, 2}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NE(log.str().find("islands: 2 islands"), std::string::npos) << log.str();
  ExpectSameParameters(SerialParameters(3), Flatten(result->layers));
}

TEST(RuntimeIslandsTest, UnevenIslandsWithPipelineMatchSerialReference) {
  // Islands of 1 and 3 ranks; 2 stages × replicas {0: ranks 0,1}, {1: ranks 2,3}, so one data-
  // parallel group spans the islands unevenly (ranks 0 and 2, islands a and b).
  TempJob job(4);
  WriteIslandFleet(job, {"a", "b", "b", "b"});
  auto result = TrainPlan(job, 4, MakeTestPlan({0, 2, 4}, {5, 3}));
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectSameParameters(SerialParameters(3), Flatten(result->layers));
}

TEST(RuntimeIslandsTest, TensorParallelInsideIslandsDataParallelAcross) {
  TempJob job(4, {}, "auto", "", kTpModel);
  WriteIslandFleet(job, {"nvidia", "nvidia", "ascend", "ascend"});
  // tp 2: cells {0, 1} and {2, 3}, one per island; dp 2 across the islands.
  auto result = TrainPlan(job, 4, MakeTestPlan({0, 4}, {4, 4}, kMicroBatch, 2));
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectSameParameters(SerialParameters(3, nullptr, kTpSpec), Flatten(result->layers));
}

#if defined(TANGRAM_MPIEXEC) && defined(TANGRAM_BINARY)
// The same under a real mpirun: 4 processes, islands {0, 1} and {2, 3} from the fleet file, MPI
// sub-communicators inside each island and MPI point-to-point between; the final checkpoint holds
// the serial reference's parameters.
TEST(RuntimeIslandsTest, MpirunAcrossTwoIslandsMatchesSerialReference) {
  TempJob job(4);
  WriteIslandFleet(job, {"nvidia", "nvidia", "ascend", "ascend"});
  const std::string plan =
      job.Write("plan.json", partitioner::PlanToJsonString(MakeTestPlan({0, 4}, {2, 2, 2, 2})));
  const std::string ckpt = job.dir() + "/ckpt", log = job.dir() + "/log";
  const std::string cmd = absl::StrCat(
      "ASAN_OPTIONS=detect_leaks=0 ", TANGRAM_MPIEXEC, " --allow-run-as-root --oversubscribe -np 4",
      " -x ASAN_OPTIONS -x OPENBLAS_NUM_THREADS=1 ", TANGRAM_BINARY, " train --job ", job.path(),
      " --transport mpi --plan ", plan, " --steps 3 --no-rebalance --timeout 60 --checkpoint-dir ",
      ckpt, " >", log, " 2>&1");
  const int raw = std::system(cmd.c_str());
  std::ifstream in(log);
  const std::string out((std::istreambuf_iterator<char>(in)), {});
  ASSERT_TRUE(WIFEXITED(raw) && WEXITSTATUS(raw) == 0) << out;
  EXPECT_NE(out.find("islands: 2 islands"), std::string::npos) << out;
  auto checkpoint = train::LoadLatest(ckpt);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  std::map<std::string, std::vector<float>> parameters;
  for (const auto& layer : checkpoint->layers) {
    for (const auto& t : layer.params) parameters[t.name] = t.data;
  }
  ExpectSameParameters(SerialParameters(3), parameters);
}
#endif

}  // namespace
}  // namespace tangram::testing
