// `tangram train --job J`: measure every rank, plan on the measurements, train the reference model
// (under mpirun with --transport mpi, or as threads with --transport sim --ranks N).
#include <filesystem>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "orchestrator/cli/cli_util.h"
#include "orchestrator/model/checkpoint.h"
#include "orchestrator/runtime/coordinator.h"
#include "orchestrator/runtime/hosts.h"
#include "orchestrator/runtime/stop_request.h"
#include "orchestrator/runtime/train_job.h"
#include "partitioner/plan_json.h"

namespace tangram::orchestrator {
namespace {

// A rank stretched further sleeps for minutes per step while the others wait on it.
constexpr double kMaxEmulatedFactor = 100;

absl::StatusOr<SlowdownChange> ParseChange(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  SlowdownChange c;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &c.rank) ||
      !absl::SimpleAtoi(parts[1], &c.step) || !absl::SimpleAtod(parts[2], &c.factor) ||
      c.rank < 0 || c.step < 1 || !(c.factor >= 1 && c.factor <= kMaxEmulatedFactor)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--emulate-change \"", text,
        "\": expected RANK:STEP:FACTOR with STEP >= 1 (steps count from 1) and 1 <= FACTOR <= ",
        kMaxEmulatedFactor, " (e.g. 2:5:4)"));
  }
  c.step -= 1;  // users count steps from 1
  return c;
}

nlohmann::json LinksJson(const TrainResult& result) {
  nlohmann::json links = nlohmann::json::array();
  for (const auto& l : result.links) {
    links.push_back({{"class", partitioner::LinkClassName(l.link_class)},
                     {"latency_us", l.latency_us},
                     {"bandwidth_gbs", l.bandwidth_gbs},
                     {"pair", l.pair}});
    if (l.bidirectional_gbs) links.back()["bidirectional_gbs"] = *l.bidirectional_gbs;
    if (l.allreduce_gbs) links.back()["allreduce_gbs"] = *l.allreduce_gbs;
    if (l.pair_allreduce_gbs) links.back()["pair_allreduce_gbs"] = *l.pair_allreduce_gbs;
    if (l.burst_bytes) links.back()["burst_bytes"] = *l.burst_bytes;
    if (l.peak_gbs) links.back()["peak_gbs"] = *l.peak_gbs;
    if (l.collective_us) links.back()["collective_us"] = *l.collective_us;
  }
  return links;
}

nlohmann::json HostLinksJson(const TrainResult& result) {
  nlohmann::json links = nlohmann::json::array();
  for (const auto& l : result.host_links) {
    links.push_back({{"hosts", {l.a, l.b}}, {"bandwidth_gbs", l.bandwidth_gbs}});
  }
  return links;
}

nlohmann::json CpuPoolsJson(const TrainResult& result) {
  nlohmann::json pools = nlohmann::json::array();
  for (const auto& p : result.cpu_pools) {
    pools.push_back({{"machine", p.machine},
                     {"cores", p.cores},
                     {"ranks", p.ranks},
                     {"busy_tflops", p.busy_tflops},
                     {"solo_tflops", p.solo_tflops},
                     {"demand", p.demand},
                     {"effective_cores", p.EffectiveCores()}});
  }
  return pools;
}

// --resume DIR must hold a committed checkpoint whose manifest reads (LATEST's step, or the newest
// step with a manifest): refused here, before measuring and planning, with the same exit code (2)
// as the runtime's refusal.
absl::Status CheckResumeDir(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--resume ", dir, ": not a directory (give a --checkpoint-dir of a run)"));
  }
  absl::StatusOr<int64_t> step = train::LatestStep(dir);
  if (!step.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--resume ", dir, ": checkpoint refused: ", step.status().message()));
  }
  return absl::OkStatus();
}

// A fresh run's first commit deletes every other step in its directory (CommitCheckpoint keeps
// only its own newest), so starting one where an earlier run's committed checkpoint lies would
// lose it: refused before anything runs, saying how to resume it or where else to write.
absl::Status CheckFreshCheckpointDir(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  absl::StatusOr<int64_t> step = train::LatestStep(dir);
  if (absl::IsNotFound(step.status())) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "checkpoint directory ", dir, " holds a checkpoint of an earlier run",
      step.ok() ? absl::StrCat(" (step ", *step, ")") : std::string(),
      ": a fresh run would delete it when it writes its first checkpoint; resume it (--resume ",
      dir, " or --auto-resume), write elsewhere (--checkpoint-dir), or remove it"));
}

// Whether `dir` holds a committed checkpoint for --auto-resume: LATEST's step, or without LATEST
// (a crash between a first checkpoint's manifest and LATEST) the newest step with a manifest, as
// --resume finds it; a damaged one counts, so that the resume refuses it by name. An empty or
// absent directory does not.
bool HoldsCheckpoint(const std::string& dir) {
  return !dir.empty() && !absl::IsNotFound(train::LatestStep(dir).status());
}

// Under a launcher every rank but 0 prefixes its lines with "[rank N] " from the start, so that an
// error found before the communicator is up (a bad --resume, a bad job file: every rank finds it)
// says which rank printed it (docs/training.md, "Log lines").
void PrefixLinesWithLauncherRank() {
  const int rank = LauncherRank();
  if (LauncherWorldSize() > 1 && rank > 0) logging::SetRank(rank);
}

// `train --json`: rank 0's result.
void PrintTrainJson(const TrainResult& result) {
  nlohmann::json reports = nlohmann::json::array();
  for (const auto& r : result.reports) reports.push_back(r.ToJson());
  PrintJson({{"steps_done", result.steps_done},
             {"reports", reports},
             {"simulated_step_time_s", result.simulated_step_time_s},
             {"final_tflops", result.final_tflops},
             {"final_simulated_step_time_s", result.final_simulated_step_time_s},
             {"final_ideal_step_time_s", result.final_ideal_step_time_s},
             {"plan", partitioner::PlanToJson(result.initial_plan)},
             {"first_step", result.first_step},
             {"losses", result.losses},
             {"step_times_s", result.step_times},
             {"predicted_step_time_s", result.predicted_step_time_s},
             {"probe_seconds", result.probe_seconds},
             {"calibration_seconds", result.calibration_seconds},
             {"cpu_pool_seconds", result.cpu_pool_seconds},
             {"link_probe_seconds", result.link_probe_seconds},
             {"links", LinksJson(result)},
             {"host_links", HostLinksJson(result)},
             {"cpu_pools", CpuPoolsJson(result)},
             {"cpu_pinning", result.cpu_pinning},
             {"nic", result.nic ? nlohmann::json{{"node", result.nic->node},
                                                 {"senders", result.nic->senders},
                                                 {"aggregate_gbs", result.nic->aggregate_gbs}}
                                : nlohmann::json()},
             {"fanout", result.fanout ? nlohmann::json{{"node", result.fanout->node},
                                                       {"peers", result.fanout->peers},
                                                       {"links", result.fanout->links}}
                                      : nlohmann::json()},
             {"replans", result.replans},
             {"replan_log", result.replan_log},
             {"reprobes", result.reprobes},
             {"reprobe_log", result.reprobe_log},
             {"warnings", result.warnings},
             {"strategy", partitioner::StrategyName(result.plan.strategy)},
             {"stopped_on_request", result.stopped_on_request}});
}

class TrainCommand : public Command {
 public:
  std::string Name() const override { return "train"; }
  std::string Description() const override {
    return "Measure the ranks, plan on the measurements and train the reference model";
  }
  void Configure(CLI::App* sub) override {
    sub->add_option("--job", job_path_, "Job file (configs/jobs/*.yaml)")->required();
    sub->add_option("--transport", transport_, "sim | mpi (default: the job's)");
    sub->add_option("--fleet", fleet_path_,
                    "Run on this fleet file instead of the job's (e.g. after losing a host)");
    sub->add_option("--ranks", ranks_, "sim: ranks to run (default: one per fleet device)")
        ->check(IntIn(1, kMaxSimRanks));
    sub->add_option("--strategy", strategy_, "Partition strategy (default: the job's)")
        ->check(NameOf(partitioner::ParseStrategy));
    CLI::Option* plan = sub->add_option("--plan", options_.plan_path,
                                        "Run this plan (tangram plan --json) instead");
    CLI::Option* catalog = sub->add_flag("--catalog-throughput", options_.catalog_throughput,
                                         "Plan on the fleet file's figures instead of measuring");
    sub->add_option("--measured-fleet", options_.measured_fleet_path,
                    "Write the fleet this run measured and planned on (one node per rank, a "
                    "measured: section) to this file, for plan, simulate and compare")
        ->check(OutputPath())
        ->excludes(plan)
        ->excludes(catalog);
    sub->add_flag("--no-link-probe", no_link_probe_,
                  "Plan on the fleet file's link figures instead of measuring the network");
    sub->add_option("--probe-budget-s", probe_budget_s_,
                    "Wall-clock seconds for the start-of-run compute probe (calibration, CPU "
                    "pools); each stops at its pass count or its share, after its minimum passes; "
                    "0 = no budget (default 20)");
    sub->add_option("--steps", options_.steps, "Total steps (default: the job's)")
        ->check(IntIn(1, kMaxTrainSteps));
    sub->add_option("--metrics", options_.metrics_path,
                    "Append one JSON line per step to this file")
        ->check(OutputPath());
    sub->add_option("--checkpoint-dir", options_.checkpoint_dir,
                    "Default: the job's checkpoint_dir");
    sub->add_option("--checkpoint-every", options_.checkpoint_every,
                    "Steps between checkpoints (0: only at the end)")
        ->check(IntIn(0, kMaxTrainSteps));
    sub->add_option(
        "--resume", resume_dir_,
        "Continue from the latest checkpoint in DIR (may differ in plan and rank count); the run "
        "writes its checkpoints to DIR too unless --checkpoint-dir is given");
    sub->add_flag("--auto-resume", auto_resume_,
                  "Resume from the checkpoint directory's latest checkpoint when it has one, else "
                  "start from step 0 (for requeued and restarted jobs)");
    sub->add_flag("--no-rebalance", no_rebalance_, "Never re-plan during the run");
    sub->add_option("--rebalance-threshold", options_.rebalance_threshold,
                    "Re-plan when predicted this much faster (default 0.10)")
        ->check(FiniteIn(0, 10));
    sub->add_option("--emulate-change", changes_,
                    "EMULATION: RANK:STEP:FACTOR stretches RANK's compute FACTOR times from STEP");
    sub->add_option("--island", launch_.island,
                    "This rank's island (default: $TANGRAM_ISLAND, else the fleet's island of the "
                    "device with this rank's index)");
    sub->add_flag("--no-islands", no_islands_,
                  "One transport for every rank even when the fleet has several islands");
    sub->add_option("--timeout", timeout_s_,
                    "Seconds before a communication call fails (default 120; 3 predicted steps "
                    "of the plan when longer)")
        ->check(FiniteIn(0.001, 86400));
  }

  absl::Status Run(const GlobalOptions& global) override {
    PrefixLinesWithLauncherRank();
    // Everything the flags alone can tell is checked before the job is measured and planned.
    if (!strategy_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(options_.strategy, partitioner::ParseStrategy(strategy_));
    }
    for (const auto& text : changes_) {
      TANGRAM_ASSIGN_OR_RETURN(SlowdownChange c, ParseChange(text));
      options_.slowdown_changes.push_back(c);
    }
    if (!resume_dir_.empty()) {
      TANGRAM_RETURN_IF_ERROR(CheckResumeDir(resume_dir_));
      options_.resume = true;
      options_.resume_dir = resume_dir_;
      if (options_.checkpoint_dir.empty()) options_.checkpoint_dir = resume_dir_;
    }
    TANGRAM_ASSIGN_OR_RETURN(auto catalog, LoadCatalog(global));
    TANGRAM_ASSIGN_OR_RETURN(JobConfig job, LoadJob(job_path_, catalog));
    TANGRAM_RETURN_IF_ERROR(CheckRuntimeStageTp(job.training.layout.stage_tp));
    if (!fleet_path_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(job.fleet, partitioner::LoadFleet(fleet_path_, catalog));
      job.fleet_path = fleet_path_;
    }
    const int64_t ranks = ranks_ > 0 ? ranks_ : job.fleet.num_devices();
    for (const SlowdownChange& c : options_.slowdown_changes) {
      if ((transport_.empty() ? job.transport : transport_) == "sim" && c.rank >= ranks) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--emulate-change: rank ", c.rank, " does not exist (ranks are 0..", ranks - 1, ")"));
      }
    }
    const std::string dir =
        options_.checkpoint_dir.empty() ? job.checkpoint_dir : options_.checkpoint_dir;
    if (auto_resume_ && !options_.resume) options_.resume = HoldsCheckpoint(dir);
    options_.rebalance = !no_rebalance_;
    options_.link_probe = !no_link_probe_;
    TANGRAM_ASSIGN_OR_RETURN(options_.probe_budget, ProbeBudgetFromFlag(probe_budget_s_));
    TrainLaunch launch = launch_;
    launch.islands = !no_islands_;
    launch.transport = transport_.empty() ? job.transport : transport_;
    launch.ranks = ranks_;
    launch.timeout = absl::Seconds(timeout_s_);
    if (!options_.resume) TANGRAM_RETURN_IF_ERROR(CheckFreshCheckpointDir(dir));
    InstallStopRequestHandler();
    TANGRAM_ASSIGN_OR_RETURN(TrainResult result, RunTraining(job, catalog, options_, launch));
    if (result.rank != 0) {  // the coordinator reports
      return result.stopped_on_request ? StoppedOnRequest("") : absl::OkStatus();
    }
    if (global.json) PrintTrainJson(result);
    if (result.stopped_on_request) {
      return StoppedOnRequest(absl::StrCat("stopped on request (SIGUSR1) after step ",
                                           result.steps_done, " with its checkpoint committed in ",
                                           dir, "; continue with --auto-resume (exit 3)"));
    }
    return absl::OkStatus();
  }

 private:
  std::string job_path_, transport_, resume_dir_, fleet_path_, strategy_;
  int ranks_ = 0;
  bool no_rebalance_ = false;
  bool no_link_probe_ = false;
  bool no_islands_ = false;
  TrainLaunch launch_;
  bool auto_resume_ = false;
  double probe_budget_s_ = kDefaultProbeBudgetSeconds;
  double timeout_s_ = 120;
  std::vector<std::string> changes_;
  TrainOptions options_;
};

}  // namespace

std::unique_ptr<Command> MakeTrainCommand() { return std::make_unique<TrainCommand>(); }

}  // namespace tangram::orchestrator
