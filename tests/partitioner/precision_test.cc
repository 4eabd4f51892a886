// The compute model by precision: which catalog peak a job's matmuls run at (MatmulPeakTflops),
// the catalog's precision keys and their errors.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_catalog.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using testing::Catalog;
using ::testing::HasSubstr;
using testing::Job;
using testing::Llama2_7B;
using testing::MakeCost;
using testing::MakeFleet;

TrainingSpec WithPrecision(Precision p, bool allow_tf32 = false) {
  TrainingSpec t = Job(8);
  t.precision = p;
  t.allow_tf32 = allow_tf32;
  return t;
}

double Peak(const std::string& kind, const TrainingSpec& t, std::string* warning = nullptr) {
  const DeviceSpec* d = Catalog().Find(kind);
  EXPECT_NE(d, nullptr) << kind;
  return MatmulPeakTflops(*d, t, warning);
}

TEST(PrecisionTest, PeakFollowsTheJobPrecisionOnA100) {
  std::string w;
  EXPECT_EQ(Peak("A100-80G", WithPrecision(Precision::kBf16), &w), 312);
  EXPECT_EQ(Peak("A100-80G", WithPrecision(Precision::kFp16), &w), 312);
  EXPECT_EQ(Peak("A100-80G", WithPrecision(Precision::kFp32), &w), 19.5);
  EXPECT_EQ(Peak("A100-80G", WithPrecision(Precision::kFp32, true), &w), 156);
  EXPECT_EQ(w, "");
  EXPECT_EQ(Peak("H100", WithPrecision(Precision::kFp32), &w), 67);
  EXPECT_EQ(Peak("H100", WithPrecision(Precision::kFp32, true), &w), 494.5);
  EXPECT_EQ(w, "");
}

// The cost model's matmul term on an unmeasured A100 is FLOPs ÷ (peak × efficiency), the peak
// being the precision's; the memory-bound term is bytes ÷ (bandwidth × 0.8), bytes by precision.
TEST(PrecisionTest, CostModelChargesTheFp32AndTf32Peaks) {
  for (const auto& [t, peak] : {std::pair{WithPrecision(Precision::kBf16), 312.0},
                                std::pair{WithPrecision(Precision::kFp32), 19.5},
                                std::pair{WithPrecision(Precision::kFp32, true), 156.0}}) {
    const CostModel c = MakeCost(MakeFleet("A100-80G:8x1"), Llama2_7B(), t);
    EXPECT_TRUE(c.warnings().empty()) << c.warnings()[0];
    double flops = 0, bytes = 0, shared = 0;
    for (const Layer& l : c.layers()) {
      flops += l.forward_flops_per_token;
      bytes += l.forward_bytes_per_token;
      shared += l.forward_shared_bytes_per_token;
    }
    const double tokens = 4096;  // one sequence
    const double bw = 2039e9 * 0.8;
    const double want =
        tokens *
        ((flops / (peak * 1e12 * MatmulEfficiency("A100-80G")) + bytes / bw) / 2 + shared / bw);
    EXPECT_NEAR(c.ForwardTime(0, 2, 0, c.num_layers(), 1), want, want * 1e-12) << peak;
  }
}

TEST(PrecisionTest, KindWithoutBf16WarnsAndKeepsItsFp16Peak) {
  std::string w;
  EXPECT_EQ(Peak("V100", WithPrecision(Precision::kFp16), &w), 125);
  EXPECT_EQ(w, "");
  EXPECT_EQ(Peak("V100", WithPrecision(Precision::kBf16), &w), 125);
  EXPECT_THAT(w, HasSubstr("V100: no BF16 on volta"));
  EXPECT_THAT(w, HasSubstr("use precision fp16"));
  // No TF32 tensor cores before Ampere: allow_tf32 changes nothing, without a warning.
  w.clear();
  EXPECT_EQ(Peak("V100", WithPrecision(Precision::kFp32, true), &w), 15.7);
  EXPECT_EQ(w, "");
  const CostModel t4 = MakeCost(MakeFleet("T4:8x1"), Llama2_7B(), Job(8));
  EXPECT_THAT(t4.warnings(), ::testing::Contains(HasSubstr("T4: no BF16 on turing")));
}

TEST(PrecisionTest, KindWithoutAnFp32FigureWarnsAndFallsBackToBf16) {
  std::string w;
  EXPECT_EQ(Peak("Ascend910B", WithPrecision(Precision::kFp32), &w), 313);
  EXPECT_THAT(w, HasSubstr("Ascend910B: the catalog has no FP32 peak"));
  EXPECT_THAT(w, HasSubstr("upper bound"));
  const CostModel c =
      MakeCost(MakeFleet("Ascend910B:8x1"), Llama2_7B(), WithPrecision(Precision::kFp32));
  EXPECT_THAT(c.warnings(), ::testing::Contains(HasSubstr("no FP32 peak")));
}

// Every built-in kind: the FP32 figure where one is published (all but DaVinci and the Hygon
// DCU), TF32 exactly on the architectures that have it, BF16 everywhere but Volta and Turing, and
// no figure above the 16-bit tensor peak.
TEST(PrecisionTest, BuiltInCatalogCoversThePrecisions) {
  for (const DeviceSpec& d : Catalog().devices()) {
    const std::string& a = d.architecture;
    const bool unpublished = a == "davinci" || a == "hygon-dcu";
    EXPECT_EQ(d.peak_tflops_fp32.has_value(), !unpublished) << d.kind;
    const bool tf32 = a == "ampere" || a == "ada" || a == "hopper" || a == "blackwell" ||
                      a == "cdna3" || (a == "unknown" && d.vendor == "AMD");
    EXPECT_EQ(d.peak_tflops_tf32.has_value(), tf32) << d.kind;
    EXPECT_EQ(d.has_bf16, a != "volta" && a != "turing") << d.kind;
    EXPECT_LE(d.peak_tflops_fp32.value_or(0), d.peak_tflops_bf16) << d.kind;
    EXPECT_LE(d.peak_tflops_tf32.value_or(0), d.peak_tflops_bf16) << d.kind;
    EXPECT_EQ(d.peak_tflops_fp16.value_or(d.peak_tflops_bf16), d.peak_tflops_bf16) << d.kind;
  }
}

constexpr char kEntry[] = R"(devices:
  - kind: X
    vendor: NVIDIA
    peak_tflops_bf16: 100
    memory_gib: 32
    memory_bandwidth_gbs: 1000
    intra_node_link_gbs: 50
    nic_gbps: 100
    collective_library: nccl
    confidence: uncertain
    source: "test"
)";

std::string Error(const std::string& extra) {
  auto c = DeviceCatalog::Parse(std::string(kEntry) + extra, "c.yaml");
  return c.ok() ? "ok" : std::string(c.status().message());
}

TEST(PrecisionTest, CatalogKeysAreOptionalAndChecked) {
  auto plain = DeviceCatalog::Parse(kEntry, "c.yaml");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->Find("X")->peak_tflops_fp32.has_value());
  EXPECT_TRUE(plain->Find("X")->has_bf16);
  auto full = DeviceCatalog::Parse(std::string(kEntry) +
                                       "    peak_tflops_fp32: 10\n    peak_tflops_tf32: 50\n"
                                       "    peak_tflops_fp16: 120\n",
                                   "c.yaml");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->Find("X")->peak_tflops_fp16, 120);
  EXPECT_EQ(MatmulPeakTflops(*full->Find("X"), WithPrecision(Precision::kFp16), nullptr), 120);
  EXPECT_THAT(Error("    peak_tflops_fp32: -1\n"),
              HasSubstr("c.yaml:12:23: devices[0].peak_tflops_fp32: expected a number > 0"));
  EXPECT_THAT(Error("    peak_tflops_tf32: fast\n"),
              HasSubstr("c.yaml:12:23: devices[0].peak_tflops_tf32"));
  EXPECT_THAT(Error("    has_bf16: maybe\n"),
              HasSubstr("c.yaml:12:15: devices[0].has_bf16: expected true or false"));
  EXPECT_THAT(Error("    peak_tflops_fp64: 1\n"), HasSubstr("peak_tflops_fp64"));
  EXPECT_THAT(Error("    has_bf16: false\n    peak_tflops_tf32: 50\n"),
              HasSubstr("peak_tflops_tf32: given for a kind without BF16"));
  EXPECT_THAT(Error("    architecture: volta\n    peak_tflops_tf32: 50\n"),
              HasSubstr("without BF16"));
}

}  // namespace
}  // namespace tangram::partitioner
