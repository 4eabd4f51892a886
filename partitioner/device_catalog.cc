#include "partitioner/device_catalog.h"

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
  errors->Add(m.RejectUnknownKeys());
  return d;
}

}  // namespace

absl::StatusOr<DeviceCatalog> DeviceCatalog::FromDocument(const YamlDocument& doc) {
  TANGRAM_ASSIGN_OR_RETURN(YamlMap root, YamlMap::Of(doc.name, doc.root, ""));
  TANGRAM_ASSIGN_OR_RETURN(YAML::Node list, root.Sequence("devices"));
  TANGRAM_RETURN_IF_ERROR(root.RejectUnknownKeys());
  DeviceCatalog catalog;
  ErrorList errors;
  for (size_t i = 0; i < list.size(); ++i) {
    absl::StatusOr<YamlMap> m = YamlMap::Of(
        doc.name, list[i], ElementPath(root, "devices", i),
        {"kind", "vendor", "peak_tflops_bf16", "memory_gib", "memory_bandwidth_gbs",
         "intra_node_link_gbs", "nic_gbps", "collective_library", "confidence", "source"});
    if (!errors.Add(m.status())) continue;
    DeviceSpec d = ReadDevice(*m, &errors);
    if (!d.kind.empty() && catalog.Find(d.kind) != nullptr) {
      errors.Add(m->Error("kind", absl::StrCat("device kind \"", d.kind, "\" is listed twice")));
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

absl::StatusOr<DeviceCatalog> DeviceCatalog::BuiltIn() {
  return Parse(BuiltInCatalogText(), "configs/devices.yaml (built-in)");
}

const DeviceSpec* DeviceCatalog::Find(absl::string_view kind) const {
  for (const auto& d : devices_) {
    if (d.kind == kind) return &d;
  }
  return nullptr;
}

std::string DeviceCatalog::KnownKinds() const {
  return absl::StrJoin(devices_, ", ",
                       [](std::string* out, const DeviceSpec& d) { out->append(d.kind); });
}

}  // namespace tangram::partitioner
