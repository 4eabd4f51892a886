// The training runtime under a real `mpirun`: the tangram binary trains with hand-made plans on
// 2, 3 and 4 processes (tensor parallelism included: tp 2 alone and tp 2 × pp 2), and its final
// checkpoint holds the serial reference's parameters; a run resumes on another process count;
// tp 2 × pp 2 re-balances after an emulated slowdown, moving shards between cells.
#include <sched.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "orchestrator/model/checkpoint.h"
#include "orchestrator/runtime/coordinator.h"
#include "orchestrator/runtime/cpu_pinning.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "runtime_test_util.h"

namespace tangram::testing {
namespace {

// `mpirun_options` go to mpirun itself, before -np.
int RunMpi(int ranks, const std::string& args, const std::string& log, bool rebalance = false,
           const std::string& mpirun_options = "") {
  // Open MPI 4.1 leaks in its own start-up, where LeakSanitizer cannot name the frames (see
  // tests/collectives/CMakeLists.txt): sanitizer builds check leaks everywhere but under mpirun.
  std::string cmd = absl::StrCat(
      "ASAN_OPTIONS=detect_leaks=0 ", TANGRAM_MPIEXEC, " --allow-run-as-root --oversubscribe ",
      mpirun_options, " -np ", ranks, " -x ASAN_OPTIONS -x OPENBLAS_NUM_THREADS=1 ", TANGRAM_BINARY,
      " train ", args, rebalance ? "" : " --no-rebalance", " --timeout 60 >", log, " 2>&1");
  int raw = std::system(cmd.c_str());
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::map<std::string, std::vector<float>> CheckpointParameters(const std::string& dir) {
  auto checkpoint = train::LoadLatest(dir);
  EXPECT_TRUE(checkpoint.ok()) << checkpoint.status();
  std::map<std::string, std::vector<float>> out;
  if (!checkpoint.ok()) return out;
  for (const auto& layer : checkpoint->layers) {
    for (const auto& t : layer.params) out[t.name] = t.data;
  }
  return out;
}

struct MpiCase {
  const char* name;
  int ranks;
  std::vector<int64_t> bounds;
  std::vector<int64_t> shares;
  int tp = 1;  // tp > 1 trains the tensor-parallel test model (6 heads)
};
void PrintTo(const MpiCase& c, std::ostream* os) { *os << c.name; }

class MpiEquivalenceTest : public ::testing::TestWithParam<MpiCase> {};

TEST_P(MpiEquivalenceTest, CheckpointMatchesSerialReference) {
  const MpiCase& c = GetParam();
  TempJob job(c.ranks, {}, "auto", "", c.tp > 1 ? kTpModel : kModel);
  std::string plan =
      job.Write("plan.json",
                partitioner::PlanToJsonString(MakeTestPlan(c.bounds, c.shares, kMicroBatch, c.tp)));
  std::string ckpt = job.dir() + "/ckpt", log = job.dir() + "/log";
  ASSERT_EQ(RunMpi(c.ranks,
                   absl::StrCat("--job ", job.path(), " --transport mpi --plan ", plan,
                                " --steps 3 --checkpoint-dir ", ckpt),
                   log),
            0)
      << Slurp(log);
  EXPECT_NE(Slurp(log).find("step    3/3"), std::string::npos) << Slurp(log);
  ExpectSameParameters(SerialParameters(3, nullptr, c.tp > 1 ? kTpSpec : kSpec),
                       CheckpointParameters(ckpt));
}

INSTANTIATE_TEST_SUITE_P(
    Mpirun, MpiEquivalenceTest,
    ::testing::Values(MpiCase{"Np2DataParallelUneven", 2, {0, 4}, {5, 3}},
                      MpiCase{"Np3PipelineUneven", 3, {0, 1, 3, 4}, {8}},
                      MpiCase{"Np4PipelineAndDataParallel", 4, {0, 3, 4}, {6, 2}},
                      MpiCase{"Np2TensorParallel", 2, {0, 4}, {8}, 2},
                      MpiCase{"Np4TensorAndPipelineParallel", 4, {0, 2, 4}, {8}, 2}),
    [](const auto& info) { return info.param.name; });

TEST(MpiRuntimeTest, ResumesOnAnotherProcessCount) {
  TempJob two(2), three(3);
  std::string ckpt = two.dir() + "/ckpt", log = two.dir() + "/log";
  std::string plan2 =
      two.Write("plan.json", partitioner::PlanToJsonString(MakeTestPlan({0, 2, 4}, {8})));
  ASSERT_EQ(RunMpi(2,
                   absl::StrCat("--job ", two.path(), " --transport mpi --plan ", plan2,
                                " --steps 2 --checkpoint-dir ", ckpt),
                   log),
            0)
      << Slurp(log);
  std::string plan3 =
      three.Write("plan.json", partitioner::PlanToJsonString(MakeTestPlan({0, 4}, {3, 3, 2})));
  ASSERT_EQ(RunMpi(3,
                   absl::StrCat("--job ", three.path(), " --transport mpi --plan ", plan3,
                                " --steps 4 --resume ", ckpt),
                   log),
            0)
      << Slurp(log);
  EXPECT_NE(Slurp(log).find("resuming from"), std::string::npos);
  ExpectSameParameters(SerialParameters(4), CheckpointParameters(ckpt));
}

TEST(MpiRuntimeTest, TpThatDoesNotDivideTheHeadsFailsOnEveryRankWithoutHanging) {
  TempJob job(4, {}, "auto", "", kTpModel);  // 6 heads, tp 4
  std::string plan = job.Write(
      "plan.json", partitioner::PlanToJsonString(MakeTestPlan({0, 4}, {8}, kMicroBatch, 4)));
  std::string log = job.dir() + "/log";
  absl::Time start = absl::Now();
  EXPECT_NE(RunMpi(4,
                   absl::StrCat("--job ", job.path(), " --transport mpi --plan ", plan,
                                " --steps 1 --checkpoint-dir ", job.dir(), "/ckpt"),
                   log),
            0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << "a rank waited for its deadline";
  EXPECT_NE(Slurp(log).find("heads (6)"), std::string::npos) << Slurp(log);
}

// Every rank's error line says which rank printed it ("[rank N] ", rank 0's bare, as its other
// lines), also when it is found before the communicator is up, and is written whole. They carried
// no prefix before. Odd and even process counts.
TEST(MpiRuntimeTest, ErrorLinesSayTheirRank) {
  for (int ranks : {2, 3}) {
    TempJob job(ranks);
    const std::string log = job.dir() + "/log";
    // mpirun otherwise kills the other ranks once one has exited non-zero, often before they
    // print: here every rank's line is wanted (and mpirun then exits 0 whatever the ranks did).
    (void)RunMpi(ranks,
                 absl::StrCat("--job ", job.path(), " --transport mpi --steps 1 --resume ",
                              job.dir(), "/nothing"),
                 log, false, "--mca orte_abort_on_non_zero_status 0");
    const std::string text = Slurp(log);
    for (int r = 0; r < ranks; ++r) {
      // A whole line: from the start of a line (rank 0 without a prefix) to the message's end.
      const std::string line =
          absl::StrCat("\n", r == 0 ? "" : absl::StrCat("[rank ", r, "] "),
                       "tangram train: --resume ", job.dir(), "/nothing: not a directory");
      EXPECT_TRUE(absl::StrContains("\n" + text, line)) << "rank " << r << ":\n" << text;
    }
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!absl::StrContains(line, "tangram train:")) continue;
      EXPECT_TRUE(absl::StartsWith(line, "tangram train:") || absl::StartsWith(line, "[rank "))
          << line;
    }
  }
}

TEST(MpiRuntimeTest, TensorParallelRebalancingMovesShardsAndMatches) {
  TempJob job(4, {}, "auto", "layout:\n  tp: 2\n  pp: 2\n", kTpModel);
  // Two nodes of two ranks: one cell each; the first plan from the fleet file's equal figures.
  job.Write("fleet.yaml",
            "name: test-fleet\nnodes:\n  - device: cpu\n    devices_per_node: 2\n    count: 1\n"
            "  - device: cpu\n    devices_per_node: 2\n    count: 1\n");
  auto first =
      orchestrator::PlanOnFleet(job.Load().fleet, job.Load(), partitioner::StrategyKind::kAuto);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->tp, 2);
  ASSERT_EQ(first->pp, 2);
  const partitioner::PlanStage& slow = first->stages.back();
  ASSERT_GT(slow.layer_end - slow.layer_begin, 1) << "the first plan leaves no block to move";
  // EMULATION: the last stage's cell becomes 12x slower from step 2.
  std::string changes;
  for (int64_t device : slow.cells.front().devices)
    absl::StrAppend(&changes, " --emulate-change ", device, ":1:12");
  std::string ckpt = job.dir() + "/ckpt", log = job.dir() + "/log";
  ASSERT_EQ(RunMpi(4,
                   absl::StrCat("--job ", job.path(), " --transport mpi --catalog-throughput",
                                changes, " --steps 6 --checkpoint-dir ", ckpt),
                   log, /*rebalance=*/true),
            0)
      << Slurp(log);
  std::string out = Slurp(log);
  // The re-plans' log lines: one of them moves a decoder block's shards, and each keeps tp 2.
  std::vector<std::string> replans;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::StartsWith(line, "re-plan after step")) replans.emplace_back(line);
  }
  ASSERT_FALSE(replans.empty()) << out;
  EXPECT_THAT(replans, ::testing::Contains(::testing::HasSubstr("block.")));
  EXPECT_THAT(replans, ::testing::Each(::testing::HasSubstr("new plan tp=2 pp=2")));
  EXPECT_EQ(out.find("re-balancing is off"), std::string::npos) << out;
  ExpectSameParameters(SerialParameters(6, nullptr, kTpSpec), CheckpointParameters(ckpt));
}

TEST(MpiRuntimeTest, MeasuredPlanTrainsWithFallingLoss) {
  TempJob job(3, {1, 1, 3});
  std::string log = job.dir() + "/log";
  ASSERT_EQ(
      RunMpi(3,
             absl::StrCat("--job ", job.path(), " --transport mpi --steps 6 --checkpoint-dir ",
                          job.dir(), "/ckpt --metrics ", job.dir(), "/metrics.jsonl"),
             log),
      0)
      << Slurp(log);
  std::string out = Slurp(log);
  EXPECT_NE(out.find("EMULATION"), std::string::npos) << out;
  EXPECT_NE(out.find("plan (auto)"), std::string::npos) << out;
  std::ifstream metrics(job.dir() + "/metrics.jsonl");
  std::vector<double> losses;
  for (std::string line; std::getline(metrics, line);)
    losses.push_back(nlohmann::json::parse(line)["loss"]);
  ASSERT_EQ(losses.size(), 6u);
  EXPECT_LT(losses.back(), losses.front());
}

// Four ranks of a pp 2 × dp 2 plan on this machine: when they outnumber its CPUs by a whole
// multiple, training pins each stage's two ranks to different CPUs (cpu_pinning.h) and says so;
// with TANGRAM_CPU_PINNING=0, or with a CPU per rank, it leaves them to the kernel. Either way the
// run trains to the serial reference (the pinning changes where ranks run, not what they compute).
TEST(MpiRuntimeTest, PipelineRanksArePinnedWhenTheyOutnumberTheCpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  const int cpus = CPU_COUNT(&set);
  partitioner::Plan plan = MakeTestPlan({0, 3, 4}, {6, 2}, kMicroBatch);
  partitioner::MeasuredCpuPool pool;
  pool.cores = cpus;
  pool.ranks = {0, 1, 2, 3};
  const std::string expected = orchestrator::DescribePinning(plan, {pool});
  EXPECT_EQ(expected.empty(), cpus >= 4 || 4 % cpus != 0) << expected;
  for (bool off : {false, true}) {
    TempJob job(4, {});
    const std::string path = job.Write("plan.json", partitioner::PlanToJsonString(plan));
    const std::string ckpt = job.dir() + "/ckpt", log = job.dir() + "/log";
    ASSERT_EQ(RunMpi(4,
                     absl::StrCat("--job ", job.path(), " --transport mpi --plan ", path,
                                  " --steps 3 --checkpoint-dir ", ckpt),
                     log, false, off ? "-x TANGRAM_CPU_PINNING=0" : ""),
              0)
        << Slurp(log);
    const std::string out = Slurp(log);
    if (off || expected.empty()) {
      EXPECT_EQ(out.find("CPU pinning"), std::string::npos) << out;
    } else {
      EXPECT_NE(
          out.find("CPU pinning (cpu_pinning.h; TANGRAM_CPU_PINNING=0 turns it off): " + expected),
          std::string::npos)
          << out;
    }
    ExpectSameParameters(SerialParameters(3, nullptr, kSpec), CheckpointParameters(ckpt));
  }
}

// `tangram probe` under a real mpirun (3 ranks, one host): every rank measures its compute on the
// job's layers and the same-node link; the file it writes loads as a fleet and plans.
TEST(MpiRuntimeTest, ProbeWritesAMeasuredFleetThatPlanUses) {
  TempJob job(3, {1, 1, 2});
  std::string out = job.dir() + "/measured.yaml", log = job.dir() + "/log";
  std::string cmd = absl::StrCat(
      "ASAN_OPTIONS=detect_leaks=0 ", TANGRAM_MPIEXEC, " --allow-run-as-root --oversubscribe -np 3",
      " -x ASAN_OPTIONS -x OPENBLAS_NUM_THREADS=1 ", TANGRAM_BINARY, " probe --job ", job.path(),
      " --out ", out, " --timeout 60 >", log, " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << Slurp(log);
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  auto fleet = partitioner::LoadFleet(out, *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status() << "\n" << Slurp(out);
  ASSERT_TRUE(fleet->measured.has_value());
  EXPECT_EQ(fleet->measured->ranks, 3);
  for (const auto& g : fleet->groups) {
    ASSERT_TRUE(g.measured_tflops.has_value());
    EXPECT_GT(*g.measured_tflops, 0);
  }
  EXPECT_EQ(fleet->groups[2].emulate_slowdown, 2);  // EMULATION stays labelled in the nodes
  // Layer times: one-device groups have no tensor-parallel degree, so tp 1, three kinds each.
  for (const auto& g : fleet->groups) {
    ASSERT_EQ(g.layer_times.size(), 3u) << Slurp(out);
    for (const auto& t : g.layer_times) {
      EXPECT_EQ(t.tp, 1);
      EXPECT_GT(t.forward_ms, 0);
    }
  }
  const partitioner::MeasuredLink* same = fleet->measured->Find(partitioner::LinkClass::kSameNode);
  ASSERT_NE(same, nullptr) << Slurp(out);
  EXPECT_GT(same->bandwidth_gbs, 0);
  EXPECT_EQ(fleet->groups[0].device.intra_node_link_gbs, same->bandwidth_gbs);
  std::string plan = absl::StrCat(TANGRAM_BINARY, " plan --fleet ", out, " --model ", job.dir(),
                                  "/model.yaml >", log, " 2>&1");
  EXPECT_EQ(std::system(plan.c_str()), 0) << Slurp(log);
}

// `tangram probe` on one node of 3 and of 4 CPU devices (the tensor-parallel model: 6 heads):
// layer times per kind at tp 1 and at the degree the node can form with that model (3; 2), with
// the runtime's tensor-parallel allreduces over MPI inside; the file plans. On 3 ranks with a
// budget no pass fits in: the minimum passes, said in `how:`, and the file still plans.
class MpiProbeLayerTimesTest : public ::testing::TestWithParam<int> {};

TEST_P(MpiProbeLayerTimesTest, EveryKindAtEachDegree) {
  const int ranks = GetParam();
  TempJob job(ranks, {}, "auto", "", kTpModel);
  job.Write("fleet.yaml", absl::StrCat("name: one-node\nnodes:\n  - device: cpu\n"
                                       "    devices_per_node: ",
                                       ranks, "\n    count: 1\n"));
  std::string out = job.dir() + "/measured.yaml", log = job.dir() + "/log";
  std::string cmd = absl::StrCat(
      "ASAN_OPTIONS=detect_leaks=0 ", TANGRAM_MPIEXEC, " --allow-run-as-root --oversubscribe -np ",
      ranks, " -x ASAN_OPTIONS -x OPENBLAS_NUM_THREADS=1 ", TANGRAM_BINARY, " probe --job ",
      job.path(), " --no-links --out ", out, " --timeout 60",
      // 3 ranks: a budget no pass fits in, so every part runs its minimum passes.
      ranks == 3 ? " --probe-budget-s 0.000001" : "", " >", log, " 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << Slurp(log);
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  auto fleet = partitioner::LoadFleet(out, *catalog);
  ASSERT_TRUE(fleet.ok()) << fleet.status() << "\n" << Slurp(out);
  const int degree = ranks == 3 ? 3 : 2;
  std::map<int, int> kinds_at;
  for (const auto& t : fleet->groups[0].layer_times) {
    ++kinds_at[t.tp];
    EXPECT_GT(t.forward_ms, 0);
    EXPECT_TRUE(t.backward_ms.has_value());
  }
  EXPECT_EQ(kinds_at, (std::map<int, int>{{1, 3}, {degree, 3}})) << Slurp(out);
  ASSERT_TRUE(fleet->measured.has_value());
  if (ranks == 3) {  // (with the default budget, whether it is reached depends on the load)
    EXPECT_THAT(fleet->measured->how, ::testing::HasSubstr("at least 1 on every rank; budget"));
    EXPECT_THAT(fleet->measured->how, ::testing::HasSubstr("reached on 3 of 3 ranks"));
  }
  std::string plan = absl::StrCat(TANGRAM_BINARY, " plan --fleet ", out, " --model ", job.dir(),
                                  "/model.yaml >", log, " 2>&1");
  EXPECT_EQ(std::system(plan.c_str()), 0) << Slurp(log);
}

INSTANTIATE_TEST_SUITE_P(OddAndEven, MpiProbeLayerTimesTest, ::testing::Values(3, 4));

}  // namespace
}  // namespace tangram::testing
