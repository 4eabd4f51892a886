// Helpers shared by the `tangram` subcommands: loading configs the way every command does, and
// printing tables for people. JSON for machines is nlohmann::json, printed with PrintJson.
#ifndef TANGRAM_ORCHESTRATOR_CLI_CLI_UTIL_H_
#define TANGRAM_ORCHESTRATOR_CLI_CLI_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "orchestrator/cli/command.h"
#include "orchestrator/config_kind.h"
#include "orchestrator/islands_cost.h"
#include "orchestrator/job_config.h"
#include "orchestrator/simulator/simulator.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/model.h"

namespace tangram::orchestrator {

// The catalog named by --catalog, or the built-in one.
absl::StatusOr<partitioner::DeviceCatalog> LoadCatalog(const GlobalOptions& global);

// `--probe-budget-s` (probe, train): seconds >= 0, 0 meaning no budget (infinite);
// kInvalidArgument naming the option otherwise.
absl::StatusOr<absl::Duration> ProbeBudgetFromFlag(double seconds);

// Checks a parsed config of any kind as `tangram validate` does; sets *kind once it is known.
// Errors name doc.name (a plan's as "plan"); a job's fleet and model are loaded relative to it.
absl::Status ValidateConfigDocument(const partitioner::YamlDocument& doc,
                                    const partitioner::DeviceCatalog& catalog, std::string* kind);

// What plan, simulate and compare work on: a fleet, a model and a training setup, from --job,
// with --fleet / --model overriding the job's; without a job, DefaultTraining(fleet).
struct PlanningFlags {
  std::string fleet_path, model_path, job_path, strategy;
  bool ignore_memory = false;
  // Adds --fleet, --model, --job, --ignore-memory (and --strategy when `with_strategy`) to `sub`.
  void Add(CLI::App* sub, bool with_strategy);
};
struct PlanningInputs {
  partitioner::Fleet fleet;
  partitioner::ModelSpec model;
  partitioner::TrainingSpec training;
  partitioner::StrategyKind strategy = partitioner::StrategyKind::kAuto;  // --strategy, else the
                                                                          // job's, else auto
  bool from_job = false;
  // --ignore-memory; the runtime's islands allreduce (islands_cost.h)
  partitioner::CostOptions cost_options = RuntimeCostOptions();
};
// kInvalidArgument when neither --job nor both --fleet and --model are given.
absl::StatusOr<PlanningInputs> LoadPlanningInputs(const PlanningFlags& flags,
                                                  const GlobalOptions& global);
// The simulator's schedule and virtual stages for `training` (a pinned layout's virtual_stages):
// --schedule `flag` when given, else interleaved 1F1B where the layout has virtual stages and
// plain 1F1B where not. kInvalidArgument for an interleaved schedule without virtual stages (it
// would run as plain 1F1B under another name).
absl::Status ChooseSchedule(const std::string& flag, const partitioner::TrainingSpec& training,
                            simulator::SimOptions* sim);

// Training setup without a job: global batch max(1024, devices), micro-batch 1, bf16, ZeRO-1,
// selective recompute.
partitioner::TrainingSpec DefaultTraining(const partitioner::Fleet& fleet);

// Option validators for CLI11's check(): the error names the option ("--timeout: ..."), so main()
// exits 2 before anything runs. NaN and infinities are refused by FiniteIn (CLI::Range lets NaN
// through).
CLI::Validator FiniteIn(double min, double max);
// An output file's path: refuses "" (a file that would never be written, the command succeeding
// as if it had been).
CLI::Validator OutputPath();
CLI::Validator IntIn(int64_t min, int64_t max);
// For an option whose value names an enum value: `parse` (partitioner::ParseStrategy,
// ParseSchedule, ...) refuses an unknown name, with the known ones and a did-you-mean, before
// anything runs. The command parses the checked name again where it uses it.
template <typename Parse>
CLI::Validator NameOf(Parse parse) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        auto parsed = parse(text);
        return parsed.ok() ? "" : std::string(parsed.status().message());
      },
      "");
}

// Upper bounds of counts given on the command line, each set by what one machine can hold.
// Sim ranks are threads of this process (1,024 already costs ~8 GiB of thread stacks reserved).
inline constexpr int64_t kMaxSimRanks = 1024;
// Training keeps a few numbers per step (loss, step time): 10^7 steps is ~0.3 GB.
inline constexpr int64_t kMaxTrainSteps = 10'000'000;
// The simulator keeps one result record per step (~1 KiB with its scenario state).
inline constexpr int64_t kMaxSimulatedSteps = 1'000'000;
// One benchmark message; every sim rank holds a few buffers of it (checked against RAM too).
inline constexpr int64_t kMaxBenchBytes = int64_t{1} << 30;

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

// The distinct items in first-seen order, joined: {"H200", "H20", "H200"} -> "H200+H20". Items are
// compared whole (a substring test would take "H20" as already seen inside "H200").
std::string JoinDistinct(const std::vector<std::string>& items, const std::string& separator);

// JSON descriptions shared by describe, validate and later commands.
nlohmann::json FleetSummaryJson(const partitioner::Fleet& fleet);
nlohmann::json ModelSummaryJson(const partitioner::ModelSpec& model);

// Bytes per parameter of weights + gradients + Adam states in mixed precision as Megatron-LM
// counts them: bf16 weights (2), fp32 gradients (4), fp32 master weights, momentum, variance (12).
inline constexpr double kTrainingStateBytesPerParam = 18.0;

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_CLI_CLI_UTIL_H_
