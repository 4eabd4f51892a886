#include "orchestrator/simulator/run.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "orchestrator/simulator/progress.h"
#include "partitioner/strategy.h"

namespace tangram::simulator {
namespace {

// Re-plans on the fleet without the failed node and simulates one step there.
FailureReport Replan(const partitioner::Fleet& fleet, const partitioner::ModelSpec& model,
                     const partitioner::TrainingSpec& training, partitioner::StrategyKind strategy,
                     const RunOptions& options, const NodeFailure& failure, double step_before) {
  FailureReport r;
  r.step = failure.step;
  r.node = failure.node;
  r.strategy = strategy;
  r.devices_before = fleet.num_devices();
  r.step_time_before_s = step_before;
  r.lost_s = step_before / 2 + options.scenario.failure_timeout_s;
  const partitioner::Fleet smaller = RemoveNode(fleet, failure.node);
  r.devices_after = smaller.num_devices();
  partitioner::TrainingSpec t = training;
  t.layout = {};  // the pinned layout no longer fits a smaller fleet
  auto cost = partitioner::CostModel::Create(smaller, model, t, options.cost);
  if (!cost.ok()) {
    r.error = std::string(cost.status().message());
    return r;
  }
  const auto start = std::chrono::steady_clock::now();
  auto plan = partitioner::MakePlan(*cost, strategy);
  r.replan_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!plan.ok()) {
    r.error = std::string(plan.status().message());
    return r;
  }
  SimOptions sim = OptionsForPlan(options.sim, *plan);
  sim.record_timeline = false;
  sim.device_slowdown.clear();
  auto step = Simulate(*cost, *plan, sim);
  if (!step.ok()) {
    r.error = std::string(step.status().message());
    return r;
  }
  r.step_time_after_s = step->step_time_s;
  return r;
}

// The event simulation holds every task of a step (a forward and a backward per micro-batch, stage
// and chunk, ~200 bytes each with its dependencies): refuse a step that would not fit in memory,
// e.g. global_batch 2^30 with micro-batch 1, before allocating any of it.
absl::Status CheckSimulationSize(const partitioner::Plan& plan, const SimOptions& sim) {
  constexpr double kMaxTasks = 1 << 25;  // ~6 GiB of tasks
  double micro_batches = 0;
  for (const partitioner::PlanReplica& r : plan.replicas) micro_batches += r.micro_batches;
  const double tasks = 2.0 * micro_batches * static_cast<double>(plan.stages.size()) *
                       std::max(1, sim.virtual_stages);
  if (tasks > kMaxTasks) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "one step is %.3g tasks (%.3g micro-batches x %d stages x fwd+bwd), more than the %.3g "
        "this machine can simulate (~%.0f GiB); use a larger micro_batch or a smaller global_batch",
        tasks, micro_batches, static_cast<int>(plan.stages.size()), kMaxTasks,
        tasks * 200 / (1 << 30)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunResult> SimulateRun(const partitioner::Fleet& fleet_in,
                                      const partitioner::ModelSpec& model,
                                      const partitioner::TrainingSpec& training,
                                      const std::optional<partitioner::Plan>& plan,
                                      partitioner::StrategyKind strategy,
                                      const RunOptions& options) {
  if (options.steps < 1) return absl::InvalidArgumentError("steps must be >= 1");
  TANGRAM_RETURN_IF_ERROR(ValidateScenario(options.scenario, fleet_in, options.steps));
  const partitioner::Fleet fleet = ApplyNetwork(options.scenario, fleet_in);
  TANGRAM_ASSIGN_OR_RETURN(auto cost,
                           partitioner::CostModel::Create(fleet, model, training, options.cost));
  RunResult run;
  run.warnings = cost.warnings();
  for (std::string& w : ScenarioWarnings(options.scenario, fleet_in)) {
    run.warnings.push_back(std::move(w));
  }
  if (plan) {
    run.plan = *plan;
    // A plan that does not fit memory is still simulated (what-if); Evaluate's other errors stop.
    absl::Status s = cost.Evaluate(&run.plan);
    if (!s.ok() && s.code() != absl::StatusCode::kFailedPrecondition) return s;
  } else {
    TANGRAM_ASSIGN_OR_RETURN(run.plan, partitioner::MakePlan(cost, strategy));
  }
  SimOptions sim = OptionsForPlan(options.sim, run.plan);
  TANGRAM_RETURN_IF_ERROR(CheckSimulationSize(run.plan, sim));
  SlowdownSchedule slowdowns(options.scenario, fleet.num_devices());
  Progress progress("simulating", options.steps, options.progress);
  sim.record_timeline = false;
  std::vector<double> previous;
  double previous_time = 0;
  int64_t good = 0;
  for (int64_t step = 0; step < options.steps; ++step) {
    progress.Update(step);
    const NodeFailure* failure = options.scenario.failure ? &*options.scenario.failure : nullptr;
    if (failure != nullptr && step == failure->step) {
      // "the same strategy" (docs/simulator.md): a given plan's own, else the one that planned.
      run.failure =
          Replan(fleet, model, training, plan ? run.plan.strategy : strategy, options, *failure,
                 previous_time > 0 ? previous_time : run.plan.predicted.step_time_s);
      run.steps.push_back({step, run.failure->lost_s, true});
      run.total_s += run.failure->lost_s;
      if (!run.failure->error.empty()) break;  // the job cannot go on
      previous_time = run.failure->step_time_after_s;
      previous.assign(1, -1);  // steps after the failure run on the re-planned fleet
      continue;
    }
    if (failure != nullptr && step > failure->step) {
      run.steps.push_back({step, previous_time, false});
    } else {
      const std::vector<double>& slow = slowdowns.Step(step);
      if (slow != previous) {
        sim.device_slowdown = slow;
        TANGRAM_ASSIGN_OR_RETURN(run.last, Simulate(cost, run.plan, sim));
        previous = slow;
        previous_time = run.last.step_time_s;
      }
      run.steps.push_back({step, previous_time, false});
    }
    run.total_s += previous_time;
    run.mean_step_s += previous_time;
    ++good;
  }
  progress.Update(options.steps);
  run.mean_step_s = good > 0 ? run.mean_step_s / good : 0;
  if (run.last.cells.empty() || (options.sim.record_timeline && !previous.empty())) {
    // The last step simulated on the planned fleet, recorded (or, when a failure came first,
    // one nominal step for the report).
    sim.record_timeline = options.sim.record_timeline;
    TANGRAM_ASSIGN_OR_RETURN(run.last, Simulate(cost, run.plan, sim));
  }
  return run;
}

}  // namespace tangram::simulator
