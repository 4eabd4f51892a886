#include "orchestrator/config_kind.h"

namespace tangram::orchestrator {

const char* ConfigKindName(ConfigKind kind) {
  switch (kind) {
    case ConfigKind::kCatalog:
      return "device catalog";
    case ConfigKind::kFleet:
      return "fleet";
    case ConfigKind::kModel:
      return "model";
    case ConfigKind::kJob:
      return "job";
    case ConfigKind::kPlan:
      return "plan";
    case ConfigKind::kDesignSpace:
      return "design space";
  }
  return "?";
}

absl::StatusOr<ConfigKind> DetectConfigKind(const partitioner::YamlDocument& doc) {
  if (doc.root.IsMap()) {
    if (doc.root["format"] && doc.root["format"].IsScalar() &&
        doc.root["format"].Scalar() == "tangram-plan") {
      return ConfigKind::kPlan;  // plan JSON is YAML too
    }
    if (doc.root["devices"]) return ConfigKind::kCatalog;
    if (doc.root["nodes"]) return ConfigKind::kFleet;
    if (doc.root["fleet"] || doc.root["global_batch"]) return ConfigKind::kJob;
    if (doc.root["layers"] || doc.root["hidden"]) return ConfigKind::kModel;
    if (doc.root["kinds"]) return ConfigKind::kDesignSpace;
  }
  return partitioner::ConfigError(
      doc.name, doc.root, "",
      "cannot tell what kind of config this is: expected a device catalog (devices:), a fleet "
      "(nodes:), a model (layers:), a job (fleet:, model:) or a plan (format: tangram-plan), or a "
      "design space (kinds:)");
}

}  // namespace tangram::orchestrator
