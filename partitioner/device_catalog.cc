#include "partitioner/device_catalog.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "partitioner/yaml_reader.h"

namespace tangram::partitioner {
namespace {

constexpr double kHuge = 1e9;  // no accelerator figure is anywhere near this; catches typos

bool ValidKind(absl::string_view kind) {
  if (kind.empty() || kind.size() > 64) return false;
  for (char c : kind) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

// The optional price and power figures; each figure needs its source and confidence, and a source
// without its figure is a leftover.
absl::Status ReadFigure(YamlMap& m, absl::string_view key, absl::string_view prefix,
                        const std::vector<std::string>& confidences, std::optional<double>* value,
                        std::string* source, std::string* confidence) {
  const std::string source_key = absl::StrCat(prefix, "_source");
  const std::string confidence_key = absl::StrCat(prefix, "_confidence");
  TANGRAM_ASSIGN_OR_RETURN(*value, m.OptionalNumber(key, 0, kHuge));
  if (!value->has_value()) {
    for (const std::string& k : {source_key, confidence_key}) {
      if (m.Has(k)) return m.Error(k, absl::StrCat("given without ", key));
    }
    return absl::OkStatus();
  }
  TANGRAM_ASSIGN_OR_RETURN(*source, m.String(source_key));
  TANGRAM_ASSIGN_OR_RETURN(*confidence, m.Enum(confidence_key, confidences));
  return absl::OkStatus();
}

absl::Status ReadEconomics(YamlMap& m, DeviceSpec* d) {
  TANGRAM_RETURN_IF_ERROR(ReadFigure(m, "price_usd", "price", {"list", "secondary", "estimate"},
                                     &d->price_usd, &d->price_source, &d->price_confidence));
  return ReadFigure(m, "power_w", "power", {"datasheet", "secondary", "estimate"}, &d->power_w,
                    &d->power_source, &d->power_confidence);
}

// The optional peaks of the other precisions and has_bf16 (whose default needs the architecture).
void ReadPrecisionPeaks(YamlMap& m, DeviceSpec* d, ErrorList* errors) {
  d->peak_tflops_fp32 = Collect(errors, m.OptionalNumber("peak_tflops_fp32", 0, kHuge));
  d->peak_tflops_tf32 = Collect(errors, m.OptionalNumber("peak_tflops_tf32", 0, kHuge));
  d->peak_tflops_fp16 = Collect(errors, m.OptionalNumber("peak_tflops_fp16", 0, kHuge));
  // Volta and Turing have FP16 tensor cores but no BF16 arithmetic (Turing whitepaper; BF16 came
  // with Ampere, A100 whitepaper); every other architecture listed here has BF16.
  const bool no_bf16 = d->architecture == "volta" || d->architecture == "turing";
  d->has_bf16 = Collect(errors, m.OptionalBool("has_bf16")).value_or(!no_bf16);
  // A TF32 figure on a part without BF16 would be a typo: TF32 and BF16 arrived together.
  if (!d->has_bf16 && d->peak_tflops_tf32.has_value()) {
    errors->Add(m.Error("peak_tflops_tf32",
                        "given for a kind without BF16 (has_bf16: false, or a volta/turing "
                        "architecture); TF32 tensor cores came with BF16 (Ampere)"));
  }
}

// Reads every field, adding each failure to `errors`.
DeviceSpec ReadDevice(YamlMap& m, ErrorList* errors) {
  DeviceSpec d;
  d.kind = Collect(errors, m.String("kind", 64));
  if (!d.kind.empty() && !ValidKind(d.kind)) {
    errors->Add(m.Error(
        "kind", absl::StrCat("expected letters, digits, '-' or '_', found \"", d.kind, "\"")));
  }
  d.vendor = Collect(errors, m.Enum("vendor", {"NVIDIA", "AMD", "Huawei", "Hygon", "generic"}));
  d.peak_tflops_bf16 = Collect(errors, m.Number("peak_tflops_bf16", 0, kHuge));
  d.memory_gib = Collect(errors, m.Number("memory_gib", 0, kHuge));
  d.memory_bandwidth_gbs = Collect(errors, m.Number("memory_bandwidth_gbs", 0, kHuge));
  d.intra_node_link_gbs = Collect(errors, m.Number("intra_node_link_gbs", 0, kHuge));
  d.nic_gbps = Collect(errors, m.Number("nic_gbps", 0, kHuge));
  d.collective_library =
      Collect(errors, m.Enum("collective_library", {"nccl", "rccl", "hccl", "none"}));
  d.confidence = Collect(errors, m.Enum("confidence", {"datasheet", "secondary", "uncertain"}));
  d.source = Collect(errors, m.String("source", kMaxPathLength));
  const auto arch = Collect(
      errors,
      m.OptionalEnum("architecture", {"volta", "turing", "ampere", "ada", "hopper", "blackwell",
                                      "cdna2", "cdna3", "davinci", "hygon-dcu", "cpu", "unknown"}));
  d.architecture = arch.value_or(KnownArchitecture(d.kind));
  if (d.architecture.empty()) d.architecture = "unknown";
  ReadPrecisionPeaks(m, &d, errors);
  errors->Add(ReadEconomics(m, &d));
  errors->Add(m.RejectUnknownKeys());
  return d;
}

// Kinds are exact names; two that differ only in case are a slip, not two devices.
std::string CaseOnlyError(absl::string_view kind, absl::string_view other) {
  return absl::StrCat("device kind \"", kind, "\" differs only in case from ", other,
                      " (kinds are case-sensitive): write that spelling to replace its figures, "
                      "or give a new kind a distinct name");
}

}  // namespace

std::string KnownArchitecture(absl::string_view kind) {
  static constexpr std::pair<const char*, const char*> kTable[] = {
      {"V100", "volta"},
      {"T4", "turing"},
      {"A100-80G", "ampere"},
      {"A100-40G", "ampere"},
      {"A800", "ampere"},
      {"RTX3090", "ampere"},
      {"L40S", "ada"},
      {"L20", "ada"},
      {"RTX4090", "ada"},
      {"H100", "hopper"},
      {"H800", "hopper"},
      {"H200", "hopper"},
      {"H20", "hopper"},
      {"B200", "blackwell"},
      {"MI250X", "cdna2"},
      {"MI300X", "cdna3"},
      {"MI325X", "cdna3"},
      {"Ascend910B", "davinci"},
      {"Ascend910C", "davinci"},
      {"HygonK100", "hygon-dcu"},
      {"cpu", "cpu"},
  };
  for (const auto& [k, a] : kTable) {
    if (kind == k) return a;
  }
  return "";
}

absl::StatusOr<DeviceCatalog> DeviceCatalog::FromDocument(const YamlDocument& doc) {
  TANGRAM_ASSIGN_OR_RETURN(YamlMap root, YamlMap::Of(doc.name, doc.root, ""));
  TANGRAM_ASSIGN_OR_RETURN(YAML::Node list, root.Sequence("devices"));
  TANGRAM_ASSIGN_OR_RETURN(auto replace, root.OptionalBool("replace"));
  TANGRAM_RETURN_IF_ERROR(root.RejectUnknownKeys());
  DeviceCatalog catalog;
  catalog.replaces_ = replace.value_or(false);
  ErrorList errors;
  for (size_t i = 0; i < list.size(); ++i) {
    absl::StatusOr<YamlMap> m =
        YamlMap::Of(doc.name, list[i], ElementPath(root, "devices", i),
                    {"kind", "vendor", "peak_tflops_bf16", "memory_gib", "memory_bandwidth_gbs",
                     "intra_node_link_gbs", "nic_gbps", "collective_library", "confidence",
                     "source", "architecture",
                     // other precisions (ReadPrecisionPeaks)
                     "peak_tflops_fp32", "peak_tflops_tf32", "peak_tflops_fp16", "has_bf16",
                     // economics (ReadEconomics)
                     "price_usd", "price_source", "price_confidence", "power_w", "power_source",
                     "power_confidence"});
    if (!errors.Add(m.status())) continue;
    DeviceSpec d = ReadDevice(*m, &errors);
    if (!d.kind.empty() && catalog.Find(d.kind) != nullptr) {
      errors.Add(m->Error("kind", absl::StrCat("device kind \"", d.kind, "\" is listed twice")));
    } else if (const DeviceSpec* other = catalog.FindIgnoringCase(d.kind); other != nullptr) {
      errors.Add(m->Error("kind", CaseOnlyError(d.kind, absl::StrCat("the kind \"", other->kind,
                                                                     "\" listed above"))));
    }
    catalog.devices_.push_back(std::move(d));
  }
  TANGRAM_RETURN_IF_ERROR(errors.ToStatus());
  return catalog;
}

absl::StatusOr<DeviceCatalog> DeviceCatalog::Parse(absl::string_view text,
                                                   const std::string& name) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::Parse(text, name));
  return FromDocument(doc);
}

absl::StatusOr<DeviceCatalog> DeviceCatalog::LoadFile(const std::string& path) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::LoadFile(path));
  return FromDocument(doc);
}

absl::StatusOr<DeviceCatalog> DeviceCatalog::LoadOverBuiltIn(const std::string& path,
                                                             bool replace) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::LoadFile(path));
  TANGRAM_ASSIGN_OR_RETURN(DeviceCatalog file, FromDocument(doc));
  if (replace || file.replaces()) return file;
  TANGRAM_ASSIGN_OR_RETURN(DeviceCatalog merged, BuiltIn());
  // A kind that differs from a built-in one only in case would be added beside it, and fleets
  // naming the built-in spelling would keep the built-in figures: the user meant one of the two.
  for (size_t i = 0; i < file.devices_.size(); ++i) {
    const std::string& kind = file.devices_[i].kind;
    const DeviceSpec* built_in = merged.FindIgnoringCase(kind);
    if (built_in == nullptr || built_in->kind == kind) continue;
    TANGRAM_ASSIGN_OR_RETURN(YamlMap root, YamlMap::Of(doc.name, doc.root, ""));
    TANGRAM_ASSIGN_OR_RETURN(YAML::Node list, root.Sequence("devices"));
    TANGRAM_ASSIGN_OR_RETURN(YamlMap m,
                             YamlMap::Of(doc.name, list[i], ElementPath(root, "devices", i)));
    return m.Error("kind",
                   CaseOnlyError(kind, absl::StrCat("the built-in kind \"", built_in->kind, "\"")));
  }
  merged.Merge(file);
  return merged;
}

void DeviceCatalog::Merge(const DeviceCatalog& other) {
  for (const DeviceSpec& d : other.devices_) {
    auto it = std::find_if(devices_.begin(), devices_.end(),
                           [&](const DeviceSpec& e) { return e.kind == d.kind; });
    if (it != devices_.end()) {
      *it = d;
    } else {
      devices_.push_back(d);
    }
  }
}

absl::StatusOr<DeviceCatalog> DeviceCatalog::BuiltIn() {
  return Parse(BuiltInCatalogText(), "configs/devices.yaml (built-in)");
}

const DeviceSpec* DeviceCatalog::Find(absl::string_view kind) const {
  for (const auto& d : devices_) {
    if (d.kind == kind) return &d;
  }
  return nullptr;
}

const DeviceSpec* DeviceCatalog::FindIgnoringCase(absl::string_view kind) const {
  for (const auto& d : devices_) {
    if (absl::EqualsIgnoreCase(d.kind, kind)) return &d;
  }
  return nullptr;
}

std::string DeviceCatalog::KnownKinds() const {
  return absl::StrJoin(devices_, ", ",
                       [](std::string* out, const DeviceSpec& d) { out->append(d.kind); });
}

}  // namespace tangram::partitioner
