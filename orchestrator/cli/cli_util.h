// Helpers shared by the `tangram` subcommands: loading configs the way every command does, and
// printing tables for people. JSON for machines is nlohmann::json, printed with PrintJson.
#ifndef TANGRAM_ORCHESTRATOR_CLI_CLI_UTIL_H_
#define TANGRAM_ORCHESTRATOR_CLI_CLI_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "orchestrator/cli/command.h"
#include "orchestrator/job_config.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/model.h"

namespace tangram::orchestrator {

// The catalog named by --catalog, or the built-in one.
absl::StatusOr<partitioner::DeviceCatalog> LoadCatalog(const GlobalOptions& global);

// What a config file holds, told from its top-level keys.
enum class ConfigKind { kCatalog, kFleet, kModel, kJob, kPlan, kDesignSpace };
const char* ConfigKindName(ConfigKind kind);
absl::StatusOr<ConfigKind> DetectConfigKind(const partitioner::YamlDocument& doc);

// What plan, simulate and compare work on: a fleet, a model and a training setup, from --job,
// with --fleet / --model overriding the job's; without a job, DefaultTraining(fleet).
struct PlanningFlags {
  std::string fleet_path, model_path, job_path, strategy;
  // Adds --fleet, --model, --job (and --strategy when `with_strategy`) to `sub`.
  void Add(CLI::App* sub, bool with_strategy);
};
struct PlanningInputs {
  partitioner::Fleet fleet;
  partitioner::ModelSpec model;
  partitioner::TrainingSpec training;
  std::string strategy;  // --strategy, else the job's, else "auto"
  bool from_job = false;
};
// kInvalidArgument when neither --job nor both --fleet and --model are given.
absl::StatusOr<PlanningInputs> LoadPlanningInputs(const PlanningFlags& flags,
                                                  const GlobalOptions& global);
// Training setup without a job: global batch max(1024, devices), micro-batch 1, bf16, ZeRO-1,
// selective recompute.
partitioner::TrainingSpec DefaultTraining(const partitioner::Fleet& fleet);

// A text table: columns are left-aligned, except those whose every cell looks numeric.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render(int indent = 2) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// "12.3" style formatting with `digits` after the point, and "1.23 B" / "4.5 T" for big counts.
std::string Fixed(double value, int digits);
std::string Human(double value);

void PrintJson(const nlohmann::json& j);

// JSON descriptions shared by describe, validate and later commands.
nlohmann::json FleetSummaryJson(const partitioner::Fleet& fleet);
nlohmann::json ModelSummaryJson(const partitioner::ModelSpec& model);

// Bytes per parameter of weights + gradients + Adam states in mixed precision as Megatron-LM
// counts them: bf16 weights (2), fp32 gradients (4), fp32 master weights, momentum, variance (12).
inline constexpr double kTrainingStateBytesPerParam = 18.0;

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_CLI_CLI_UTIL_H_
