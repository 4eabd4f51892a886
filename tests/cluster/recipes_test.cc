// The cluster recipes, checked as far as this machine can: the Kubernetes MPIJobs' required fields
// (no Kubernetes schema validator is packaged in Debian 12, so the fields the MPI Operator
// v2beta1 needs are checked here), the container recipes' stages, the Slurm scripts' resume and
// placement steps, and the shipped 2 x 8 cluster jobs.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "partitioner/device_catalog.h"
#include "yaml-cpp/yaml.h"

namespace tangram::orchestrator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Source(const std::string& path) { return std::string(TANGRAM_SOURCE_DIR) + "/" + path; }

std::string Slurp(const std::string& path) {
  std::ifstream in(Source(path));
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// True when any key or scalar under `node` equals `text`.
bool Mentions(const YAML::Node& node, const std::string& text) {
  if (node.IsScalar()) return node.as<std::string>() == text;
  if (node.IsSequence()) {
    for (const auto& child : node)
      if (Mentions(child, text)) return true;
  }
  if (node.IsMap()) {
    for (const auto& kv : node)
      if (kv.first.as<std::string>() == text || Mentions(kv.second, text)) return true;
  }
  return false;
}

const partitioner::DeviceCatalog& Catalog() {
  static const auto* catalog =
      new partitioner::DeviceCatalog(partitioner::DeviceCatalog::BuiltIn().value());
  return *catalog;
}

struct MpiJobCase {
  const char* name;
  const char* file;
  const char* image;
  const char* job;  // the job the launcher trains, relative to share/tangram (= the repository)
  bool gpu;
};

class MpiJobTest : public ::testing::TestWithParam<MpiJobCase> {};

TEST_P(MpiJobTest, HasWhatTheMpiOperatorNeeds) {
  const MpiJobCase& c = GetParam();
  const YAML::Node doc = YAML::LoadFile(Source(c.file));
  EXPECT_EQ(doc["apiVersion"].as<std::string>(), "kubeflow.org/v2beta1");
  EXPECT_EQ(doc["kind"].as<std::string>(), "MPIJob");
  EXPECT_FALSE(doc["metadata"]["name"].as<std::string>().empty());
  const YAML::Node spec = doc["spec"];
  const int slots = spec["slotsPerWorker"].as<int>();
  EXPECT_EQ(spec["mpiImplementation"].as<std::string>(), "OpenMPI");
  ASSERT_TRUE(spec["runPolicy"]["cleanPodPolicy"]);
  const YAML::Node launcher = spec["mpiReplicaSpecs"]["Launcher"];
  const YAML::Node worker = spec["mpiReplicaSpecs"]["Worker"];
  ASSERT_TRUE(launcher && worker);
  EXPECT_EQ(launcher["replicas"].as<int>(), 1);
  const int workers = worker["replicas"].as<int>();

  // The launcher runs mpirun ... tangram train over the fleet's hostfile, -np = every slot.
  const YAML::Node lc = launcher["template"]["spec"]["containers"][0];
  EXPECT_EQ(lc["image"].as<std::string>(), c.image);
  std::string script;
  for (const auto& part : lc["command"]) script += part.as<std::string>() + " ";
  for (const auto& part : lc["args"]) script += part.as<std::string>() + " ";
  EXPECT_THAT(script, HasSubstr("mpirun --hostfile /tmp/hostfile --map-by slot"));
  // A host the launcher can no longer reach ends the job within seconds (docs/cluster.md).
  EXPECT_THAT(script, HasSubstr("--mca oob_tcp_keepalive_time 1"));
  EXPECT_THAT(script, HasSubstr("tangram hostfile --job"));
  EXPECT_THAT(script, HasSubstr(absl::StrCat("-np ", workers * slots, " ")));
  EXPECT_THAT(script, HasSubstr("tangram train --job \"$job\" --transport mpi --auto-resume"));
  EXPECT_THAT(script, HasSubstr(absl::StrCat("job=", c.job)));
  auto job = LoadJob(Source(c.job), Catalog());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->fleet.num_devices(), workers * slots);
  EXPECT_EQ(job->fleet.num_nodes(), workers);
  EXPECT_EQ(job->transport, "mpi");

  // Workers run sshd (the launcher reaches them over ssh) and mount the checkpoint volume.
  const YAML::Node wspec = worker["template"]["spec"];
  const YAML::Node wc = wspec["containers"][0];
  EXPECT_EQ(wc["image"].as<std::string>(), c.image);
  ASSERT_TRUE(wc["command"]) << "a worker without a command starts `tangram` and exits";
  EXPECT_EQ(wc["command"][0].as<std::string>(), "/usr/sbin/sshd");
  EXPECT_EQ(wc["args"][0].as<std::string>(), "-De");
  const std::string checkpoint_dir =
      script.substr(script.find("--checkpoint-dir ") + 17).substr(0, 13);
  EXPECT_EQ(checkpoint_dir, "/checkpoints/");
  EXPECT_EQ(wc["volumeMounts"][0]["mountPath"].as<std::string>(), "/checkpoints");
  const std::string volume = wc["volumeMounts"][0]["name"].as<std::string>();
  bool claimed = false;
  for (const auto& v : wspec["volumes"]) {
    if (v["name"].as<std::string>() != volume) continue;
    const YAML::Node pvc = YAML::LoadFile(Source("deploy/kubernetes/pvc.yaml"));
    EXPECT_EQ(pvc["kind"].as<std::string>(), "PersistentVolumeClaim");
    EXPECT_EQ(pvc["spec"]["accessModes"][0].as<std::string>(), "ReadWriteMany");
    EXPECT_EQ(v["persistentVolumeClaim"]["claimName"].as<std::string>(),
              pvc["metadata"]["name"].as<std::string>());
    claimed = true;
  }
  EXPECT_TRUE(claimed) << "the checkpoint volume is not the PersistentVolumeClaim";

  // GPUs: requested by the CUDA variant's workers only, one per slot.
  if (c.gpu) {
    EXPECT_EQ(wc["resources"]["limits"]["nvidia.com/gpu"].as<int>(), slots);
    EXPECT_FALSE(Mentions(launcher, "nvidia.com/gpu"));
  } else {
    EXPECT_FALSE(Mentions(doc, "nvidia.com/gpu"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Recipes, MpiJobTest,
    ::testing::Values(MpiJobCase{"Cpu", "deploy/kubernetes/mpijob.yaml", "tangram:cpu",
                                 "configs/jobs/cluster-cpu-2x8.yaml", false},
                      MpiJobCase{"Cuda", "deploy/kubernetes/mpijob-cuda.yaml", "tangram:cuda",
                                 "configs/jobs/cluster-h200-2x8.yaml", true}),
    [](const ::testing::TestParamInfo<MpiJobCase>& info) { return std::string(info.param.name); });

TEST(RecipesTest, ContainerImagesAreMultiStageWithASlimRuntimeRunningSshd) {
  for (const char* file : {"deploy/container/Dockerfile", "deploy/container/Dockerfile.cuda"}) {
    const std::string text = Slurp(file);
    std::vector<std::string> stages = absl::StrSplit(text, "\nFROM ");
    ASSERT_EQ(stages.size(), 3u) << file << ": expected a build and a runtime stage";
    EXPECT_THAT(stages[1], HasSubstr("AS build"));
    const std::string& runtime = stages[2];
    EXPECT_THAT(runtime, HasSubstr("-slim AS runtime")) << file;
    EXPECT_THAT(runtime, HasSubstr("openssh-server")) << file;
    EXPECT_THAT(runtime, HasSubstr("COPY --from=build /opt/tangram /opt/tangram")) << file;
    EXPECT_THAT(runtime, Not(HasSubstr("install-deps.sh"))) << file;
    EXPECT_THAT(runtime, Not(HasSubstr("-dev "))) << file << ": no -dev packages at run time";
    EXPECT_EQ(absl::StrContains(text, "cuda"), absl::StrContains(file, "cuda")) << file;
  }
  const std::string ignore = Slurp(".dockerignore");
  for (const char* path : {"\n.git\n", "\nbuild\n", "\nout\n"}) {
    EXPECT_THAT("\n" + ignore, HasSubstr(path));
  }
}

TEST(RecipesTest, SlurmScriptsPlaceByFleetAndResumeAfterRequeue) {
  const std::string common = Slurp("deploy/slurm/common.sh");
  EXPECT_THAT(common, HasSubstr("--auto-resume"));
  EXPECT_THAT(common, HasSubstr("--transport mpi"));
  EXPECT_THAT(common, HasSubstr("--checkpoint-dir \"$checkpoints\""));
  EXPECT_THAT(common, HasSubstr("scontrol requeue"));
  const std::string mpirun = Slurp("deploy/slurm/mpirun.sbatch");
  const std::string srun = Slurp("deploy/slurm/srun-pmix.sbatch");
  for (const std::string* script : {&mpirun, &srun}) {
    EXPECT_THAT(*script, HasSubstr("#SBATCH --requeue"));
    EXPECT_THAT(*script, HasSubstr("#SBATCH --nodes=2"));
    EXPECT_THAT(*script, HasSubstr("#SBATCH --ntasks-per-node=8"));
    EXPECT_THAT(*script, HasSubstr("deploy/slurm/common.sh"));
    EXPECT_THAT(*script, HasSubstr("tangram hostfile --job \"$job\" --nodes \"$nodes\""));
  }
  EXPECT_THAT(mpirun, HasSubstr("mpirun --hostfile \"$hostfile\" --map-by slot"));
  EXPECT_THAT(mpirun, HasSubstr("--mca oob_tcp_keepalive_time 1"));
  EXPECT_THAT(srun, HasSubstr("srun --mpi=pmix --distribution=arbitrary"));
  EXPECT_THAT(srun, HasSubstr("--format slurm --out \"$SLURM_HOSTFILE\""));
}

TEST(RecipesTest, ShippedClusterJobsFitTwoMachinesOfEight) {
  for (const char* path :
       {"configs/jobs/cluster-cpu-2x8.yaml", "configs/jobs/cluster-h200-2x8.yaml"}) {
    auto job = LoadJob(Source(path), Catalog());
    ASSERT_TRUE(job.ok()) << job.status();
    EXPECT_EQ(job->fleet.num_devices(), 16) << path;
    EXPECT_EQ(job->fleet.num_nodes(), 2) << path;
    EXPECT_EQ(job->transport, "mpi") << path;
    EXPECT_EQ(job->model.name, "tiny-gpt") << path << ": the reference model tangram train runs";
    EXPECT_EQ(job->training.global_batch % 16, 0) << path;
  }
}

}  // namespace
}  // namespace tangram::orchestrator
