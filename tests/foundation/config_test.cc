// Config loading: every shipped config is valid, and every kind of bad input is a clear error
// naming file, line:column and field (never a crash or an exception).
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/model.h"

namespace tangram {
namespace {

using partitioner::DeviceCatalog;
using ::testing::HasSubstr;

namespace fs = std::filesystem;
const fs::path kSource = TANGRAM_SOURCE_DIR;

const DeviceCatalog& Catalog() {
  static const DeviceCatalog* catalog = new DeviceCatalog(DeviceCatalog::BuiltIn().value());
  return *catalog;
}

absl::Status FleetError(const std::string& text) {
  return partitioner::ParseFleet(text, "x.yaml", Catalog()).status();
}
absl::Status ModelError(const std::string& text) {
  return partitioner::ParseModel(text, "m.yaml").status();
}

constexpr char kGoodFleet[] = R"(name: f
nodes:
  - device: H200
    devices_per_node: 8
    count: 2
    nic_gbps: 400
    measured_tflops: 520
  - device: Ascend910B
    devices_per_node: 8
    count: 4
    nic_gbps: 200
)";

constexpr char kGoodModel[] = R"(name: m
layers: 2
hidden: 64
ffn_hidden: 256
heads: 4
kv_heads: 2
vocab: 100
seq_len: 16
mlp: gelu
)";

TEST(ConfigTest, BuiltInCatalogHasEveryRequiredKind) {
  for (const char* kind : {"H200", "H100", "H800", "H20", "B200", "A100-80G", "A800", "L40S", "L20",
                           "Ascend910B", "Ascend910C", "MI300X", "HygonK100", "cpu"}) {
    EXPECT_NE(Catalog().Find(kind), nullptr) << kind;
  }
  EXPECT_EQ(Catalog().Find("h200"), nullptr);  // kinds are exact
}

// Issue 10: kinds teams still run, each with a source and a confidence and an architecture.
TEST(ConfigTest, CatalogHasOlderAndConsumerKindsWithSources) {
  for (const char* kind : {"V100", "T4", "A100-40G", "RTX3090", "RTX4090", "MI250X", "MI325X"}) {
    const partitioner::DeviceSpec* d = Catalog().Find(kind);
    ASSERT_NE(d, nullptr) << kind;
    EXPECT_FALSE(d->source.empty()) << kind;
    EXPECT_NE(d->architecture, "unknown") << kind;
  }
  for (const partitioner::DeviceSpec& d : Catalog().devices()) {
    EXPECT_NE(d.architecture, "unknown") << d.kind;
  }
}

// --catalog FILE merges by kind: a listed kind replaces the built-in entry, a new kind is added,
// the other built-in kinds stay; `replace: true` (or the flag) uses the file alone.
TEST(ConfigTest, CatalogFileMergesByKind) {
  const fs::path dir = fs::temp_directory_path() / "tangram-catalog-merge";
  fs::create_directories(dir);
  const std::string entry = R"(
  - kind: H100
    vendor: NVIDIA
    peak_tflops_bf16: 900
    memory_gib: 79.6
    memory_bandwidth_gbs: 3350
    intra_node_link_gbs: 450
    nic_gbps: 400
    collective_library: nccl
    confidence: datasheet
    source: "test"
  - kind: MyNPU
    vendor: generic
    peak_tflops_bf16: 100
    memory_gib: 32
    memory_bandwidth_gbs: 1000
    intra_node_link_gbs: 50
    nic_gbps: 100
    collective_library: none
    confidence: uncertain
    source: "test"
)";
  {
    std::ofstream(dir / "merge.yaml") << "devices:" << entry;
    std::ofstream(dir / "replace.yaml") << "replace: true\ndevices:" << entry;
  }
  auto merged = DeviceCatalog::LoadOverBuiltIn((dir / "merge.yaml").string(), false);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->devices().size(), Catalog().devices().size() + 1);
  EXPECT_EQ(merged->Find("H100")->peak_tflops_bf16, 900);
  ASSERT_NE(merged->Find("MyNPU"), nullptr);
  EXPECT_EQ(merged->Find("MyNPU")->architecture, "unknown");
  ASSERT_NE(merged->Find("H200"), nullptr);
  auto alone = DeviceCatalog::LoadOverBuiltIn((dir / "merge.yaml").string(), true);
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(alone->devices().size(), 2u);
  auto replaced = DeviceCatalog::LoadOverBuiltIn((dir / "replace.yaml").string(), false);
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_EQ(replaced->devices().size(), 2u);
  fs::remove_all(dir);
}

TEST(ConfigTest, BuiltInCatalogMatchesShippedFile) {
  auto file = DeviceCatalog::LoadFile((kSource / "configs/devices.yaml").string());
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->devices().size(), Catalog().devices().size());
}

TEST(ConfigTest, EveryShippedConfigLoads) {
  int fleets = 0, models = 0, jobs = 0;
  for (const auto& e : fs::directory_iterator(kSource / "configs/fleets")) {
    auto f = partitioner::LoadFleet(e.path().string(), Catalog());
    EXPECT_TRUE(f.ok()) << f.status();
    ++fleets;
  }
  for (const auto& e : fs::directory_iterator(kSource / "configs/models")) {
    auto m = partitioner::LoadModel(e.path().string());
    EXPECT_TRUE(m.ok()) << m.status();
    ++models;
  }
  for (const auto& e : fs::directory_iterator(kSource / "configs/jobs")) {
    auto j = orchestrator::LoadJob(e.path().string(), Catalog());
    EXPECT_TRUE(j.ok()) << j.status();
    ++jobs;
  }
  int published = 0;
  for (const auto& e : fs::directory_iterator(kSource / "configs/published/jobs")) {
    auto j = orchestrator::LoadJob(e.path().string(), Catalog());
    EXPECT_TRUE(j.ok()) << j.status();
    ++published;
  }
  EXPECT_GE(fleets, 6);
  EXPECT_GE(models, 10);
  EXPECT_GE(jobs, 1);
  EXPECT_GE(published, 13);
}

// The precision-aware peak changes nothing for 16-bit jobs: on every shipped and published bf16
// or fp16 job, every group's matmul peak is the catalog's BF16 figure, as before the catalog had
// other precisions (the fp32 ones run at their FP32 peak, or are measured).
TEST(ConfigTest, SixteenBitJobsKeepTheBf16Peak) {
  int sixteen = 0, fp32_catalog = 0;
  for (const char* dir : {"configs/jobs", "configs/published/jobs"}) {
    for (const auto& e : fs::directory_iterator(kSource / dir)) {
      auto j = orchestrator::LoadJob(e.path().string(), Catalog());
      ASSERT_TRUE(j.ok()) << j.status();
      const bool fp32 = j->training.precision == partitioner::Precision::kFp32;
      sixteen += fp32 ? 0 : 1;
      for (const partitioner::NodeGroup& g : j->fleet.groups) {
        const double peak = partitioner::MatmulPeakTflops(g.device, j->training, nullptr);
        if (!fp32) {
          EXPECT_EQ(peak, g.device.peak_tflops_bf16) << e.path() << " " << g.device.kind;
        } else if (!g.measured_tflops.has_value()) {
          EXPECT_EQ(peak, g.device.peak_tflops_fp32.value_or(-1))
              << e.path() << " " << g.device.kind;
          ++fp32_catalog;
        }
      }
    }
  }
  EXPECT_GE(sixteen, 40);
  EXPECT_GE(fp32_catalog, 1);  // configs/jobs/cluster-h200-2x8.yaml: H200 at 67, not 989
}

TEST(ConfigTest, ShippedFleetsHaveTheirAdvertisedShape) {
  auto large =
      partitioner::LoadFleet((kSource / "configs/fleets/large-4096.yaml").string(), Catalog());
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_EQ(large->num_devices(), 4096);
  EXPECT_EQ(large->kinds().size(), 4u);
  auto local =
      partitioner::LoadFleet((kSource / "configs/fleets/local-cpu.yaml").string(), Catalog());
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->num_devices(), 4);
  EXPECT_EQ(local->num_nodes(), 1);  // four ranks, one host
}

TEST(ConfigTest, PublishedParameterCounts) {
  // Published sizes: Llama-2 7B = 6.74 B, Llama-2 70B = 68.98 B, GPT-3 175B = 174.6 B.
  struct Case {
    const char* file;
    double billions;
  };
  for (auto c : {Case{"llama2-7b", 6.74}, Case{"llama2-70b", 68.98}, Case{"gpt3-175b", 174.6},
                 Case{"llama3-8b", 8.03}}) {
    auto m = partitioner::LoadModel(
        (kSource / "configs/models" / (std::string(c.file) + ".yaml")).string());
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_NEAR(m->TotalParameters() / 1e9, c.billions, 0.02 * c.billions) << c.file;
  }
}

TEST(ConfigTest, FleetFieldsAndFlattening) {
  auto fleet = partitioner::ParseFleet(kGoodFleet, "x.yaml", Catalog());
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  EXPECT_EQ(fleet->num_devices(), 48);
  EXPECT_EQ(fleet->num_nodes(), 6);
  EXPECT_DOUBLE_EQ(fleet->groups[0].stated_tflops(), 520);
  EXPECT_DOUBLE_EQ(fleet->groups[1].stated_tflops(),
                   Catalog().Find("Ascend910B")->peak_tflops_bf16);
  EXPECT_EQ(fleet->groups[0].island, "nccl");
  EXPECT_EQ(fleet->groups[1].island, "hccl");
  auto slots = partitioner::FlattenFleet(*fleet);
  ASSERT_EQ(slots.size(), 48u);
  EXPECT_EQ(slots[9].node, 1);
  EXPECT_EQ(slots[9].local, 1);
  EXPECT_EQ(slots[16].island, 1);
  EXPECT_EQ(slots[47].node, 5);
}

struct BadCase {
  const char* name;
  std::string text;
  const char* location;  // "file:line:col"
  const char* message;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadFleetTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadFleetTest, NamesFileLineAndField) {
  absl::Status s = FleetError(GetParam().text);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(GetParam().location));
  EXPECT_THAT(std::string(s.message()), HasSubstr(GetParam().message));
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

INSTANTIATE_TEST_SUITE_P(
    Fleets, BadFleetTest,
    ::testing::Values(
        BadCase{"UnknownKind", Replace(kGoodFleet, "Ascend910B", "H2OO"), "x.yaml:8:13",
                "nodes[1].device: unknown device kind \"H2OO\" (known: H200"},
        BadCase{"UnknownKey", Replace(kGoodFleet, "count: 4", "cuont: 4"), "x.yaml:10:5",
                "nodes[1].cuont: unknown field; did you mean \"count\"?"},
        BadCase{"WrongType", Replace(kGoodFleet, "count: 2", "count: two"), "x.yaml:5:12",
                "nodes[0].count: expected an integer"},
        BadCase{"Negative", Replace(kGoodFleet, "count: 2", "count: -3"), "x.yaml:5:12",
                "nodes[0].count: expected an integer in [1,"},
        BadCase{"Zero",
                Replace(kGoodFleet, "devices_per_node: 8\n    count: 2",
                        "devices_per_node: 0\n    count: 2"),
                "x.yaml:4:23", "nodes[0].devices_per_node"},
        BadCase{"Huge", Replace(kGoodFleet, "count: 2", "count: 99999999999999999999999"),
                "x.yaml:5:12", "nodes[0].count: expected an integer"},
        BadCase{"NegativeThroughput",
                Replace(kGoodFleet, "measured_tflops: 520", "measured_tflops: -5"), "x.yaml:7:22",
                "nodes[0].measured_tflops: expected a number > 0"},
        BadCase{"InfiniteThroughput",
                Replace(kGoodFleet, "measured_tflops: 520", "measured_tflops: .inf"), "x.yaml:7:22",
                "measured_tflops"},
        BadCase{"MissingField", Replace(kGoodFleet, "    count: 4\n", ""), "x.yaml:8:5",
                "nodes[1].count: required field is missing"},
        BadCase{"NodesNotAList", "name: f\nnodes: 3\n", "x.yaml:2:8",
                "nodes: expected a non-empty list"},
        BadCase{"NodesEmpty", "name: f\nnodes: []\n", "x.yaml:2:8",
                "nodes: expected a non-empty list, found an empty list"},
        BadCase{"Truncated", "name: f\nnodes: [ {device: H200, count: ", "x.yaml:", "invalid YAML"},
        BadCase{"Empty", "", "x.yaml", "empty file"},
        BadCase{"OnlyComment", "# nothing\n", "x.yaml", "empty file"},
        BadCase{"Scalar", "hello", "x.yaml:1:1", "expected a mapping"},
        BadCase{"Binary",
                std::string("\x7f"
                            "ELF\x02\x01\x01\0\0\0",
                            10),
                "x.yaml", "not a text file"},
        BadCase{"DeeplyNested", "name: " + std::string(5000, '[') + std::string(5000, ']'),
                "x.yaml", "nest"},
        BadCase{"HostWithCount", Replace(kGoodFleet, "count: 2", "count: 2\n    host: a"),
                "x.yaml:6:11", "nodes[0].host"},
        BadCase{"SlowdownOnGpu",
                Replace(kGoodFleet, "count: 2", "count: 2\n    emulate_slowdown: 2"), "x.yaml:6:23",
                "CPU ranks only"}),
    [](const auto& info) { return info.param.name; });

// Network latencies are >= 0 as configs.md says (0: an ideal link); a negative one or a NaN is
// refused naming the field and the range (0 was refused as "expected a number > 0").
TEST(ConfigTest, NetworkLatenciesMayBeZero) {
  const std::string zero = std::string(kGoodFleet) +
                           "network: {intra_node_latency_us: 0, inter_node_latency_us: 0, "
                           "inter_island_latency_us: 0}\n";
  auto fleet = partitioner::ParseFleet(zero, "x.yaml", Catalog());
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  EXPECT_EQ(fleet->network.intra_node_latency_us, 0);
  EXPECT_EQ(fleet->network.inter_node_latency_us, 0);
  EXPECT_EQ(fleet->network.inter_island_latency_us, 0);
  absl::Status s = FleetError(std::string(kGoodFleet) + "network: {inter_node_latency_us: -1}\n");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("x.yaml:12:34: network.inter_node_latency_us: expected a number >= 0 and "
                        "<= 1e+06, found -1"));
  s = FleetError(std::string(kGoodFleet) + "network: {inter_island_latency_us: .nan}\n");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("inter_island_latency_us: expected a number >= 0"));
  s = FleetError(std::string(kGoodFleet) + "network: {inter_island_gbps: 0}\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("inter_island_gbps: expected a number > 0"));
  // Every error of the section at once (it stopped at the first).
  s = FleetError(std::string(kGoodFleet) +
                 "network: {inter_node_latency_us: -1, inter_island_gbps: 0, speed: 3}\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("inter_node_latency_us: expected a number >= 0"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("inter_island_gbps: expected a number > 0"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("network.speed: unknown field"));
}

TEST(ConfigTest, ModelChecksDivisibility) {
  absl::Status s = ModelError(Replace(kGoodModel, "heads: 4\n", "heads: 5\n"));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("m.yaml:5:8: heads: heads (5) must divide hidden (64)"));
  s = ModelError(Replace(kGoodModel, "kv_heads: 2", "kv_heads: 3"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("m.yaml:6:11: kv_heads:"));
  s = ModelError(Replace(kGoodModel, "mlp: gelu", "mlp: relu"));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("m.yaml:9:6: mlp: expected one of gelu | swiglu"));
  EXPECT_TRUE(partitioner::ParseModel(kGoodModel, "m.yaml").ok());
}

// `dropout` (default true) says whether the model keeps dropout masks; it must be a bool.
TEST(ConfigTest, ModelDropoutKey) {
  auto with = partitioner::ParseModel(kGoodModel, "m.yaml");
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_TRUE(with->dropout);
  auto without = partitioner::ParseModel(
      Replace(kGoodModel, "mlp: gelu", "mlp: gelu\ndropout: false"), "m.yaml");
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_FALSE(without->dropout);
  absl::Status s = ModelError(Replace(kGoodModel, "mlp: gelu", "mlp: gelu\ndropout: 0.1"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("dropout"));
}

class TempDir {
 public:
  TempDir()
      : path_(fs::temp_directory_path() / ("tangram_config_test_" + std::to_string(getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path Write(const std::string& name, const std::string& text) const {
    fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(ConfigTest, FileErrorsNameThePathAsWritten) {
  TempDir dir;
  auto missing = partitioner::LoadFleet((dir.path() / "nope.yaml").string(), Catalog());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("nope.yaml: cannot open"));
  auto directory = partitioner::LoadFleet(dir.path().string(), Catalog());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(directory.status().message()), HasSubstr("is a directory"));
}

TEST(ConfigTest, JobResolvesPathsAgainstItsDirectory) {
  TempDir dir;
  dir.Write("fleets/f.yaml", kGoodFleet);
  dir.Write("models/m.yaml", kGoodModel);
  std::string job = R"(fleet: ../fleets/f.yaml
model: ../models/m.yaml
global_batch: 64
micro_batch: 2
precision: bf16
zero_stage: 1
recompute: selective
strategy: auto
transport: sim
steps: 3
checkpoint_dir: ../ckpt
)";
  auto ok = orchestrator::LoadJob(dir.Write("jobs/j.yaml", job).string(), Catalog());
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->fleet.num_devices(), 48);
  EXPECT_EQ(ok->model.layers, 2);
  EXPECT_EQ(ok->training.micro_batch, 2);
  EXPECT_EQ(ok->name, "j");

  // The software switches default to today's stack: FlashAttention, sequence parallelism, an
  // overlapped gradient reduction.
  EXPECT_TRUE(ok->training.flash_attention);
  EXPECT_TRUE(ok->training.sequence_parallel);
  EXPECT_TRUE(ok->training.overlap_grad_reduce);
  auto old = orchestrator::LoadJob(
      dir.Write("jobs/old.yaml", job + "attention: unfused\nsequence_parallel: false\n"
                                       "overlap_grad_reduce: false\n")
          .string(),
      Catalog());
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_FALSE(old->training.flash_attention);
  EXPECT_FALSE(old->training.sequence_parallel);
  EXPECT_FALSE(old->training.overlap_grad_reduce);
  auto fused = orchestrator::LoadJob(
      dir.Write("jobs/fused.yaml", job + "attention: fused\n").string(), Catalog());
  EXPECT_THAT(std::string(fused.status().message()), HasSubstr("fused.yaml:12:12: attention"));
  auto notbool = orchestrator::LoadJob(
      dir.Write("jobs/nb2.yaml", job + "sequence_parallel: maybe\n").string(), Catalog());
  EXPECT_THAT(std::string(notbool.status().message()),
              HasSubstr("nb2.yaml:12:20: sequence_parallel"));
  // pipeline_p2p: pre-posted receives by default; rendezvous is DeepSpeed's pipeline engine,
  // which has no interleaved schedule.
  EXPECT_EQ(ok->training.pipeline_p2p, partitioner::PipelineP2p::kPosted);
  auto ds = orchestrator::LoadJob(
      dir.Write("jobs/ds.yaml", job + "pipeline_p2p: rendezvous\n").string(), Catalog());
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->training.pipeline_p2p, partitioner::PipelineP2p::kRendezvous);
  auto bad_p2p = orchestrator::LoadJob(
      dir.Write("jobs/p2p.yaml", job + "pipeline_p2p: eager\n").string(), Catalog());
  EXPECT_THAT(std::string(bad_p2p.status().message()), HasSubstr("p2p.yaml:12:15: pipeline_p2p"));
  auto ds_interleaved = orchestrator::LoadJob(
      dir.Write("jobs/dsv.yaml",
                job + "pipeline_p2p: rendezvous\nlayout: {pp: 2, virtual_stages: 2}\n")
          .string(),
      Catalog());
  EXPECT_THAT(std::string(ds_interleaved.status().message()), HasSubstr("no interleaved schedule"));
  // The stack switches of 2024 (tp_comm_overlap, ZeRO-2's overlap_param_gather): off by default,
  // booleans only, and refused where the stack they describe would refuse them.
  EXPECT_FALSE(ok->training.tp_comm_overlap);
  EXPECT_FALSE(ok->training.overlap_param_gather);
  auto nemo = orchestrator::LoadJob(
      dir.Write("jobs/nemo.yaml", Replace(job, "zero_stage: 1", "zero_stage: 2") +
                                      "tp_comm_overlap: true\noverlap_param_gather: true\n"
                                      "pipeline_p2p: overlapped\n")
          .string(),
      Catalog());
  ASSERT_TRUE(nemo.ok()) << nemo.status();
  EXPECT_TRUE(nemo->training.tp_comm_overlap);
  EXPECT_TRUE(nemo->training.overlap_param_gather);
  EXPECT_EQ(nemo->training.pipeline_p2p, partitioner::PipelineP2p::kOverlapped);
  auto tp_maybe = orchestrator::LoadJob(
      dir.Write("jobs/tpm.yaml", job + "tp_comm_overlap: maybe\n").string(), Catalog());
  EXPECT_THAT(std::string(tp_maybe.status().message()),
              HasSubstr("tpm.yaml:12:18: tp_comm_overlap"));
  auto tp_no_sp = orchestrator::LoadJob(
      dir.Write("jobs/tpsp.yaml", job + "sequence_parallel: false\ntp_comm_overlap: true\n")
          .string(),
      Catalog());
  EXPECT_THAT(std::string(tp_no_sp.status().message()),
              HasSubstr("tp_comm_overlap: needs sequence_parallel"));
  auto gather_z1 = orchestrator::LoadJob(
      dir.Write("jobs/pg.yaml", job + "overlap_param_gather: true\n").string(), Catalog());
  EXPECT_THAT(std::string(gather_z1.status().message()),
              HasSubstr("pg.yaml:12:23: overlap_param_gather: applies to zero_stage 2 only"));
  // allow_tf32: off by default (PyTorch >= 1.12), a boolean, for fp32 jobs only.
  EXPECT_FALSE(ok->training.allow_tf32);
  auto tf32 = orchestrator::LoadJob(
      dir.Write("jobs/tf32.yaml",
                Replace(job, "precision: bf16", "precision: fp32") + "allow_tf32: true\n")
          .string(),
      Catalog());
  ASSERT_TRUE(tf32.ok()) << tf32.status();
  EXPECT_TRUE(tf32->training.allow_tf32);
  auto tf32_bf16 = orchestrator::LoadJob(
      dir.Write("jobs/tf32b.yaml", job + "allow_tf32: true\n").string(), Catalog());
  EXPECT_THAT(std::string(tf32_bf16.status().message()),
              HasSubstr("tf32b.yaml:12:13: allow_tf32: applies to precision fp32 only (the job "
                        "has bf16)"));
  auto tf32_maybe = orchestrator::LoadJob(
      dir.Write("jobs/tf32m.yaml", job + "allow_tf32: maybe\n").string(), Catalog());
  EXPECT_THAT(std::string(tf32_maybe.status().message()),
              HasSubstr("tf32m.yaml:12:13: allow_tf32"));

  auto missing = orchestrator::LoadJob(
      dir.Write("jobs/bad.yaml", Replace(job, "../fleets/f.yaml", "../fleets/gone.yaml")).string(),
      Catalog());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("bad.yaml:1:8: fleet: cannot open \"../fleets/gone.yaml\""));

  // A micro-batch need not divide the global batch (a replica ends with a smaller one); one
  // larger than the whole batch is an error at its line.
  auto indivisible = orchestrator::LoadJob(
      dir.Write("jobs/div.yaml", Replace(job, "micro_batch: 2", "micro_batch: 5")).string(),
      Catalog());
  EXPECT_TRUE(indivisible.ok()) << indivisible.status();
  auto too_large = orchestrator::LoadJob(
      dir.Write("jobs/big.yaml", Replace(job, "micro_batch: 2", "micro_batch: 5000")).string(),
      Catalog());
  EXPECT_THAT(std::string(too_large.status().message()),
              HasSubstr("big.yaml:4:14: micro_batch: micro_batch (5000) exceeds global_batch"));

  auto nested_bad_fleet = orchestrator::LoadJob(
      dir.Write("jobs/nb.yaml", Replace(job, "../fleets/f.yaml", "../fleets/g.yaml")).string(),
      Catalog());
  dir.Write("fleets/g.yaml", Replace(kGoodFleet, "H200", "H9000"));
  nested_bad_fleet = orchestrator::LoadJob((dir.path() / "jobs/nb.yaml").string(), Catalog());
  EXPECT_THAT(std::string(nested_bad_fleet.status().message()),
              HasSubstr("g.yaml:3:13: nodes[0].device: unknown device kind \"H9000\""));
}

}  // namespace
}  // namespace tangram
