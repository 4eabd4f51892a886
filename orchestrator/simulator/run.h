// A simulated run: plan (or take a plan), then simulate step after step under a scenario — what
// `tangram simulate` does, as one library call. This is also how the orchestrator asks "what
// step time should this fleet and plan give?" (e.g. to compare with the measured one):
//
//   auto cost = partitioner::CostModel::Create(fleet, model, training);
//   auto step = simulator::Simulate(*cost, plan, simulator::SimOptions{});
//   step->step_time_s, step->tokens_per_s, step->mfu, ...
//
// or, with planning, several steps and a scenario, SimulateRun below. Thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_RUN_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_RUN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "orchestrator/islands_cost.h"
#include "orchestrator/simulator/scenario.h"
#include "orchestrator/simulator/simulator.h"
#include "partitioner/cost_model.h"
#include "partitioner/plan.h"

namespace tangram::simulator {

struct RunOptions {
  SimOptions sim;  // record_timeline applies to the last step
  int64_t steps = 1;
  Scenario scenario;
  bool progress = false;  // a progress bar on a terminal; else lines every 10 s (progress.h)
  // The cost model's options (ignore_memory: a what-if); the runtime's islands allreduce.
  partitioner::CostOptions cost = orchestrator::RuntimeCostOptions();
};

struct StepRecord {
  int64_t step = 0;
  double step_time_s = 0;  // for a failed step: the time it cost (lost work + timeout)
  bool failed = false;
};

// What a node failure costs and what the job looks like after re-planning without it.
struct FailureReport {
  int64_t step = 0, node = 0;
  double lost_s = 0;         // half a step of lost work on average, plus the collective timeout
  double replan_wall_s = 0;  // wall time the strategy took to re-plan
  int64_t devices_before = 0, devices_after = 0;
  double step_time_before_s = 0, step_time_after_s = 0;
  partitioner::StrategyKind strategy = partitioner::StrategyKind::kAuto;
  std::string error;  // when the smaller fleet cannot run the job
};

struct RunResult {
  partitioner::Plan plan;  // as planned (the cost model's prediction filled in)
  StepResult last;         // the last step simulated in full (timeline if asked)
  std::vector<StepRecord> steps;
  std::optional<FailureReport> failure;
  double total_s = 0;                 // simulated time of all steps
  double mean_step_s = 0;             // of the steps that did not fail
  std::vector<std::string> warnings;  // what the cost model assumed (CostModel::warnings)
};

// Plans with `strategy` (or uses `plan` when given: it is evaluated by the cost model first),
// then simulates options.steps steps. Errors: the strategy's (kFailedPrecondition when the job
// does not fit), Simulate's, and kInvalidArgument for a scenario that names devices or nodes the
// fleet does not have.
absl::StatusOr<RunResult> SimulateRun(const partitioner::Fleet& fleet,
                                      const partitioner::ModelSpec& model,
                                      const partitioner::TrainingSpec& training,
                                      const std::optional<partitioner::Plan>& plan,
                                      partitioner::StrategyKind strategy,
                                      const RunOptions& options);

}  // namespace tangram::simulator

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_RUN_H_
