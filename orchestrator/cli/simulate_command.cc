// `tangram simulate --fleet F --model M --job J [--strategy S | --plan plan.json] [--steps N]`:
// plays training steps out event by event (orchestrator/simulator/) and reports step time,
// tokens/s, MFU, busy and bubble fractions, exposed communication and peak memory; optionally a
// Chrome/Perfetto trace (--trace) and an SVG Gantt chart of one step (--gantt), and what-if
// scenarios (stragglers, a failed node, slower cross-island links, drift).
//
// Without --job the training setup is the same stated default as `tangram plan`'s: global batch
// max(1024, devices) sequences, micro-batch 1, bf16, ZeRO-1, selective recompute. A job that pins
// `layout: {virtual_stages: v}` with v > 1 selects the interleaved schedule unless --schedule says
// otherwise.
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "orchestrator/cli/cli_util.h"
#include "orchestrator/simulator/report.h"
#include "orchestrator/simulator/run.h"
#include "orchestrator/simulator/svg.h"
#include "orchestrator/simulator/trace.h"
#include "partitioner/plan_inputs.h"
#include "partitioner/plan_json.h"

namespace tangram::orchestrator {
namespace {

// --allreduce: what the simulator can force (auto | ring | hierarchical); the outcomes "none" and
// "intra-node" are refused.
absl::StatusOr<partitioner::AllreduceAlgorithm> ParseAllreduceRequest(std::string_view name) {
  TANGRAM_ASSIGN_OR_RETURN(partitioner::AllreduceAlgorithm algorithm,
                           partitioner::ParseAllreduceAlgorithm(name));
  if (!partitioner::IsAllreduceRequest(algorithm)) {
    return absl::InvalidArgumentError(absl::StrCat("expected auto | ring | hierarchical, found \"",
                                                   std::string(name), "\" (an outcome)"));
  }
  return algorithm;
}

class SimulateCommand : public Command {
 public:
  std::string Name() const override { return "simulate"; }
  std::string Description() const override {
    return "Simulate training steps event by event: timeline, bubbles, communication, memory";
  }
  void Configure(CLI::App* sub) override {
    inputs_.Add(sub, /*with_strategy=*/true);
    // A plan is simulated as it is: a --strategy beside it was ignored without a word.
    sub->add_option("--plan", plan_path_, "Simulate this plan JSON instead of planning")
        ->excludes(sub->get_option("--strategy"));
    sub->add_option("--steps", steps_, "Steps to simulate (default 1)")
        ->check(IntIn(1, kMaxSimulatedSteps));
    sub->add_option("--schedule", schedule_,
                    "1f1b | gpipe | interleaved (default: interleaved with virtual stages)")
        ->check(NameOf(partitioner::ParseSchedule));
    sub->add_option("--virtual-stages", virtual_stages_,
                    "Model chunks per pipeline rank (interleaved; default: the job's layout)")
        ->check(IntIn(1, 1024));
    sub->add_option("--allreduce", allreduce_, "auto (default) | ring | hierarchical")
        ->check(NameOf(ParseAllreduceRequest));
    sub->add_option("--bucket-mib", options_.bucket_mib, "Gradient bucket size, MiB (default 25)")
        ->check(FiniteIn(1e-3, 1e6));
    sub->add_flag("--no-contention", no_contention_,
                  "Every transfer at its link's full bandwidth (as the cost model assumes)");
    sub->add_option("--trace", trace_path_, "Write a Chrome/Perfetto trace of the last step")
        ->check(OutputPath());
    sub->add_option("--gantt", gantt_path_, "Write an SVG Gantt chart of the last step")
        ->check(OutputPath());
    sub->add_option(
        "--straggler", stragglers_,
        "DEVICE:PERCENT[@STEP]: device computes PERCENT% slower from STEP (repeatable; a "
        "negative PERCENT, above -100, makes it faster)");
    sub->add_option("--fail-node", fail_node_, "NODE[@STEP]: the node fails in STEP; re-plan");
    sub->add_option("--cross-island-slowdown", run_.scenario.cross_island_slowdown,
                    "Inter-island links this many times slower (>= 1)")
        ->check(FiniteIn(1, 1e6));
    sub->add_option("--drift", run_.scenario.drift_percent,
                    "Per-step random walk of every device's speed, +-PERCENT")
        ->check(FiniteIn(0, 99));
    sub->add_option("--seed", run_.scenario.seed, "Seed of the drift (default 1)");
    sub->add_flag("--no-progress", no_progress_,
                  "No progress bar even on a terminal (a long run still prints a line every 10 s)");
    sub->add_flag("--async-p2p", async_p2p_,
                  "Pipeline sends non-blocking, waited at the end of the step (the CPU runtime's)");
  }

  absl::Status Run(const GlobalOptions& global) override {
    TANGRAM_ASSIGN_OR_RETURN(PlanningInputs in, LoadPlanningInputs(inputs_, global));
    const partitioner::Fleet* fleet = &in.fleet;
    const partitioner::ModelSpec* model = &in.model;
    std::optional<partitioner::Plan> plan;
    if (!plan_path_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(plan, partitioner::LoadPlanFile(plan_path_));
      // Without a job the plan's own training setup, not the CLI's default (whose batch of 1024
      // would make the bound, the MFU and the efficiency those of another job).
      if (!in.from_job) in.training = partitioner::TrainingOfPlan(*plan, in.training);
      TANGRAM_RETURN_IF_ERROR(partitioner::CheckPlanInputs(
          *plan, plan_path_, *fleet, *model, in.training, in.from_job ? "job" : "fleet and model"));
    }
    // --virtual-stages replaces the job's (or the plan's), for the cost model as for the
    // simulator, so the two cost the same schedule.
    if (virtual_stages_ > 0) in.training.layout.virtual_stages = virtual_stages_;
    const partitioner::TrainingSpec& training = in.training;

    SimOptions& sim = run_.sim;
    TANGRAM_ASSIGN_OR_RETURN(sim.allreduce, ParseAllreduceRequest(allreduce_));
    sim.bucket_mib = options_.bucket_mib;
    sim.contention = !no_contention_;
    sim.async_p2p = async_p2p_;
    TANGRAM_RETURN_IF_ERROR(ChooseSchedule(schedule_, training, &sim));
    sim.record_timeline = !trace_path_.empty() || !gantt_path_.empty();
    run_.steps = steps_;
    run_.cost = in.cost_options;
    run_.progress = !no_progress_ && !global.json;
    for (const std::string& s : stragglers_) {
      TANGRAM_ASSIGN_OR_RETURN(auto straggler, simulator::ParseStraggler(s));
      run_.scenario.stragglers.push_back(straggler);
    }
    if (!fail_node_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(run_.scenario.failure, simulator::ParseNodeFailure(fail_node_));
    }
    TANGRAM_ASSIGN_OR_RETURN(
        simulator::RunResult result,
        simulator::SimulateRun(*fleet, *model, training, plan, in.strategy, run_));
    sim = simulator::OptionsForPlan(sim, result.plan);  // the schedule the plan ran under
    const std::string label = absl::StrCat(model->name, " on ", fleet->name, ", ",
                                           partitioner::StrategyName(result.plan.strategy), ", ",
                                           partitioner::ScheduleName(sim.schedule));
    if (!trace_path_.empty()) {
      TANGRAM_RETURN_IF_ERROR(
          WriteTextFile(trace_path_, simulator::ChromeTraceJson(result.last, label)));
    }
    if (!gantt_path_.empty()) {
      TANGRAM_RETURN_IF_ERROR(WriteTextFile(gantt_path_, simulator::GanttSvg(result.last, label)));
    }
    if (global.json) {
      PrintJson(simulator::RunJson(result, sim));
    } else {
      std::cout << simulator::RunText(result, sim);
      if (!trace_path_.empty()) std::cout << "  trace: " << trace_path_ << "\n";
      if (!gantt_path_.empty()) std::cout << "  gantt: " << gantt_path_ << "\n";
    }
    return absl::OkStatus();
  }

 private:
  using SimOptions = simulator::SimOptions;
  PlanningFlags inputs_;
  std::string plan_path_, schedule_, allreduce_ = "auto";
  std::string trace_path_, gantt_path_, fail_node_;
  std::vector<std::string> stragglers_;
  int64_t steps_ = 1;
  int virtual_stages_ = 0;
  bool no_contention_ = false, no_progress_ = false, async_p2p_ = false;
  SimOptions options_;
  simulator::RunOptions run_;
};

}  // namespace

std::unique_ptr<Command> MakeSimulateCommand() { return std::make_unique<SimulateCommand>(); }

}  // namespace tangram::orchestrator
