#include "orchestrator/cli/cli_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/format.h"
#include "base/status_macros.h"
#include "partitioner/design_space.h"
#include "partitioner/plan_json.h"

namespace tangram::orchestrator {

absl::StatusOr<absl::Duration> ProbeBudgetFromFlag(double seconds) {
  if (!(seconds >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--probe-budget-s ", seconds, ": give seconds >= 0 (0 = no budget)"));
  }
  return seconds > 0 ? absl::Seconds(seconds) : absl::InfiniteDuration();
}

absl::StatusOr<partitioner::DeviceCatalog> LoadCatalog(const GlobalOptions& global) {
  if (global.catalog_path.empty()) return partitioner::DeviceCatalog::BuiltIn();
  return partitioner::DeviceCatalog::LoadOverBuiltIn(global.catalog_path, global.catalog_replace);
}

void PlanningFlags::Add(CLI::App* sub, bool with_strategy) {
  sub->add_option("--fleet", fleet_path, "Fleet file (configs/fleets/*.yaml)");
  sub->add_option("--model", model_path, "Model file (configs/models/*.yaml)");
  sub->add_option("--job", job_path, "Job file: its fleet, model and training setup");
  sub->add_flag("--ignore-memory", ignore_memory,
                "What-if: plan as if device memory were unlimited (memory is still reported, and a "
                "plan that does not fit is marked EXCEEDS MEMORY: it cannot run)");
  if (with_strategy) {
    sub->add_option("--strategy", strategy,
                    "auto | hetero-pipeline | proportional | uniform | oracle (default: the "
                    "job's, else auto)")
        ->check(NameOf(partitioner::ParseStrategy));
  }
}

CLI::Validator OutputPath() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return text.empty() ? "expected a file path, found an empty one" : "";
      },
      "PATH");
}

CLI::Validator FiniteIn(double min, double max) {
  std::string range = absl::StrCat("a finite number in [", min, ", ", max, "]");
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double value = 0;
        if (!absl::SimpleAtod(text, &value) || !std::isfinite(value) || value < min ||
            value > max) {
          return absl::StrCat("expected ", range, ", found \"", text, "\"");
        }
        return "";
      },
      absl::StrCat("[", min, ", ", max, "]"));
}

CLI::Validator IntIn(int64_t min, int64_t max) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        int64_t value = 0;
        if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
          return absl::StrCat("expected an integer in [", min, ", ", max, "], found \"", text,
                              "\"");
        }
        return "";
      },
      absl::StrCat("[", min, ", ", max, "]"));
}

partitioner::TrainingSpec DefaultTraining(const partitioner::Fleet& fleet) {
  partitioner::TrainingSpec t;
  t.global_batch = std::max<int64_t>(1024, fleet.num_devices());
  t.micro_batch = 1;
  t.zero_stage = 1;
  t.recompute = partitioner::Recompute::kSelective;
  return t;
}

absl::Status ChooseSchedule(const std::string& flag, const partitioner::TrainingSpec& training,
                            simulator::SimOptions* sim) {
  sim->virtual_stages = training.layout.virtual_stages.value_or(1);
  if (flag.empty()) {
    sim->schedule = sim->virtual_stages > 1 ? partitioner::PipelineSchedule::kInterleaved
                                            : partitioner::PipelineSchedule::kOneFOneB;
    return absl::OkStatus();
  }
  TANGRAM_ASSIGN_OR_RETURN(sim->schedule, partitioner::ParseSchedule(flag));
  if (sim->schedule == partitioner::PipelineSchedule::kInterleaved && sim->virtual_stages < 2) {
    return absl::InvalidArgumentError(
        "--schedule interleaved needs virtual stages: a job whose layout has virtual_stages >= 2 "
        "(simulate: or --virtual-stages V)");
  }
  if (sim->schedule != partitioner::PipelineSchedule::kInterleaved) sim->virtual_stages = 1;
  return absl::OkStatus();
}

absl::StatusOr<PlanningInputs> LoadPlanningInputs(const PlanningFlags& flags,
                                                  const GlobalOptions& global) {
  TANGRAM_ASSIGN_OR_RETURN(auto catalog, LoadCatalog(global));
  std::optional<partitioner::Fleet> fleet;
  std::optional<partitioner::ModelSpec> model;
  PlanningInputs in;
  in.cost_options.ignore_memory = flags.ignore_memory;
  if (!flags.strategy.empty()) {
    TANGRAM_ASSIGN_OR_RETURN(in.strategy, partitioner::ParseStrategy(flags.strategy));
  }
  if (!flags.job_path.empty()) {
    TANGRAM_ASSIGN_OR_RETURN(JobConfig job, LoadJob(flags.job_path, catalog));
    fleet = std::move(job.fleet);
    model = std::move(job.model);
    in.training = job.training;
    if (flags.strategy.empty()) in.strategy = job.strategy;
    in.from_job = true;
  }
  if (!flags.fleet_path.empty()) {
    TANGRAM_ASSIGN_OR_RETURN(fleet, partitioner::LoadFleet(flags.fleet_path, catalog));
  }
  if (!flags.model_path.empty()) {
    TANGRAM_ASSIGN_OR_RETURN(model, partitioner::LoadModel(flags.model_path));
  }
  if (!fleet || !model) {
    return absl::InvalidArgumentError("give --fleet and --model, or --job");
  }
  if (!in.from_job) in.training = DefaultTraining(*fleet);
  in.fleet = std::move(*fleet);
  in.model = std::move(*model);
  return in;
}

namespace {

// A plan file on its own, without the fleet it was made for: its JSON, and the structure
// ValidatePlan checks that needs no fleet (no device twice, every layer of its list in one stage,
// the replicas' samples summing to the batch); devices are checked against the largest index it
// uses, the layers against its own layer list (or, without one, its last stage's end).
constexpr int64_t kMaxPlanDevices = int64_t{1} << 24;

absl::Status ValidatePlanFile(const std::string& path) {
  TANGRAM_ASSIGN_OR_RETURN(partitioner::Plan plan, partitioner::LoadPlanFile(path));
  int64_t devices = 0;
  for (const partitioner::PlanStage& stage : plan.stages) {
    for (const partitioner::PlanCell& cell : stage.cells) {
      for (int64_t d : cell.devices) {
        // A fleet file of 64 MiB holds far fewer devices; an index past this is not one.
        if (d >= kMaxPlanDevices) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": stage ", stage.index, ": device ", d,
                           " out of range (a fleet has fewer than ", kMaxPlanDevices, " devices)"));
        }
        devices = std::max(devices, d + 1);
      }
    }
  }
  int64_t layers = static_cast<int64_t>(plan.layer_names.size());
  if (layers == 0 && !plan.stages.empty()) layers = plan.stages.back().layer_end;
  return Annotate(partitioner::ValidatePlan(plan, devices, layers), path);
}

}  // namespace

absl::Status ValidateConfigDocument(const partitioner::YamlDocument& doc,
                                    const partitioner::DeviceCatalog& catalog, std::string* kind) {
  TANGRAM_ASSIGN_OR_RETURN(ConfigKind k, DetectConfigKind(doc));
  *kind = ConfigKindName(k);
  switch (k) {
    case ConfigKind::kCatalog:
      return partitioner::DeviceCatalog::FromDocument(doc).status();
    case ConfigKind::kFleet:
      return partitioner::FleetFromDocument(doc, catalog).status();
    case ConfigKind::kModel:
      return partitioner::ModelFromDocument(doc).status();
    case ConfigKind::kJob:
      return JobFromDocument(doc, catalog).status();
    case ConfigKind::kPlan:
      return ValidatePlanFile(doc.name);
    case ConfigKind::kDesignSpace:
      return partitioner::DesignSpaceFromDocument(doc, catalog).status();
  }
  return absl::OkStatus();
}

namespace {
bool LooksNumeric(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '%' || c == ',' ||
          c == ' ' || c == 'x')) {
      return false;
    }
  }
  return isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-';
}
}  // namespace

std::string Table::Render(int indent) const {
  size_t cols = header_.size();
  std::vector<size_t> width(cols, 0);
  std::vector<bool> numeric(cols, true);
  for (size_t c = 0; c < cols; ++c) width[c] = header_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < cols && c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
      if (!LooksNumeric(row[c])) numeric[c] = false;
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    out.append(indent, ' ');
    for (size_t c = 0; c < cols; ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      std::string pad(width[c] - cell.size(), ' ');
      out += numeric[c] ? pad + cell : cell + pad;
      if (c + 1 < cols) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  };
  line(header_);
  std::vector<std::string> rule;
  for (size_t c = 0; c < cols; ++c) rule.push_back(std::string(width[c], '-'));
  line(rule);
  for (const auto& row : rows_) line(row);
  return out;
}

std::string Fixed(double value, int digits) { return absl::StrFormat("%.*f", digits, value); }

std::string Human(double value) { return HumanCount(value); }

std::string JoinDistinct(const std::vector<std::string>& items, const std::string& separator) {
  std::vector<std::string> seen;
  for (const std::string& item : items) {
    if (std::find(seen.begin(), seen.end(), item) == seen.end()) seen.push_back(item);
  }
  return absl::StrJoin(seen, separator);
}

void PrintJson(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

nlohmann::json FleetSummaryJson(const partitioner::Fleet& fleet) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : fleet.groups) {
    nlohmann::json e = {{"device", g.device.kind},
                        {"vendor", g.device.vendor},
                        {"nodes", g.count},
                        {"devices_per_node", g.devices_per_node},
                        {"devices", g.num_devices()},
                        {"catalog_peak_tflops_bf16", g.device.peak_tflops_bf16},
                        {"memory_gib", g.device.memory_gib},
                        {"nic_gbps", g.nic_gbps},
                        {"island", g.island},
                        {"collective_library", g.device.collective_library}};
    e["measured_tflops"] =
        g.measured_tflops ? nlohmann::json(*g.measured_tflops) : nlohmann::json();
    if (!g.host.empty()) e["host"] = g.host;
    if (g.emulate_slowdown != 1.0) e["emulate_slowdown"] = g.emulate_slowdown;
    groups.push_back(e);
  }
  return {{"name", fleet.name},
          {"devices", fleet.num_devices()},
          {"nodes", fleet.num_nodes()},
          {"kinds", fleet.kinds()},
          {"aggregate_peak_tflops_bf16", fleet.total_peak_tflops()},
          {"total_memory_gib", fleet.total_memory_gib()},
          {"groups", groups}};
}

nlohmann::json ModelSummaryJson(const partitioner::ModelSpec& m) {
  double params = static_cast<double>(m.TotalParameters());
  return {{"name", m.name},
          {"layers", m.layers},
          {"hidden", m.hidden},
          {"ffn_hidden", m.ffn_hidden},
          {"heads", m.heads},
          {"kv_heads", m.kv_heads},
          {"vocab", m.vocab},
          {"seq_len", m.seq_len},
          {"mlp", m.mlp == partitioner::MlpKind::kSwiGlu ? "swiglu" : "gelu"},
          {"parameters", m.TotalParameters()},
          {"training_flops_per_token", m.TrainingFlopsPerToken()},
          {"training_state_gib", params * kTrainingStateBytesPerParam / (1 << 30)}};
}

namespace {
constexpr char kStoppedPayload[] = "tangram.dev/stopped-on-request";
}  // namespace

absl::Status StoppedOnRequest(const std::string& message) {
  absl::Status status = absl::CancelledError(message);
  status.SetPayload(kStoppedPayload, absl::Cord("1"));
  return status;
}

int ExitCodeFor(const absl::Status& status) {
  if (status.GetPayload(kStoppedPayload).has_value()) return kExitStopped;
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return kExitUsageError;
    default:
      return kExitRuntimeError;
  }
}

}  // namespace tangram::orchestrator
