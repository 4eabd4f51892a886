// The device catalog: what each accelerator kind is *said* to do, from datasheets and secondary
// sources (configs/devices.yaml). These are catalog figures, never measurements: a fleet's
// measured_tflops, or the orchestrator's calibration run, overrides them.
//
// Immutable after loading; safe to share between threads.
#ifndef TANGRAM_PARTITIONER_DEVICE_CATALOG_H_
#define TANGRAM_PARTITIONER_DEVICE_CATALOG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "partitioner/yaml_reader.h"

namespace tangram::partitioner {

struct DeviceSpec {
  std::string kind;                 // "H200", "Ascend910B", "cpu"
  std::string vendor;               // NVIDIA | AMD | Huawei | Hygon | generic
  double peak_tflops_bf16 = 0;      // dense, catalog figure (FP16's on parts without BF16)
  double memory_gib = 0;            // device memory, GiB (2^30 bytes)
  double memory_bandwidth_gbs = 0;  // GB/s
  double intra_node_link_gbs = 0;   // GB/s per direction per device (NVLink, HCCS, PCIe)
  double nic_gbps = 0;              // default NIC Gbit/s per device
  std::string collective_library;   // nccl | rccl | hccl | none
  std::string confidence;           // datasheet | secondary | uncertain
  std::string source;               // where the figures come from
  // GPU/NPU architecture (volta, turing, ampere, ada, hopper, blackwell, cdna2, cdna3, davinci,
  // hygon-dcu, cpu); the matmul efficiency of a kind nobody measured is derived from it
  // (cost_model.h). Optional in the file: a kind the built-in table knows gets its own,
  // else "unknown".
  std::string architecture;
  // The dense peaks of the other precisions, optional (absent: the part lacks the mode, or no
  // source gives it). peak_tflops_fp32: what an fp32 GEMM without TF32 runs at (CUDA cores on
  // NVIDIA; the FP32 matrix rate on AMD CDNA). peak_tflops_tf32: TF32 tensor cores (Ampere and
  // later, AMD CDNA3). peak_tflops_fp16: FP16 tensor cores with FP32 accumulate, where it differs
  // from peak_tflops_bf16 (absent: the same). The cost model picks one by the job's precision
  // (MatmulPeakTflops in cost_model.h).
  std::optional<double> peak_tflops_fp32, peak_tflops_tf32, peak_tflops_fp16;
  // Whether the part computes in BF16 at all: false on Volta and Turing (the default follows
  // `architecture`), whose peak_tflops_bf16 then holds the FP16 tensor peak.
  bool has_bf16 = true;
  // Economics, optional (`tangram design`): a purchase price per device and the board power, each
  // with its own source and confidence, because they come from other places than the datasheet
  // figures above. price_confidence: list | secondary | estimate; power_confidence: datasheet |
  // secondary | estimate.
  std::optional<double> price_usd;
  std::string price_source, price_confidence;
  std::optional<double> power_w;
  std::string power_source, power_confidence;
};

// The architecture of a kind the built-in catalog lists ("" when unknown).
std::string KnownArchitecture(absl::string_view kind);

class DeviceCatalog {
 public:
  // The catalog shipped in configs/devices.yaml, compiled into the binary.
  static absl::StatusOr<DeviceCatalog> BuiltIn();
  // Loads a catalog file; errors name the file, line, column and field.
  static absl::StatusOr<DeviceCatalog> LoadFile(const std::string& path);
  // The built-in catalog with `path`'s kinds merged in by kind (a kind listed in the file replaces
  // the built-in entry, a new kind is added), or the file alone when `replace` is set or the file
  // says `replace: true` at its top level. A file's kind that differs from a built-in kind only in
  // case ("h200") is an error at its line naming both spellings (as two such kinds in one file
  // are, in any catalog).
  static absl::StatusOr<DeviceCatalog> LoadOverBuiltIn(const std::string& path, bool replace);
  // Adds `other`'s kinds, replacing entries of the same kind.
  void Merge(const DeviceCatalog& other);
  // Whether the file asked to replace the built-in catalog (`replace: true`).
  bool replaces() const { return replaces_; }
  // Parses catalog text; `name` is used in error messages.
  static absl::StatusOr<DeviceCatalog> Parse(absl::string_view text, const std::string& name);

  // The spec of `kind`, or nullptr when the catalog has no such kind (exact, case-sensitive).
  const DeviceSpec* Find(absl::string_view kind) const;
  // The first kind equal to `kind` but for ASCII case, or nullptr.
  const DeviceSpec* FindIgnoringCase(absl::string_view kind) const;
  // "H200, H100, ..." in catalog order, for error messages.
  std::string KnownKinds() const;
  const std::vector<DeviceSpec>& devices() const { return devices_; }

  // Validates a parsed catalog document.
  static absl::StatusOr<DeviceCatalog> FromDocument(const YamlDocument& doc);

 private:
  std::vector<DeviceSpec> devices_;
  bool replaces_ = false;
};

// The text of configs/devices.yaml as built into this binary.
absl::string_view BuiltInCatalogText();

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_DEVICE_CATALOG_H_
