#include "orchestrator/runtime/trainer.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "base/format.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "orchestrator/model/checkpoint.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/model/probe.h"
#include "orchestrator/probe/collective_probe.h"
#include "orchestrator/probe/cpu_pool_probe.h"
#include "orchestrator/probe/fleet_probe.h"
#include "orchestrator/probe/link_probe.h"
#include "orchestrator/probe/probe_budget.h"
#include "orchestrator/runtime/comm_util.h"
#include "orchestrator/runtime/coordinator.h"
#include "orchestrator/runtime/cpu_pinning.h"
#include "orchestrator/runtime/hosts.h"
#include "orchestrator/runtime/layer_mover.h"
#include "orchestrator/runtime/measured_fleet_file.h"
#include "orchestrator/runtime/pipeline_step.h"
#include "orchestrator/runtime/placement.h"
#include "orchestrator/runtime/resume_check.h"
#include "orchestrator/runtime/step_deadline.h"
#include "orchestrator/runtime/stop_request.h"
#include "partitioner/plan_json.h"

namespace tangram::orchestrator {
namespace {

using collectives::Communicator;
using collectives::DataType;
using partitioner::Plan;

// Per-rank figures gathered after every step, in this order.
// kStop: 1 when the rank was asked to stop (stop_request.h), so that all stop after one step.
enum Metric {
  kLossSum,
  kSamples,
  kCompute,
  kComm,
  kEmulated,
  kFlops,
  kStepSeconds,
  kStop,
  kMetricCount
};

// Rank 0's answer in the per-step decision (MaybeRebalance) when slow steps ask for a link
// re-probe; any other non-empty answer is a plan in JSON (which starts with '{').
constexpr char kReprobeRequest[] = "reprobe";

// The largest change of a link class's figures from `before` to `after`, as a factor minus one
// (either way: 2x and 0.5x are both 1); infinity for a class that `before` lacks.
double LinkChange(const std::vector<partitioner::MeasuredLink>& before,
                  const std::vector<partitioner::MeasuredLink>& after) {
  auto factor = [](double a, double b) {
    if (a <= 0 || b <= 0) return a == b ? 0.0 : HUGE_VAL;
    return std::max(a / b, b / a) - 1;
  };
  double change = 0;
  for (const auto& l : after) {
    auto old = std::find_if(before.begin(), before.end(), [&](const partitioner::MeasuredLink& o) {
      return o.link_class == l.link_class;
    });
    if (old == before.end()) return HUGE_VAL;
    change = std::max({change, factor(l.bandwidth_gbs, old->bandwidth_gbs),
                       factor(l.latency_us, old->latency_us)});
  }
  return change;
}

// Rank 0 decides; every rank learns the decision. `text` carries 'P' + payload or
// 'E' + status code + ':' + message. A refusal is kFailedPrecondition on every rank (a plan that
// cannot be made or adopted is the job's to fix), unless `keep_code`: then every rank fails with
// rank 0's code, so that an I/O failure (a full disk at a checkpoint) stays a runtime failure.
absl::StatusOr<std::string> ShareFromRoot(Communicator& world,
                                          const absl::StatusOr<std::string>& mine,
                                          bool keep_code = false) {
  std::string text;
  if (world.rank() == 0) {
    text = mine.ok() ? "P" + *mine
                     : absl::StrCat("E", static_cast<int>(mine.status().code()), ":",
                                    mine.status().message());
  }
  TANGRAM_RETURN_IF_ERROR(BroadcastString(world, 0, &text));
  if (text.empty()) return absl::DataLossError("coordinator sent an empty message");
  if (text[0] == 'E') {
    const size_t colon = text.find(':');
    int code = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(text.substr(1, colon - 1), &code) ||
        code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
      return absl::DataLossError("coordinator sent a malformed error");
    }
    const std::string message = absl::StrCat("coordinator: ", text.substr(colon + 1));
    if (!keep_code) return absl::FailedPreconditionError(message);
    return absl::Status(static_cast<absl::StatusCode>(code), message);
  }
  return text.substr(1);
}

class Run {
 public:
  Run(Communicator& world, const JobConfig& job, const partitioner::DeviceCatalog& catalog,
      const TrainOptions& options)
      : world_(world),
        job_(job),
        catalog_(catalog),
        options_(options),
        user_timeout_(world.default_timeout()) {}

  absl::StatusOr<TrainResult> Execute() {
    result_.rank = world_.rank();
    TANGRAM_RETURN_IF_ERROR(Setup());
    WarnUnusedDevices();
    TANGRAM_RETURN_IF_ERROR(LoadResumeCheckpoint());
    if (NothingToTrain()) return result_;
    TANGRAM_RETURN_IF_ERROR(Measure());
    TANGRAM_RETURN_IF_ERROR(InitialPlan());
    TANGRAM_RETURN_IF_ERROR(BuildInitialStage());
    result_.steps_done = std::max(result_.first_step, total_steps_);
    for (int64_t step = result_.first_step; step < total_steps_; ++step) {
      TANGRAM_RETURN_IF_ERROR(TrainStep(step));
      // Asked to stop (every rank saw every rank's flag with the step's figures): a checkpoint
      // of this step, then the run ends as if this were its last step.
      const bool last = step + 1 == total_steps_ || stop_agreed_;
      if (!last) TANGRAM_RETURN_IF_ERROR(MaybeRebalance(step));
      if (last || (checkpoint_every_ > 0 && (step + 1) % checkpoint_every_ == 0)) {
        TANGRAM_RETURN_IF_ERROR(WriteCheckpoint(step + 1));
      }
      if (stop_agreed_ && step + 1 < total_steps_) {
        result_.stopped_on_request = true;
        result_.steps_done = step + 1;
        Log(
            absl::StrFormat("stopped on request (SIGUSR1) after step %d of %d; resume from the "
                            "checkpoint with --auto-resume or --resume %s",
                            step + 1, total_steps_, checkpoint_dir_));
        break;
      }
    }
    result_.plan = plan_;
    result_.final_tflops = ema_tflops_;
    if (coordinator() && !planning_fleet_.groups.empty()) {
      auto simulated = SimulateStepTime(WithThroughput(planning_fleet_, ema_tflops_), job_, plan_);
      if (simulated.ok()) result_.final_simulated_step_time_s = *simulated;
    }
    double summed = 0;
    for (double t : ema_tflops_) summed += t;
    if (summed > 0) result_.final_ideal_step_time_s = last_step_flops_ / (summed * 1e12);
    if (options_.collect_layers) TANGRAM_RETURN_IF_ERROR(CollectLayers());
    if (world_.rank() == 0 && emulation_.active()) Log(emulation_.Describe() + " (rank 0)");
    return result_;
  }

 private:
  bool coordinator() const { return world_.rank() == 0; }
  // Rank 0 speaks for the job: its progress lines (and warnings) go to the process's logger; the
  // other ranks' would repeat them.
  void Log(const std::string& line, logging::Level level = logging::Level::kInfo) {
    if (coordinator()) logging::Log(level, line);
  }

  absl::Status Setup() {
    absl::StatusOr<train::GptSpec> spec = train::GptSpecFromModel(job_.model);
    if (!spec.ok()) {
      return Annotate(spec.status(),
                      "`tangram train` runs the built-in CPU reference GPT (plan and simulate "
                      "take any model)");
    }
    model_.spec = *spec;
    model_.granularity = train::Granularity::kBlock;
    model_.seed = job_.seed;
    layer_names_ = train::GptLayerNames(model_.spec, model_.granularity);
    train::CorpusOptions corpus;
    corpus.seed = job_.seed;
    corpus.seq_len = job_.model.seq_len;
    TANGRAM_ASSIGN_OR_RETURN(auto c, train::MarkovCorpus::Create(corpus));
    corpus_ = std::make_unique<train::MarkovCorpus>(std::move(c));
    total_steps_ = options_.steps > 0 ? options_.steps : job_.steps;
    checkpoint_dir_ =
        options_.checkpoint_dir.empty() ? job_.checkpoint_dir : options_.checkpoint_dir;
    checkpoint_every_ =
        options_.checkpoint_every >= 0 ? options_.checkpoint_every : job_.checkpoint_every;
    adamw_.learning_rate = static_cast<float>(job_.learning_rate);
    const int64_t devices = job_.fleet.num_devices();
    if (world_.size() > devices) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the job's fleet (", job_.fleet_path, ") describes ", devices, " devices but ",
          world_.size(), " ranks are running: give the fleet one device per rank"));
    }
    for (const auto& change : options_.slowdown_changes) {
      if (change.rank < 0 || change.rank >= world_.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--emulate-change: rank ", change.rank,
                                                       " does not exist (ranks are 0..",
                                                       world_.size() - 1, ")"));
      }
    }
    auto slots = partitioner::FlattenFleet(job_.fleet);
    double slowdown = job_.fleet.groups[slots[world_.rank()].group].emulate_slowdown;
    if (!options_.slowdowns.empty()) {
      if (static_cast<int>(options_.slowdowns.size()) != world_.size()) {
        return absl::InvalidArgumentError("slowdowns: one factor per rank expected");
      }
      slowdown = options_.slowdowns[world_.rank()];
    }
    SetSlowdown(slowdown);
    if (coordinator() && !options_.metrics_path.empty()) {
      // Opened before training so that a bad path fails the run at once, not silently later.
      std::error_code ignored;
      std::filesystem::path parent = std::filesystem::path(options_.metrics_path).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
      errno = 0;
      metrics_.open(options_.metrics_path, std::ios::app);
      if (!metrics_) {
        // Reported with the plan, so that every rank stops instead of waiting for rank 0; a full
        // disk is a runtime failure there, a path that cannot be written a configuration error.
        coordinator_error_ =
            IoStatus(errno, absl::StrCat("cannot open the metrics file ", options_.metrics_path));
      }
    }
    return absl::OkStatus();
  }

  void SetSlowdown(double factor) {
    train::ComputeEmulation::Options o;
    o.slowdown = factor;
    slowdown_ = factor;
    emulation_ = train::ComputeEmulation(o);
  }

  absl::Status Measure() {
    const absl::Time probe_start = absl::Now();
    // The pools' share is kept off the simulated transport, where they are probed (below).
    const ProbeBudgetShares budget =
        SplitProbeBudget(options_.probe_budget, world_.transport_name() != "sim", false);
    CalibrationOptions calibration;
    calibration.budget = budget.compute;
    absl::StatusOr<NodeReport> report = CalibrateThisRank(
        world_.rank(), model_, *corpus_, job_.training.micro_batch, slowdown_, calibration);
    if (!report.ok())
      return Annotate(report.status(), absl::StrCat("calibration on rank ", world_.rank()));
    // The others wait out the slowest rank's calibration, which its budget bounds.
    TANGRAM_ASSIGN_OR_RETURN(
        auto texts, AllGatherStringsAfter(world_, report->ToJson().dump(), budget.compute));
    for (const auto& text : texts) {
      TANGRAM_ASSIGN_OR_RETURN(NodeReport r, NodeReport::FromJson(text));
      result_.reports.push_back(r);
      ema_tflops_.push_back(r.measured_tflops);
    }
    result_.calibration_seconds = absl::ToDoubleSeconds(absl::Now() - probe_start);
    if (options_.check_hosts) {
      // Every rank holds every report, so all stop here together on a misplaced rank.
      std::vector<std::string> hosts;
      for (const auto& r : result_.reports) hosts.push_back(r.host);
      TANGRAM_RETURN_IF_ERROR(CheckPlacement(job_.fleet, hosts));
    }
    TANGRAM_RETURN_IF_ERROR(MeasureCpuPools(*report, budget.cpu_pools));
    ShareCalibrationWithinPools(result_.cpu_pools, result_.reports);
    for (size_t r = 0; r < result_.reports.size() && r < ema_tflops_.size(); ++r)
      ema_tflops_[r] = result_.reports[r].measured_tflops;
    if (options_.link_probe && world_.size() > 1) {
      absl::Time start = absl::Now();
      absl::StatusOr<LinkProbeResult> links =
          ProbeLinks(world_, PlacesOf(result_.reports, job_.fleet), LinkOptions());
      if (!links.ok()) return Annotate(links.status(), "link probe");
      result_.link_probe_seconds = absl::ToDoubleSeconds(absl::Now() - start);
      result_.links = links->links;
      result_.nic = links->nic;
      result_.host_links = links->host_links;
      result_.fanout = links->fanout;
      TANGRAM_RETURN_IF_ERROR(MeasureTpCollective(*report));
    }
    result_.probe_seconds = absl::ToDoubleSeconds(absl::Now() - probe_start);
    if (coordinator()) LogMeasurements(budget.compute);
    return absl::OkStatus();
  }

  // The link probe times the allreduce training runs at the gradient's size (fp32: the CPU
  // runtime reduces its gradients in f32, pipeline_step.cc).
  LinkProbeOptions LinkOptions() const {
    LinkProbeOptions o;
    o.gradient_bytes = static_cast<size_t>(job_.model.TotalParameters()) * 4;
    return o;
  }

  // Ranks sharing one machine's cores (every namespace host here: EMULATION of hosts), and one
  // rank's rate alone within `budget`, for the simulator's processor sharing (cpu_pool_probe.h).
  // Not on the simulated transport: its ranks stand for the fleet's hosts.
  absl::Status MeasureCpuPools(const NodeReport& report, absl::Duration budget) {
    if (world_.transport_name() == "sim") return absl::OkStatus();
    const double demand = slowdown_ > 1 ? 1 / slowdown_ : 1.0;
    const absl::Time pool_start = absl::Now();
    CalibrationOptions alone_options;
    alone_options.budget = budget;
    TANGRAM_ASSIGN_OR_RETURN(
        result_.cpu_pools,
        ProbeCpuPools(world_, report.measured_tflops * slowdown_, demand,
                      [&](const std::function<absl::Status()>& pulse) -> absl::StatusOr<double> {
                        alone_options.between_passes = pulse;
                        TANGRAM_ASSIGN_OR_RETURN(
                            NodeReport alone,
                            CalibrateThisRank(world_.rank(), model_, *corpus_,
                                              job_.training.micro_batch, 1.0, alone_options));
                        return alone.measured_tflops;
                      }));
    result_.cpu_pool_seconds = absl::ToDoubleSeconds(absl::Now() - pool_start);
    return absl::OkStatus();
  }

  // Rank 0: what the start-of-run probe measured and what it cost (`budget`: the calibration's).
  void LogMeasurements(absl::Duration budget) {
    Log(absl::StrFormat("measured %d ranks on the job's own layers (forward + backward):",
                        world_.size()));
    for (const auto& r : result_.reports) {
      Log(absl::StrFormat(
          "  rank %d  %s  %s  %.4f TFLOP/s, optimizer %.3g ns per parameter%s", r.rank, r.host,
          r.device_name, r.measured_tflops, r.optimizer_ns_per_parameter,
          r.emulate_slowdown != 1
              ? absl::StrFormat("  (EMULATION: compute stretched %gx)", r.emulate_slowdown)
              : ""));
      if (r.layer_shares.size() == 6) {
        const auto& s = r.layer_shares;
        Log(absl::StrFormat(
            "    a micro-batch's time: embedding %.1f + %.1f %%, each block %.1f + %.1f %%, head "
            "%.1f + %.1f %% (forward + backward; planned and simulated as measured)",
            100 * s[0], 100 * s[1], 100 * s[2], 100 * s[3], 100 * s[4], 100 * s[5]));
      }
    }
    for (const std::string& line :
         DescribeLinks(result_.links, result_.nic, result_.host_links, result_.fanout)) {
      Log("  " + line);
    }
    for (const auto& p : result_.cpu_pools) {
      // A solo reading below a core's per-rank rate all busy is simulated at that rate
      // (MeasuredCpuPool::SoloTflops); say so, so that the figure in the log is the one used.
      const std::string raised =
          p.SoloTflops() > p.solo_tflops
              ? absl::StrFormat(", simulated at %.4g: a core's rate all busy", p.SoloTflops())
              : "";
      Log(
          absl::StrFormat("  cpu pool %s: ranks %s on %d cores, %.4g TFLOP/s each all busy, "
                          "%.4g alone%s (%.2f effective cores)",
                          p.machine, absl::StrJoin(p.ranks, ","), p.cores, p.busy_tflops,
                          p.solo_tflops, raised, p.EffectiveCores()));
    }
    const CalibrationOptions calibration;
    int fewest = calibration.passes, reached = 0;
    for (const auto& r : result_.reports) {
      fewest = std::min(fewest, r.calibration_passes);
      reached += r.calibration_budget_hit ? 1 : 0;
    }
    Log(absl::StrFormat(
        "  (start-of-run probe: %.2f s; calibration %.2f s, %s%d timed passes per layer and "
        "probe, %s; cpu pools %.2f s; network %.2f s)",
        result_.probe_seconds, result_.calibration_seconds,
        fewest == calibration.passes ? "" : absl::StrCat(fewest, "-"), calibration.passes,
        DescribeBudget(budget, reached, world_.size()), result_.cpu_pool_seconds,
        result_.link_probe_seconds));
  }

  // With tensor parallelism: one small allreduce among a tp group as training pays it, every
  // rank computing between collectives (collective_probe.h); kept on the same_node link.
  absl::Status MeasureTpCollective(const NodeReport& report) {
    const int tp = RuntimeTensorParallel(job_);
    if (tp < 2 || world_.transport_name() == "sim") return absl::OkStatus();
    CollectiveProbeOptions o;
    o.group_size = tp;
    // The compute between two of training's collectives: a micro-batch's forward and backward at
    // the all-busy rate (EMULATION undone), split over the tp ranks and the 4 allreduces per
    // block (2 forward, 2 backward).
    const double per_micro_batch =
        report.seconds_per_sample * static_cast<double>(job_.training.micro_batch) / slowdown_;
    o.compute_s = per_micro_batch / tp / (4.0 * static_cast<double>(job_.model.layers));
    o.bytes =
        static_cast<size_t>(job_.training.micro_batch * job_.model.seq_len * job_.model.hidden * 4);
    TANGRAM_ASSIGN_OR_RETURN(
        std::optional<double> seconds,
        ProbeGroupCollective(world_, PlacesOf(result_.reports, job_.fleet), o));
    if (!seconds) return absl::OkStatus();
    for (auto& l : result_.links) {
      if (l.link_class == partitioner::LinkClass::kSameNode) l.collective_us = *seconds * 1e6;
    }
    return absl::OkStatus();
  }

  partitioner::StrategyKind Strategy() const { return options_.strategy.value_or(job_.strategy); }

  // Rank 0 only: the plan to start with, as JSON.
  absl::StatusOr<std::string> CoordinatorPlan() {
    TANGRAM_RETURN_IF_ERROR(coordinator_error_);
    Plan plan;
    if (!options_.plan_path.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(plan, partitioner::LoadPlanFile(options_.plan_path));
    } else {
      if (options_.catalog_throughput) {
        planning_fleet_ = job_.fleet;
      } else {
        TANGRAM_ASSIGN_OR_RETURN(planning_fleet_,
                                 MeasuredFleet(result_.reports, catalog_, job_.fleet.network,
                                               RuntimeTensorParallel(job_)));
        ApplyMeasuredLinks();
      }
      TANGRAM_ASSIGN_OR_RETURN(plan, PlanOnFleet(planning_fleet_, job_, Strategy()));
      TANGRAM_RETURN_IF_ERROR(WriteMeasuredFleet());
      auto predicted = PredictStepTime(planning_fleet_, job_, plan);
      if (predicted.ok()) result_.predicted_step_time_s = *predicted;
      auto simulated = SimulateStepTime(planning_fleet_, job_, plan);
      if (simulated.ok()) result_.simulated_step_time_s = *simulated;
    }
    return partitioner::PlanToJsonString(plan, -1);
  }

  // The measured fleet takes the job fleet's islands (a logical grouping the ranks cannot see)
  // and the links measured at the start, in place of the catalog's.
  void ApplyMeasuredLinks() {
    auto slots = partitioner::FlattenFleet(job_.fleet);
    size_t rank = 0;
    for (partitioner::NodeGroup& g : planning_fleet_.groups) {
      if (rank < slots.size()) g.island = job_.fleet.groups[slots[rank].group].island;
      rank += static_cast<size_t>(g.num_devices());
    }
    partitioner::Measurements links;
    links.links = result_.links;
    links.nic = result_.nic;
    links.host_links = result_.host_links;
    links.fanout = result_.fanout;
    links.hosts = DistinctHosts(result_.reports);
    links.cpu_pools = result_.cpu_pools;
    partitioner::ApplyMeasurements(links, &planning_fleet_);
    if (!links.cpu_pools.empty()) planning_fleet_.measured = links;  // the simulator reads pools
    measured_links_ = std::move(links);
  }

  // Rank 0, with --measured-fleet, after planning from measurements: the fleet planned on, as a
  // fleet file (measured_fleet_file.h).
  absl::Status WriteMeasuredFleet() {
    if (options_.measured_fleet_path.empty()) return absl::OkStatus();
    const std::string how = absl::StrCat(
        "tangram train, start of the run: ", world_.size(), " ranks calibrated on the job's ",
        "layers (", job_.model.name, ", micro-batch ", job_.training.micro_batch,
        "), one node per rank; links ", options_.link_probe ? "probed" : "not probed");
    TANGRAM_RETURN_IF_ERROR(
        WriteTextFile(options_.measured_fleet_path,
                      MeasuredFleetYaml(planning_fleet_, measured_links_, world_.size(), how)));
    Log("wrote the measured fleet to " + options_.measured_fleet_path);
    return absl::OkStatus();
  }

  // The calls' deadline for a plan predicted at `step_s` a step (StepDeadline), set before the
  // plan's communicators are split from the world so that they inherit it; said once when it
  // moves.
  void ScaleDeadline(double step_s) {
    const absl::Duration deadline = StepDeadline(user_timeout_, step_s);
    if (deadline == world_.default_timeout()) return;
    world_.SetDefaultTimeout(deadline);
    if (!coordinator()) return;
    Log(deadline > user_timeout_
            ? absl::StrFormat(
                  "calls' deadline %.0f s: %.0f x the plan's predicted %.3f s step, longer than "
                  "--timeout %.0f s (a healthy step on these links would outlast it)",
                  absl::ToDoubleSeconds(deadline), kStepsPerDeadline, step_s,
                  absl::ToDoubleSeconds(user_timeout_))
            : absl::StrFormat("calls' deadline back to --timeout %.0f s",
                              absl::ToDoubleSeconds(user_timeout_)));
  }

  absl::Status AdoptPlan(const std::string& json) {
    TANGRAM_ASSIGN_OR_RETURN(Plan plan, partitioner::PlanFromJsonString(json));
    if (plan.layer_names != layer_names_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the plan's layer list (", plan.layer_names.size(), " layers) is not the model's (",
          layer_names_.size(), " layers: ", absl::StrJoin(layer_names_, ", "), ")"));
    }
    if (plan.global_batch != job_.training.global_batch) {
      return absl::FailedPreconditionError(absl::StrCat("the plan is for a global batch of ",
                                                        plan.global_batch, ", the job's is ",
                                                        job_.training.global_batch));
    }
    TANGRAM_RETURN_IF_ERROR(partitioner::ValidatePlan(plan, world_.size(), layer_names_.size()));
    if (partitioner::HasUnequalStageTp(plan)) {
      std::vector<int> tps;
      for (int st = 0; st < plan.pp; ++st) tps.push_back(partitioner::StageTp(plan, st));
      TANGRAM_RETURN_IF_ERROR(CheckRuntimeStageTp(tps));
    }
    // Every rank checks the same plan against the same model, so all stop here together.
    if (absl::Status s = train::CheckTensorParallel(model_.spec, plan.tp); !s.ok()) {
      return Annotate(
          s, absl::StrCat("the plan's tp=", plan.tp, " cannot shard model ", job_.model.name));
    }
    TANGRAM_ASSIGN_OR_RETURN(role_, RoleOf(plan, world_.rank()));
    TANGRAM_RETURN_IF_ERROR(PinToCpu(plan));
    ScaleDeadline(plan.predicted.step_time_s);
    plan_ = std::move(plan);
    tp_group_.Reset(nullptr);  // the layers built from here on use the new communicator
    TANGRAM_ASSIGN_OR_RETURN(
        tensor_parallel_, world_.Split(TensorParallelColor(role_, world_.rank()), role_.tp_rank));
    TANGRAM_ASSIGN_OR_RETURN(pipeline_,
                             world_.Split(PipelineColor(role_, world_.rank()), role_.stage));
    TANGRAM_ASSIGN_OR_RETURN(data_parallel_,
                             world_.Split(DataParallelColor(role_, world_.rank()), role_.replica));
    tp_group_.Reset(tensor_parallel_.get());
    return absl::OkStatus();
  }

  // On a machine with more ranks than CPUs, the ranks that compute together go to different CPUs
  // (cpu_pinning.h); said once per plan that pins.
  absl::Status PinToCpu(const Plan& plan) {
    TANGRAM_ASSIGN_OR_RETURN(bool pinned, PinThisRank(plan, result_.cpu_pools, world_.rank()));
    if (pinned && coordinator()) {
      result_.cpu_pinning = DescribePinning(plan, result_.cpu_pools);
      Log("CPU pinning (cpu_pinning.h; TANGRAM_CPU_PINNING=0 turns it off): " +
          result_.cpu_pinning);
    }
    return absl::OkStatus();
  }

  // The model options this rank's stage is built with: sharded over its cell when tp > 1.
  train::GptOptions StageModel() {
    train::GptOptions options = model_;
    if (role_.tp > 1) options.tensor_parallel = &tp_group_;
    return options;
  }

  absl::Status InitialPlan() {
    absl::StatusOr<std::string> mine = coordinator() ? CoordinatorPlan() : std::string();
    TANGRAM_ASSIGN_OR_RETURN(std::string json, ShareFromRoot(world_, mine));
    TANGRAM_RETURN_IF_ERROR(AdoptPlan(json));
    result_.initial_plan = plan_;
    plan_tflops_ = ema_tflops_;
    if (coordinator()) {
      Log(absl::StrFormat(
          "plan (%s): tp=%d pp=%d dp=%d; predicted %.4f s/step (cost model), %.4f s/step "
          "(simulator), efficiency %.0f%%",
          partitioner::StrategyName(plan_.strategy), plan_.tp, plan_.pp, plan_.dp,
          plan_.predicted.step_time_s, result_.simulated_step_time_s, 100 * plan_.efficiency));
      for (const auto& stage : plan_.stages) {
        for (const auto& cell : stage.cells) {
          const auto& replica = plan_.replicas[cell.replica];
          Log(absl::StrFormat(
              "  rank%s %s: stage %d (layers %d-%d), replica %d, %d samples in %d micro-batches",
              cell.devices.size() > 1 ? "s" : "", absl::StrJoin(cell.devices, ","), stage.index,
              stage.layer_begin, stage.layer_end - 1, cell.replica, replica.samples,
              replica.micro_batches));
        }
      }
    }
    return absl::OkStatus();
  }

  // Every rank reads the whole checkpoint (every layer file's size and checksum) before the
  // ranks are measured and a plan is made: a damaged or missing file costs no start-up probe, and
  // every rank refuses it alike, without waiting for another.
  absl::Status LoadResumeCheckpoint() {
    if (!options_.resume) return absl::OkStatus();
    const std::string& from = options_.resume_dir.empty() ? checkpoint_dir_ : options_.resume_dir;
    absl::StatusOr<train::Checkpoint> loaded = train::LoadLatest(from);
    if (absl::IsNotFound(loaded.status()) || absl::IsDataLoss(loaded.status())) {
      // A missing and a damaged checkpoint are refused alike (exit 2: give another --resume).
      return absl::FailedPreconditionError(
          absl::StrCat("resume from ", from, ": checkpoint refused: ", loaded.status().message()));
    }
    if (!loaded.ok()) return Annotate(loaded.status(), absl::StrCat("resume from ", from));
    TANGRAM_ASSIGN_OR_RETURN(std::vector<ExpectedTensor> expected, ModelTensors());
    TANGRAM_RETURN_IF_ERROR(CheckCheckpointFitsModel(*loaded, from, job_.model.name, expected));
    resume_checkpoint_ = std::move(*loaded);
    result_.first_step = resume_checkpoint_->step;
    // Without --checkpoint-dir, `--resume DIR` is also where this run commits: say where.
    Log(absl::StrFormat("resuming from %s at step %d; checkpoints go to %s", from,
                        resume_checkpoint_->step, checkpoint_dir_));
    return absl::OkStatus();
  }

  // Rank r trains fleet device r, so fewer ranks than devices leave the fleet's last devices out
  // of the run (and of the plan, which is made for the ranks): rank 0 names them, in the log and in
  // the result's warnings (train --json), since a launch with a wrong -np looks like a slow fleet.
  void WarnUnusedDevices() {
    const std::vector<partitioner::DeviceSlot> slots = partitioner::FlattenFleet(job_.fleet);
    const int64_t ranks = world_.size();
    if (!coordinator() || ranks >= static_cast<int64_t>(slots.size())) return;
    std::vector<std::string> unused;
    constexpr int64_t kListed = 8;  // a fleet of hundreds: the first few, then a count
    for (int64_t d = ranks; d < static_cast<int64_t>(slots.size()) && d < ranks + kListed; ++d) {
      const partitioner::NodeGroup& g = job_.fleet.groups[slots[d].group];
      unused.push_back(absl::StrFormat("%d (%s%s)", d, g.device.kind,
                                       g.host.empty() ? "" : absl::StrCat(" on ", g.host)));
    }
    const int64_t more = static_cast<int64_t>(slots.size()) - ranks - kListed;
    const std::string warning = absl::StrFormat(
        "warning: %d ranks for the %d devices of the fleet (%s): %d devices unused: %s%s; rank r "
        "trains device r, so launch one rank per device (mpirun -np %d, or --ranks %d on sim), or "
        "give a fleet of the devices in use (--fleet)",
        ranks, slots.size(), job_.fleet_path, slots.size() - ranks, absl::StrJoin(unused, ", "),
        more > 0 ? absl::StrCat(" and ", more, " more") : "", slots.size(), slots.size());
    result_.warnings.push_back(warning);
    Log(warning, logging::Level::kWarn);
  }

  // A resumed checkpoint already at or past the run's last step leaves nothing to train. That is
  // success, not an error: a requeued or restarted job (--auto-resume under Slurm's --requeue,
  // launch.sh's restarts) that had finished before it was stopped must end as done, not be
  // retried or reported failed; the warning names both steps for a user who meant to train on.
  // Every rank reads the same checkpoint, so all return here together, before any collective.
  bool NothingToTrain() {
    if (!options_.resume || result_.first_step < total_steps_) return false;
    const std::string warning = absl::StrFormat(
        "warning: nothing to train: the checkpoint is at step %d and the run ends at step %d "
        "(%s); raise --steps above %d to train on",
        result_.first_step, total_steps_,
        options_.steps > 0 ? "--steps" : absl::StrCat("the job's steps, ", job_.path),
        result_.first_step);
    result_.warnings.push_back(warning);
    Log(warning, logging::Level::kWarn);
    result_.steps_done = result_.first_step;
    return true;
  }

  // Every parameter of the model, whole (tp 1), as a checkpoint stores it: what a resumed
  // checkpoint must hold, layer by layer.
  absl::StatusOr<std::vector<ExpectedTensor>> ModelTensors() {
    train::GptOptions whole = model_;
    whole.tensor_parallel = nullptr;
    TANGRAM_ASSIGN_OR_RETURN(
        auto layers, train::BuildGptLayers(whole, 0, static_cast<int64_t>(layer_names_.size())));
    std::vector<ExpectedTensor> expected;
    for (const auto& layer : layers) {
      for (const train::Tensor* t : layer->parameters())
        expected.push_back({layer->name(), t->name, t->shape});
    }
    return expected;
  }

  absl::Status BuildInitialStage() {
    // The whole checkpoint is freed once this rank has taken its layers from it.
    std::optional<train::Checkpoint> checkpoint = std::move(resume_checkpoint_);
    resume_checkpoint_.reset();
    if (!role_.active) return absl::OkStatus();
    TANGRAM_ASSIGN_OR_RETURN(
        auto layers, train::BuildGptLayers(StageModel(), role_.layer_begin, role_.layer_end));
    stage_ = std::make_unique<train::Stage>(std::move(layers));
    if (checkpoint) {
      // Checkpoints hold whole layers (written under any tp); this rank loads its shard.
      for (int64_t l = role_.layer_begin; l < role_.layer_end; ++l) {
        const train::LayerState* state = checkpoint->Find(layer_names_[l]);
        if (state == nullptr) {
          return absl::DataLossError(
              absl::StrCat("checkpoint in ", checkpoint_dir_, " has no layer ", layer_names_[l]));
        }
        TANGRAM_ASSIGN_OR_RETURN(
            train::LayerState shard,
            train::SliceLayerState(*state,
                                   stage_->layer(l - role_.layer_begin).parameter_sharding(),
                                   role_.tp, role_.tp_rank));
        TANGRAM_RETURN_IF_ERROR(stage_->ImportLayer(shard));
      }
    }
    return absl::OkStatus();
  }

  absl::Status TrainStep(int64_t step) {
    for (const auto& change : options_.slowdown_changes) {
      if (change.rank == world_.rank() && change.step == step) SetSlowdown(change.factor);
    }
    absl::Time start = absl::Now();
    StepStats stats;
    if (role_.active) {
      StepContext ctx;
      ctx.stage = stage_.get();
      ctx.role = &role_;
      ctx.pipeline = pipeline_.get();
      ctx.data_parallel = data_parallel_.get();
      ctx.tensor_parallel = &tp_group_;
      ctx.corpus = corpus_.get();
      ctx.step = step;
      ctx.global_batch = job_.training.global_batch;
      ctx.hidden = model_.spec.hidden;
      ctx.adamw = adamw_;
      ctx.emulation = &emulation_;
      absl::StatusOr<StepStats> s = RunPipelineStep(ctx);
      if (!s.ok())
        return Annotate(s.status(), absl::StrCat("step ", step + 1, " on rank ", world_.rank()));
      stats = *s;
    }
    double mine[kMetricCount] = {stats.loss_sum,
                                 static_cast<double>(stats.samples),
                                 stats.compute_s,
                                 stats.comm_s,
                                 stats.emulated_s,
                                 stats.flops,
                                 absl::ToDoubleSeconds(absl::Now() - start),
                                 StopRequested() ? 1.0 : 0.0};
    std::vector<double> all(kMetricCount * world_.size());
    TANGRAM_RETURN_IF_ERROR(world_.AllGather(mine, all.data(), kMetricCount, DataType::kF64));
    for (int r = 0; r < world_.size(); ++r) stop_agreed_ |= all[r * kMetricCount + kStop] > 0;
    double step_time = absl::ToDoubleSeconds(absl::Now() - start);
    double loss = 0;
    last_step_flops_ = 0;
    for (int r = 0; r < world_.size(); ++r) {
      loss += all[r * kMetricCount + kLossSum];
      last_step_flops_ += all[r * kMetricCount + kFlops];
    }
    loss /= static_cast<double>(job_.training.global_batch);
    if (!std::isfinite(loss)) {
      // Every rank sees the same gathered loss, so all stop here, before this step is committed.
      return absl::DataLossError(absl::StrCat(
          "step ", step + 1, ": the loss is ", loss,
          " (non-finite weights or gradients); stopping before anything is committed"));
    }
    result_.losses.push_back(loss);
    result_.step_times.push_back(step_time);
    // Moving average of each rank's throughput in training (its layers' FLOPs ÷ compute time).
    for (int r = 0; r < world_.size(); ++r) {
      double compute = all[r * kMetricCount + kCompute], flops = all[r * kMetricCount + kFlops];
      if (compute > 0 && flops > 0) {
        double tflops = flops / compute / 1e12;
        ema_tflops_[r] = options_.ema_alpha * tflops + (1 - options_.ema_alpha) * ema_tflops_[r];
      }
    }
    if (coordinator()) {
      TANGRAM_RETURN_IF_ERROR(Report(step, loss, step_time, all));
      WatchStepTime(step, step_time);
    }
    return absl::OkStatus();
  }

  // Rank 0: a step that takes much longer than the plan predicts, step after step, means the
  // plan's picture of the fleet is wrong (a slow link, a busy host): say so once per streak.
  void WatchStepTime(int64_t step, double step_time) {
    const double predicted = plan_.predicted.step_time_s;
    if (predicted <= 0) return;  // a hand-made plan without a prediction
    if (step_time <= predicted * (1 + options_.slow_step_margin)) {
      slow_steps_ = 0;
      return;
    }
    if (++slow_steps_ != options_.slow_step_patience) return;
    const bool reprobe = options_.link_probe && world_.size() > 1;
    if (reprobe && reprobes_requested_ < options_.max_reprobes) {
      // Every rank learns it in this step's re-plan decision (MaybeRebalance).
      reprobe_requested_ = true;
      ++reprobes_requested_;
    }
    std::string warning = absl::StrFormat(
        "warning: steps %d-%d took %.3f s (last) against a predicted %.3f s (%+.0f%%, more than "
        "%.0f%% over for %d steps): the network or a host is slower than the plan assumes",
        step + 2 - options_.slow_step_patience, step + 1, step_time, predicted,
        100 * (step_time / predicted - 1), 100 * options_.slow_step_margin,
        options_.slow_step_patience);
    if (reprobe && !reprobe_requested_) {
      absl::StrAppend(&warning, absl::StrFormat(" (links not re-probed: the run's %d re-probes "
                                                "are spent)",
                                                options_.max_reprobes));
    }
    result_.warnings.push_back(warning);
    Log(warning, logging::Level::kWarn);
  }

  // Rank 0: the step's log line and metrics line. A metrics line that cannot be written (a full
  // disk) fails the run, naming the file, rather than leave a silent gap in it.
  absl::Status Report(int64_t step, double loss, double step_time, const std::vector<double>& all) {
    double max_compute = 0, sum_compute = 0;
    int active = 0;
    nlohmann::json ranks = nlohmann::json::array();
    for (int r = 0; r < world_.size(); ++r) {
      const double* m = &all[r * kMetricCount];
      if (m[kSamples] > 0) {
        max_compute = std::max(max_compute, m[kCompute]);
        sum_compute += m[kCompute];
        ++active;
      }
      ranks.push_back({{"rank", r},
                       {"samples", static_cast<int64_t>(m[kSamples])},
                       {"compute_s", m[kCompute]},
                       {"comm_s", m[kComm]},
                       {"idle_s", std::max(0.0, m[kStepSeconds] - m[kCompute] - m[kComm])},
                       {"emulated_s", m[kEmulated]},
                       {"tflops_ema", ema_tflops_[r]}});
    }
    double imbalance = max_compute > 0 ? 1 - sum_compute / active / max_compute : 0;
    double tokens = static_cast<double>(job_.training.global_batch * job_.model.seq_len);
    Log(absl::StrFormat("step %4d/%d  loss %.4f  %.3f s  %s tokens/s  imbalance %.0f%%", step + 1,
                        total_steps_, loss, step_time, HumanCount(tokens / step_time),
                        100 * imbalance));
    if (metrics_.is_open()) {
      nlohmann::json line = {{"step", step + 1},
                             {"loss", loss},
                             {"step_time_s", step_time},
                             {"tokens_per_s", tokens / step_time},
                             {"imbalance", imbalance},
                             {"replans", result_.replans},
                             {"strategy", partitioner::StrategyName(plan_.strategy)},
                             {"ranks", ranks}};
      errno = 0;
      metrics_ << line.dump() << std::endl;
      if (!metrics_) {
        return IoStatus(errno != 0 ? errno : EIO,
                        absl::StrCat("metrics file ", options_.metrics_path, ": step ", step + 1,
                                     " not written"));
      }
    }
    return absl::OkStatus();
  }

  // Rank 0 only: a better plan when the measured throughput has drifted enough, with the reason.
  absl::StatusOr<std::string> RebalanceDecision() {
    if (!options_.rebalance || !options_.plan_path.empty() ||
        Strategy() == partitioner::StrategyKind::kUniform)
      return std::string();
    partitioner::Fleet fleet = WithThroughput(planning_fleet_, ema_tflops_);
    TANGRAM_ASSIGN_OR_RETURN(double current, PredictStepTime(fleet, job_, plan_));
    absl::StatusOr<Plan> candidate = PlanOnFleet(fleet, job_, Strategy());
    // Keep training on the current plan when no other fits. The re-plan keeps the plan's tp (the
    // job's pinned tp, as the first plan): layer moves carry shards between cells of equal tp.
    if (!candidate.ok() || candidate->tp != plan_.tp) return std::string();
    double predicted = candidate->predicted.step_time_s;
    streak_ = predicted < current * (1 - options_.rebalance_threshold) ? streak_ + 1 : 0;
    if (streak_ < options_.rebalance_patience) return std::string();
    streak_ = 0;
    std::vector<std::string> drift;
    for (size_t r = 0; r < ema_tflops_.size(); ++r) {
      double change = ema_tflops_[r] / plan_tflops_[r] - 1;
      if (std::abs(change) > options_.rebalance_threshold) {
        drift.push_back(absl::StrFormat("rank %d %.4f -> %.4f TFLOP/s (%+.0f%%)", r,
                                        plan_tflops_[r], ema_tflops_[r], 100 * change));
      }
    }
    pending_reason_ = absl::StrFormat(
        "measured throughput drifted (%s); predicted step %.4f s -> %.4f s",
        drift.empty() ? "small drifts on several ranks" : absl::StrJoin(drift, ", "), current,
        predicted);
    return partitioner::PlanToJsonString(*candidate, -1);
  }

  // Collective: rank 0's decision after each step (a link re-probe, a new plan or nothing).
  absl::Status MaybeRebalance(int64_t step) {
    absl::StatusOr<std::string> mine = std::string();
    if (coordinator())
      mine = reprobe_requested_ ? std::string(kReprobeRequest) : RebalanceDecision();
    reprobe_requested_ = false;
    TANGRAM_ASSIGN_OR_RETURN(std::string json, ShareFromRoot(world_, mine));
    if (json == kReprobeRequest) return Reprobe(step);
    if (json.empty()) return absl::OkStatus();
    return Replan(step, json);
  }

  // Collective: every rank probes the links again (steps were slower than the plan predicts for
  // slow_step_patience steps); rank 0 puts the measured links in the planning fleet and re-plans
  // on them and on the throughput measured in training, through the re-balancing path.
  absl::Status Reprobe(int64_t step) {
    ++result_.reprobes;
    slow_steps_ = 0;
    const std::vector<partitioner::MeasuredLink> before = result_.links;
    absl::Time start = absl::Now();
    absl::StatusOr<LinkProbeResult> links =
        ProbeLinks(world_, PlacesOf(result_.reports, job_.fleet), LinkOptions());
    if (!links.ok()) return Annotate(links.status(), "link re-probe");
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    absl::StatusOr<std::string> mine = std::string();
    if (coordinator()) mine = ReprobeDecision(step, before, *links, seconds);
    TANGRAM_ASSIGN_OR_RETURN(std::string json, ShareFromRoot(world_, mine));
    if (json.empty()) return absl::OkStatus();
    return Replan(step, json);
  }

  // Rank 0 only: takes the re-probed links and returns the plan to switch to ("" = none).
  absl::StatusOr<std::string> ReprobeDecision(int64_t step,
                                              const std::vector<partitioner::MeasuredLink>& before,
                                              const LinkProbeResult& probed, double seconds) {
    std::vector<std::string> measured;
    for (const auto& l : probed.links) {
      std::string was;
      for (const auto& old : before) {
        if (old.link_class == l.link_class)
          was = absl::StrFormat(", was %.4g GB/s %.1f us", old.bandwidth_gbs, old.latency_us);
      }
      measured.push_back(absl::StrFormat("%s %.4g GB/s %.1f us%s",
                                         partitioner::LinkClassName(l.link_class), l.bandwidth_gbs,
                                         l.latency_us, was));
    }
    std::string line =
        absl::StrFormat("re-probed links after %d slow steps (after step %d, probe %.2f s): %s",
                        options_.slow_step_patience, step + 1, seconds,
                        measured.empty() ? "no link timed" : absl::StrJoin(measured, "; "));
    absl::StatusOr<std::string> decision = std::string();
    std::string outcome;
    if (!probed.timed || probed.links.empty()) {
      // Nothing new to plan on; drifting throughput is re-balancing's to handle.
      outcome = "re-plan: none (nothing measured)";
    } else if (const double change = LinkChange(before, probed.links);
               change <= options_.reprobe_link_change) {
      outcome = absl::StrFormat(
          "re-plan: none (every link within %.0f%% of the figures planned on: the slowness is not "
          "the network's)",
          100 * options_.reprobe_link_change);
    } else if (!options_.rebalance || !options_.plan_path.empty() ||
               Strategy() == partitioner::StrategyKind::kUniform) {
      outcome = "re-plan: none (the plan is fixed: --plan, --no-rebalance or uniform)";
    } else {
      result_.links = probed.links;
      result_.nic = probed.nic;
      result_.host_links = probed.host_links;
      result_.fanout = probed.fanout;
      ApplyMeasuredLinks();
      partitioner::Fleet fleet = WithThroughput(planning_fleet_, ema_tflops_);
      TANGRAM_ASSIGN_OR_RETURN(double current, PredictStepTime(fleet, job_, plan_));
      absl::StatusOr<Plan> candidate = PlanOnFleet(fleet, job_, Strategy());
      if (!candidate.ok() || candidate->tp != plan_.tp) {
        outcome = "re-plan: none (no other plan fits)";
      } else {
        outcome = absl::StrFormat(
            "re-plan on them: predicted step %.4f s on the current plan, %.4f s on the new",
            current, candidate->predicted.step_time_s);
        pending_reason_ =
            absl::StrFormat("links re-probed after %d slow steps; predicted step %.4f s -> %.4f s",
                            options_.slow_step_patience, current, candidate->predicted.step_time_s);
        decision = partitioner::PlanToJsonString(*candidate, -1);
      }
    }
    absl::StrAppend(&line, "; ", outcome);
    result_.reprobe_log.push_back(line);
    Log(line);
    return decision;
  }

  // Collective: every rank switches to the plan `json`, moving layers between ranks.
  absl::Status Replan(int64_t step, const std::string& json) {
    Plan before = plan_;
    TANGRAM_ASSIGN_OR_RETURN(Plan after, partitioner::PlanFromJsonString(json));
    TANGRAM_ASSIGN_OR_RETURN(RankRole role_after, RoleOf(after, world_.rank()));
    TANGRAM_ASSIGN_OR_RETURN(std::vector<train::LayerState> states,
                             MoveLayers(world_, before, stage_.get(), after, role_after));
    // The old stage's layers use the old tensor-parallel group; the new stage is built once the
    // new plan's communicators exist, so that its sharded layers know their place in the new cell.
    stage_.reset();
    TANGRAM_RETURN_IF_ERROR(AdoptPlan(json));
    if (role_.active) {
      TANGRAM_ASSIGN_OR_RETURN(
          auto layers, train::BuildGptLayers(StageModel(), role_.layer_begin, role_.layer_end));
      stage_ = std::make_unique<train::Stage>(std::move(layers));
      for (const train::LayerState& state : states) {
        TANGRAM_RETURN_IF_ERROR(stage_->ImportLayer(state));
      }
    }
    auto moves = PlanLayerMoves(before, after);
    result_.layers_moved += static_cast<int64_t>(moves.size());
    ++result_.replans;
    plan_tflops_ = ema_tflops_;
    std::vector<std::string> moved;
    for (const auto& m : moves)
      moved.push_back(absl::StrFormat("%s rank %d->%d", m.layer, m.from, m.to));
    std::string entry = absl::StrFormat(
        "re-plan after step %d: %s; new plan tp=%d pp=%d dp=%d; moved %s", step + 1,
        pending_reason_, plan_.tp, plan_.pp, plan_.dp,
        moved.empty() ? "no layers (new batch shares only)" : absl::StrJoin(moved, ", "));
    result_.replan_log.push_back(entry);
    Log(entry);
    return absl::OkStatus();
  }

  // This rank's layers, whole: a cell's shards gathered (collective over the cell's ranks).
  absl::StatusOr<std::vector<train::LayerState>> WholeLayers() {
    return GatherWholeLayers(role_.tp > 1 ? tensor_parallel_.get() : nullptr, *stage_);
  }

  // This rank's layers of step `step`, whole, written to their files (replica 0's tp_rank 0
  // ranks); the files' descriptions for rank 0's manifest. kDataLoss for non-finite weights (as a
  // non-finite loss: the same step would go wrong again), else WriteLayerCheckpoint's error.
  absl::StatusOr<nlohmann::json> WriteOwnLayers(int64_t step,
                                                const std::vector<train::LayerState>& whole) {
    nlohmann::json files = nlohmann::json::array();
    // A gradient that went non-finite in this step's update leaves the loss finite but the
    // weights not: refuse to commit them.
    for (const train::LayerState& layer : whole) {
      for (const train::Tensor& t : layer.params) {
        if (!std::all_of(t.data.begin(), t.data.end(), [](float v) { return std::isfinite(v); })) {
          return absl::DataLossError(absl::StrCat("step ", step, ": non-finite weights in ", t.name,
                                                  "; stopping before the checkpoint is committed"));
        }
      }
    }
    for (const train::LayerState& layer : whole) {
      absl::StatusOr<train::LayerFileInfo> info =
          train::WriteLayerCheckpoint(checkpoint_dir_, step, layer);
      if (!info.ok()) {
        return absl::Status(info.status().code(), absl::StrCat("checkpoint on rank ", world_.rank(),
                                                               ": ", info.status().message()));
      }
      files.push_back({{"layer", info->layer},
                       {"file", info->file},
                       {"bytes", info->bytes},
                       {"checksum", info->checksum}});
    }
    return files;
  }

  // Replica 0's ranks of tp_rank 0 write their layers, whole (each cell gathers its shards first);
  // rank 0 commits the manifest once all have. A rank that fails to write says so (with its
  // status code) in what it gathers, so every rank stops at once instead of waiting.
  absl::Status WriteCheckpoint(int64_t step) {
    nlohmann::json files = nlohmann::json::array();
    std::vector<train::LayerState> whole;
    if (role_.active && role_.replica == 0) {
      TANGRAM_ASSIGN_OR_RETURN(whole, WholeLayers());
    }
    if (role_.active && role_.replica == 0 && role_.tp_rank == 0) {
      absl::StatusOr<nlohmann::json> written = WriteOwnLayers(step, whole);
      files = written.ok() ? *written
                           : nlohmann::json{{"error", written.status().message()},
                                            {"code", static_cast<int>(written.status().code())}};
    }
    TANGRAM_ASSIGN_OR_RETURN(auto gathered, AllGatherStrings(world_, files.dump()));
    absl::StatusOr<std::string> committed = std::string();
    if (coordinator()) {
      std::vector<train::LayerFileInfo> infos;
      for (const auto& text : gathered) {
        nlohmann::json parsed = nlohmann::json::parse(text);
        if (parsed.is_object()) {  // a rank's write error, with its code
          committed = absl::Status(static_cast<absl::StatusCode>(parsed["code"].get<int>()),
                                   parsed["error"].get<std::string>());
          break;
        }
        for (const auto& f : parsed) {
          infos.push_back({f["layer"].get<std::string>(), f["file"].get<std::string>(),
                           f["bytes"].get<int64_t>(), f["checksum"].get<uint64_t>()});
        }
      }
      if (committed.ok()) {
        absl::Status status = train::CommitCheckpoint(checkpoint_dir_, step, infos);
        if (!status.ok()) committed = status;
      }
    }
    // A full disk or a failing device stays a runtime failure (exit 1, retried), on every rank.
    TANGRAM_RETURN_IF_ERROR(ShareFromRoot(world_, committed, /*keep_code=*/true).status());
    Log(absl::StrFormat("checkpoint: step %d committed in %s", step, checkpoint_dir_));
    return absl::OkStatus();
  }

  // Replica 0's layers, whole, to rank 0 (PackLayerStates' encoding). With tp > 1 every rank of
  // replica 0's cells also reports its own shards, so that rank 0 can check that the replicated
  // parameters stayed identical across each cell (TrainResult::tp_replica_difference).
  absl::Status CollectLayers() {
    std::string mine;
    if (role_.active && role_.replica == 0) {
      TANGRAM_ASSIGN_OR_RETURN(auto whole, WholeLayers());
      if (role_.tp_rank == 0) mine = PackLayerStates(whole);
    }
    TANGRAM_ASSIGN_OR_RETURN(auto gathered, AllGatherStrings(world_, mine));
    std::string shards;
    if (role_.active && role_.replica == 0 && role_.tp > 1) {
      std::vector<train::LayerState> own;
      for (int64_t i = 0; i < stage_->size(); ++i) own.push_back(stage_->ExportLayer(i));
      shards = PackLayerStates(own);
    }
    TANGRAM_ASSIGN_OR_RETURN(auto gathered_shards, AllGatherStrings(world_, shards));
    if (!coordinator()) return absl::OkStatus();
    for (const auto& text : gathered) {
      TANGRAM_ASSIGN_OR_RETURN(auto states, UnpackLayerStates(text, "gathered layers"));
      for (auto& state : states) result_.layers.emplace(state.layer, std::move(state));
    }
    // Replicated tensors: same name and size in the shard as in the whole layer.
    for (const auto& text : gathered_shards) {
      TANGRAM_ASSIGN_OR_RETURN(auto states, UnpackLayerStates(text, "gathered shards"));
      for (const auto& state : states) {
        auto whole = result_.layers.find(state.layer);
        if (whole == result_.layers.end()) continue;
        for (size_t i = 0; i < state.params.size() && i < whole->second.params.size(); ++i) {
          const train::Tensor& a = state.params[i];
          const train::Tensor& b = whole->second.params[i];
          if (a.size() != b.size()) continue;  // a sharded tensor
          for (int64_t j = 0; j < a.size(); ++j) {
            result_.tp_replica_difference =
                std::max(result_.tp_replica_difference,
                         static_cast<double>(std::abs(a.data[j] - b.data[j])));
          }
        }
      }
    }
    return absl::OkStatus();
  }

  Communicator& world_;
  const JobConfig& job_;
  const partitioner::DeviceCatalog& catalog_;
  const TrainOptions& options_;
  const absl::Duration user_timeout_;  // --timeout: the calls' deadline unless a step is longer
  TrainResult result_;

  train::GptOptions model_;
  std::vector<std::string> layer_names_;
  std::unique_ptr<train::MarkovCorpus> corpus_;
  train::AdamWOptions adamw_;
  int64_t total_steps_ = 0;
  std::string checkpoint_dir_;
  int64_t checkpoint_every_ = 0;
  bool stop_agreed_ = false;  // a rank was asked to stop (gathered with the step's figures)
  double slowdown_ = 1;
  std::optional<train::Checkpoint> resume_checkpoint_;  // --resume's, until the stage is built
  train::ComputeEmulation emulation_{train::ComputeEmulation::Options{}};

  partitioner::Fleet planning_fleet_;
  partitioner::Measurements measured_links_;  // what ApplyMeasuredLinks applied
  Plan plan_;
  RankRole role_;
  std::unique_ptr<Communicator> tensor_parallel_, pipeline_, data_parallel_;
  CommTensorParallelGroup tp_group_;  // over tensor_parallel_; the sharded layers point here
  std::unique_ptr<train::Stage> stage_;
  std::vector<double> ema_tflops_, plan_tflops_;
  int streak_ = 0;
  int slow_steps_ = 0;              // rank 0: consecutive steps slower than predicted by the margin
  bool reprobe_requested_ = false;  // rank 0: slow steps ask MaybeRebalance for a link re-probe
  int reprobes_requested_ = 0;      // rank 0: against max_reprobes
  double last_step_flops_ = 0;
  std::string pending_reason_;
  std::ofstream metrics_;           // rank 0
  absl::Status coordinator_error_;  // rank 0: a setup error every rank learns with the plan
};

}  // namespace

absl::StatusOr<TrainResult> TrainOnRank(collectives::Communicator& world, const JobConfig& job,
                                        const partitioner::DeviceCatalog& catalog,
                                        const TrainOptions& options) {
  Run run(world, job, catalog, options);
  absl::StatusOr<TrainResult> result = run.Execute();
  // A failed rank aborts the world so that no other rank waits for it past its timeout.
  if (!result.ok()) world.Abort(result.status());
  return result;
}

}  // namespace tangram::orchestrator
