// `tangram compare --fleet F --model M --job J [--chart compare.svg]`: every partition strategy
// on one fleet, each plan simulated; a table on the terminal (cost-model prediction next to the
// simulated step, throughput, MFU, efficiency, bubble, exposed communication, memory) and an SVG
// bar chart of throughput and efficiency. Strategies that cannot plan the job show why.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/files.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "orchestrator/cli/cli_util.h"
#include "orchestrator/simulator/progress.h"
#include "orchestrator/simulator/simulator.h"
#include "orchestrator/simulator/svg.h"
#include "orchestrator/simulator/trace.h"
#include "partitioner/strategy.h"

namespace tangram::orchestrator {
namespace {

struct Row {
  simulator::CompareEntry entry;
  partitioner::Plan plan;
  simulator::StepResult step;
  double wall_s = 0;
};

// Plans and simulates the job with every strategy, in StrategyNames() order; a strategy that
// cannot plan or simulate gets a row that says why.
std::vector<Row> RunStrategies(const partitioner::CostModel& cost,
                               const simulator::SimOptions& options, bool show_progress) {
  const std::vector<std::string> names = partitioner::StrategyNames();
  std::vector<Row> rows;
  simulator::Progress progress("comparing", static_cast<int64_t>(names.size()), show_progress);
  for (const std::string& name : names) {
    progress.Update(static_cast<int64_t>(rows.size()));
    const auto t0 = std::chrono::steady_clock::now();
    Row row;
    row.entry.strategy = name;
    absl::StatusOr<partitioner::Plan> plan = partitioner::MakePlan(cost, name);
    absl::StatusOr<simulator::StepResult> step =
        plan.ok() ? simulator::Simulate(cost, *plan, simulator::OptionsForPlan(options, *plan))
                  : plan.status();
    if (!step.ok()) {
      row.entry.feasible = false;
      row.entry.error = std::string(step.status().message());
    } else {
      row.plan = *std::move(plan);
      row.step = *std::move(step);
      row.entry.simulated_tokens_per_s = row.step.tokens_per_s;
      row.entry.predicted_tokens_per_s = row.plan.predicted.tokens_per_s;
      row.entry.efficiency = row.plan.bound_step_time_s / row.step.step_time_s;
      row.entry.mfu = row.step.mfu;
    }
    row.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rows.push_back(std::move(row));
  }
  progress.Update(static_cast<int64_t>(names.size()));
  return rows;
}

// The --json document: one entry per strategy, its error or its figures.
nlohmann::json CompareJson(const std::vector<Row>& rows, const partitioner::Fleet& fleet,
                           const partitioner::ModelSpec& model, double wall,
                           const std::string& chart_path) {
  nlohmann::json j = {{"fleet", fleet.name}, {"model", model.name}, {"wall_s", wall}};
  nlohmann::json list = nlohmann::json::array();
  for (const Row& r : rows) {
    nlohmann::json e = {
        {"strategy", r.entry.strategy}, {"feasible", r.entry.feasible}, {"wall_s", r.wall_s}};
    if (!r.entry.feasible) {
      e["error"] = r.entry.error;
    } else {
      e.update({{"tp", r.plan.tp},
                {"pp", r.plan.pp},
                {"dp", r.plan.dp},
                {"predicted_step_time_s", r.plan.predicted.step_time_s},
                {"step_time_s", r.step.step_time_s},
                {"tokens_per_s", r.step.tokens_per_s},
                {"mfu", r.step.mfu},
                {"tflops_per_device", r.step.tflops_per_device},
                {"efficiency", r.entry.efficiency},
                {"bubble_fraction", r.step.bubble_fraction},
                {"exposed_comm_s", r.step.exposed_comm_s},
                {"peak_memory_fraction", r.step.peak_memory_fraction}});
    }
    list.push_back(std::move(e));
  }
  j["strategies"] = std::move(list);
  if (!chart_path.empty()) j["chart"] = chart_path;
  return j;
}

// The terminal table, then why each infeasible strategy failed.
void PrintCompareTable(const std::vector<Row>& rows, const std::string& title, double wall,
                       const std::string& chart_path) {
  std::cout << title << "\n";
  Table t({"strategy", "tp/pp/dp", "cost model s", "simulated s", "diff", "tokens/s", "MFU",
           "efficiency", "bubble", "exposed comm s", "memory"});
  for (const Row& r : rows) {
    if (!r.entry.feasible) {
      t.AddRow({r.entry.strategy, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"});
      continue;
    }
    t.AddRow(
        {r.entry.strategy,
         absl::StrCat(partitioner::TpText(r.plan), "/", r.plan.pp, "/", r.plan.dp),
         Fixed(r.plan.predicted.step_time_s, 3), Fixed(r.step.step_time_s, 3),
         absl::StrFormat("%+.1f%%", 100 * (r.step.step_time_s / r.plan.predicted.step_time_s - 1)),
         Human(r.step.tokens_per_s), absl::StrFormat("%.1f%%", 100 * r.step.mfu),
         absl::StrFormat("%.1f%%", 100 * r.entry.efficiency),
         absl::StrFormat("%.1f%%", 100 * r.step.bubble_fraction), Fixed(r.step.exposed_comm_s, 3),
         absl::StrFormat("%.0f%%", 100 * r.step.peak_memory_fraction)});
  }
  std::cout << t.Render();
  for (const Row& r : rows) {
    if (r.entry.feasible) continue;
    // A strategy's own refusal already names it ("oracle is exhaustive ..."): say it once.
    const bool named = absl::StartsWith(r.entry.error, r.entry.strategy);
    std::cout << "  " << (named ? "" : r.entry.strategy + ": ") << r.entry.error << "\n";
  }
  std::cout << absl::StrFormat("  %d strategies planned and simulated in %.2f s\n", rows.size(),
                               wall);
  if (!chart_path.empty()) std::cout << "  chart: " << chart_path << "\n";
}

class CompareCommand : public Command {
 public:
  std::string Name() const override { return "compare"; }
  std::string Description() const override {
    return "Every partition strategy on one fleet, simulated: table and SVG bar chart";
  }
  void Configure(CLI::App* sub) override {
    inputs_.Add(sub, /*with_strategy=*/false);
    sub->add_option("--chart", chart_path_,
                    "Also write an SVG bar chart to this file (default: none)");
    sub->add_option("--schedule", schedule_,
                    "1f1b | gpipe | interleaved (default: interleaved where the job's layout has "
                    "virtual_stages, else 1f1b)")
        ->check(NameOf(partitioner::ParseSchedule));
    sub->add_flag("--no-progress", no_progress_,
                  "No progress bar even on a terminal (a long run still prints a line every 10 s)");
  }

  absl::Status Run(const GlobalOptions& global) override {
    TANGRAM_ASSIGN_OR_RETURN(PlanningInputs in, LoadPlanningInputs(inputs_, global));
    TANGRAM_RETURN_IF_ERROR(ChooseSchedule(schedule_, in.training, &options_));
    const partitioner::Fleet& fleet = in.fleet;
    const partitioner::ModelSpec& model = in.model;
    TANGRAM_ASSIGN_OR_RETURN(
        auto cost, partitioner::CostModel::Create(fleet, model, in.training, in.cost_options));
    for (const std::string& w : cost.warnings()) logging::Warn(absl::StrCat("warning: ", w));
    const auto start = std::chrono::steady_clock::now();
    const std::vector<Row> rows = RunStrategies(cost, options_, !no_progress_ && !global.json);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::vector<simulator::CompareEntry> entries;
    for (const Row& r : rows) entries.push_back(r.entry);
    const std::string title = absl::StrFormat("%s on %s (%d devices): strategies compared",
                                              model.name, fleet.name, fleet.num_devices());
    if (!chart_path_.empty()) {
      TANGRAM_RETURN_IF_ERROR(WriteTextFile(chart_path_, simulator::CompareSvg(entries, title)));
    }
    if (global.json) {
      PrintJson(CompareJson(rows, fleet, model, wall, chart_path_));
    } else {
      PrintCompareTable(rows, title, wall, chart_path_);
    }
    // As `plan` does: a job no strategy can plan is a failure, after the table says why.
    if (std::none_of(rows.begin(), rows.end(), [](const Row& r) { return r.entry.feasible; })) {
      return absl::FailedPreconditionError(
          "no strategy could plan and simulate the job (each one's reason is above)");
    }
    return absl::OkStatus();
  }

 private:
  PlanningFlags inputs_;
  std::string chart_path_;  // "" = no chart: nothing is written unless asked
  simulator::SimOptions options_;
  std::string schedule_;  // "": the job's (interleaved where its layout has virtual stages)
  bool no_progress_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeCompareCommand() { return std::make_unique<CompareCommand>(); }

}  // namespace tangram::orchestrator
