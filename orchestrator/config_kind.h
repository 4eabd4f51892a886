// What a config file holds (device catalog, fleet, model, job, plan, design space), told from
// its top-level keys: how `tangram validate` picks the loader for a file, and how a job says that
// the file its `fleet:` or `model:` names is of another kind.
#ifndef TANGRAM_ORCHESTRATOR_CONFIG_KIND_H_
#define TANGRAM_ORCHESTRATOR_CONFIG_KIND_H_

#include "absl/status/statusor.h"
#include "partitioner/yaml_reader.h"

namespace tangram::orchestrator {

enum class ConfigKind { kCatalog, kFleet, kModel, kJob, kPlan, kDesignSpace };

// "device catalog", "fleet", "model", "job", "plan", "design space".
const char* ConfigKindName(ConfigKind kind);

// The kind of `doc` from its keys; kInvalidArgument naming doc.name and the keys that mark each
// kind when none matches.
absl::StatusOr<ConfigKind> DetectConfigKind(const partitioner::YamlDocument& doc);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_CONFIG_KIND_H_
