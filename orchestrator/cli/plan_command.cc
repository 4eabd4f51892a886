// `tangram plan --fleet F --model M [--job J] [--strategy S] [--compare] [--json] [--out FILE]`:
// the partitioner's plan for a job, as a table for people or as the versioned plan JSON
// (docs/plan-format.md) that `train --plan` and `simulate --plan` execute. --compare runs every
// strategy on the same fleet and shows them side by side, with uniform as the baseline.
//
// Without --job the training setup is a stated default: global batch max(1024, devices)
// sequences, micro-batch 1, bf16, ZeRO-1, selective recompute.
#include <chrono>
#include <iostream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/files.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "orchestrator/cli/cli_util.h"
#include "orchestrator/cli/plan_text.h"
#include "partitioner/plan_json.h"
#include "partitioner/strategy.h"

namespace tangram::orchestrator {
namespace {

using partitioner::Plan;

std::string Percent(double x) { return absl::StrFormat("%.1f%%", 100 * x); }

class PlanCommand : public Command {
 public:
  std::string Name() const override { return "plan"; }
  std::string Description() const override {
    return "Partition a model over a fleet: stages, replicas, memory, predicted step time";
  }
  void Configure(CLI::App* sub) override {
    inputs_.Add(sub, /*with_strategy=*/true);
    // --compare runs every strategy: a --strategy beside it was ignored without a word.
    sub->add_flag("--compare", compare_, "Every strategy side by side")
        ->excludes(sub->get_option("--strategy"));
    sub->add_option("--alternatives", alternatives_, "Runners-up to show after the best plan")
        ->check(IntIn(0, 1000));
    sub->add_option("--out", out_path_, "Also write the plan JSON to this file")
        ->check(OutputPath());
  }

  absl::Status Run(const GlobalOptions& global) override {
    TANGRAM_ASSIGN_OR_RETURN(PlanningInputs in, LoadPlanningInputs(inputs_, global));
    TANGRAM_ASSIGN_OR_RETURN(auto cost, partitioner::CostModel::Create(
                                            in.fleet, in.model, in.training, in.cost_options));
    for (const std::string& w : cost.warnings()) logging::Warn(absl::StrCat("warning: ", w));
    if (compare_) return Compare(cost, global);

    TANGRAM_ASSIGN_OR_RETURN(
        std::vector<Plan> plans,
        partitioner::CreateStrategy(in.strategy)->Generate(cost, {alternatives_}));
    if (!out_path_.empty()) {
      TANGRAM_RETURN_IF_ERROR(
          WriteTextFile(out_path_, partitioner::PlanToJsonString(plans.front()) + "\n"));
    }
    if (global.json) {
      nlohmann::json j = partitioner::PlanToJson(plans.front());
      if (alternatives_ > 0) {
        j["alternatives"] = nlohmann::json::array();
        for (size_t i = 1; i < plans.size(); ++i) {
          j["alternatives"].push_back(partitioner::PlanToJson(plans[i]));
        }
      }
      PrintJson(j);
      return absl::OkStatus();
    }
    for (size_t i = 0; i < plans.size(); ++i) {
      if (i > 0) std::cout << "\nAlternative " << i << ":\n";
      std::cout << FormatPlan(plans[i], cost);
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Compare(const partitioner::CostModel& cost, const GlobalOptions& global) {
    nlohmann::json out = {{"fleet", cost.fleet().name},
                          {"model", cost.model().name},
                          {"bound_step_time_s", cost.BoundStepTime()},
                          {"strategies", nlohmann::json::array()}};
    Table t({"strategy", "tp", "pp", "dp", "step s", "tokens/s", "MFU", "efficiency", "vs uniform",
             "plan ms"});
    double uniform = 0;
    using partitioner::StrategyKind;
    // The baselines first, so that "vs uniform" has its reference.
    for (StrategyKind kind :
         {StrategyKind::kUniform, StrategyKind::kProportional, StrategyKind::kHeteroPipeline,
          StrategyKind::kAuto, StrategyKind::kOracle}) {
      const std::string name = partitioner::StrategyName(kind);
      auto start = std::chrono::steady_clock::now();
      absl::StatusOr<Plan> plan = partitioner::MakePlan(cost, kind);
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      nlohmann::json entry = {{"strategy", name}, {"ok", plan.ok()}, {"planning_ms", ms}};
      if (!plan.ok()) {
        entry["error"] = std::string(plan.status().message());
        t.AddRow({name, "-", "-", "-", "-", "-", "-", "-", "-", Fixed(ms, 1)});
        // Strategy errors often start with the strategy's name already ("oracle is ...").
        absl::string_view message = plan.status().message();
        notes_.push_back(absl::StartsWith(message, name) ? std::string(message)
                                                         : absl::StrCat(name, ": ", message));
      } else {
        if (kind == StrategyKind::kUniform) uniform = plan->predicted.tokens_per_s;
        entry["plan"] = partitioner::PlanToJson(*plan);
        t.AddRow(
            {name, std::to_string(plan->tp), std::to_string(plan->pp), std::to_string(plan->dp),
             Fixed(plan->predicted.step_time_s, 3), Human(plan->predicted.tokens_per_s),
             Percent(plan->predicted.mfu), Percent(plan->efficiency),
             uniform > 0 ? absl::StrFormat("%.2fx", plan->predicted.tokens_per_s / uniform) : "-",
             Fixed(ms, 1)});
      }
      out["strategies"].push_back(std::move(entry));
    }
    if (global.json) {
      PrintJson(out);
      return absl::OkStatus();
    }
    std::cout << absl::StrFormat(
        "Strategies on fleet %s (%d devices), model %s; bound %.3f s per step\n", cost.fleet().name,
        cost.slots().size(), cost.model().name, cost.BoundStepTime());
    std::cout << t.Render();
    for (const std::string& n : notes_) std::cout << "  " << n << "\n";
    return absl::OkStatus();
  }

  PlanningFlags inputs_;
  std::string out_path_;
  bool compare_ = false;
  int alternatives_ = 0;
  std::vector<std::string> notes_;
};

}  // namespace

std::unique_ptr<Command> MakePlanCommand() { return std::make_unique<PlanCommand>(); }

}  // namespace tangram::orchestrator
