#include "orchestrator/runtime/coordinator.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "orchestrator/islands_cost.h"
#include "orchestrator/model/probe.h"
#include "orchestrator/model/stage.h"
#include "orchestrator/simulator/simulator.h"
#include "partitioner/strategy.h"

namespace tangram::orchestrator {

namespace {

// The optimizer step training runs after every step's backward passes (pipeline_step.cc): an
// AdamW update of every parameter, stretched by the EMULATION as a compute phase, then the
// gradients zeroed. Timed after the layer probes (so that they run as before), `probes` times,
// every rank at it as the layers are; EMULATION idles after each as after a phase. The median, in
// seconds.
absl::StatusOr<double> TimeOptimizerStep(train::Stage& stage, int probes, double slowdown) {
  std::vector<double> optimizer;
  for (int probe = 0; probe < probes; ++probe) {
    const absl::Time step_start = absl::Now();
    TANGRAM_RETURN_IF_ERROR(stage.Step(train::AdamWOptions{}));
    const absl::Time step_end = absl::Now();
    stage.ZeroGradients();
    const absl::Duration step = step_end - step_start, zero = absl::Now() - step_end;
    if (slowdown > 1) absl::SleepFor(step * (slowdown - 1));
    optimizer.push_back(absl::ToDoubleSeconds(step * std::max(slowdown, 1.0) + zero));
  }
  std::sort(optimizer.begin(), optimizer.end());
  return optimizer[optimizer.size() / 2];
}

// Adds one probe's forward and backward seconds per micro-batch by kind to `sums` (embedding, one
// block, head; forward then backward): the first layer is the embedding, the last the head, and the
// ones between (blocks, or their halves) are summed and divided by `blocks`.
void AddKindSeconds(const std::vector<train::LayerThroughput>& measured, int64_t blocks,
                    std::array<double, 6>& sums) {
  for (size_t i = 0; i < measured.size(); ++i) {
    const size_t k = i == 0 ? 0 : i + 1 == measured.size() ? 2 : 1;
    const double per = k == 1 ? 1.0 / static_cast<double>(std::max<int64_t>(blocks, 1)) : 1.0;
    const double forward = measured[i].forward_seconds_per_micro_batch;
    sums[2 * k] += forward * per;
    sums[2 * k + 1] += (measured[i].seconds_per_micro_batch - forward) * per;
  }
}

// `sums` as fractions of one micro-batch's whole forward + backward (the block `blocks` times);
// empty when nothing was timed.
std::vector<double> KindShares(const std::array<double, 6>& sums, int64_t blocks) {
  const double whole =
      sums[0] + sums[1] + static_cast<double>(blocks) * (sums[2] + sums[3]) + sums[4] + sums[5];
  if (!(whole > 0)) return {};
  std::vector<double> shares;
  for (double s : sums) shares.push_back(std::max(s, 0.0) / whole);
  return shares;
}

}  // namespace

absl::StatusOr<NodeReport> CalibrateThisRank(int rank, const train::GptOptions& model,
                                             const train::MarkovCorpus& corpus, int64_t micro_batch,
                                             double slowdown, const CalibrationOptions& options,
                                             std::vector<train::LayerThroughput>* layers) {
  const absl::Time begin = absl::Now();
  NodeReport report = DescribeThisHost(rank);
  report.emulate_slowdown = slowdown;
  TANGRAM_ASSIGN_OR_RETURN(
      auto built,
      train::BuildGptLayers(
          model, 0,
          static_cast<int64_t>(train::GptLayerNames(model.spec, model.granularity).size())));
  train::Stage stage(std::move(built));
  // Samples far past any training step, so calibration never peeks at the training data order.
  train::MicroBatch mb = corpus.MakeMicroBatch(0, int64_t{1} << 40, micro_batch);
  const int probes = std::max(options.probes, 1);
  train::ProbeOptions probe_options;
  probe_options.warmup = options.warmup;
  probe_options.iterations = options.passes;
  probe_options.min_iterations = options.min_passes;
  probe_options.keep_passes = layers != nullptr;
  probe_options.between_passes = options.between_passes;
  // EMULATION idles (slowdown − 1) × each probe after it: a probe's share of the budget is its
  // compute and that idle time together.
  if (options.budget != absl::InfiniteDuration()) {
    probe_options.budget = options.budget / probes / std::max(slowdown, 1.0);
  }
  if (layers != nullptr) layers->clear();
  std::vector<double> totals;
  std::array<double, 6> kind_seconds{};
  double flops = 0;
  report.calibration_passes = options.passes;
  const double parameters = static_cast<double>(stage.gradient_size());
  for (int probe = 0; probe < probes; ++probe) {
    absl::Time start = absl::Now();
    TANGRAM_ASSIGN_OR_RETURN(auto measured,
                             train::ProbeStage(stage, mb, train::Tensor(), probe_options));
    // EMULATION: idle as a slowed rank will in training, so that ranks sharing cores see the same
    // contention while they calibrate as while they train.
    if (slowdown > 1) absl::SleepFor((absl::Now() - start) * (slowdown - 1));
    if (options.between_passes) TANGRAM_RETURN_IF_ERROR(options.between_passes());
    double seconds = 0;
    flops = 0;
    for (const auto& l : measured) {
      seconds += l.seconds_per_micro_batch;
      flops += l.flops_per_micro_batch;
      report.calibration_passes = std::min(report.calibration_passes, l.iterations);
      report.calibration_budget_hit = report.calibration_budget_hit || l.budget_hit;
    }
    totals.push_back(seconds);
    AddKindSeconds(measured, model.spec.layers, kind_seconds);
    if (layers != nullptr) {
      if (layers->empty()) {
        *layers = std::move(measured);
      } else {
        for (size_t i = 0; i < measured.size() && i < layers->size(); ++i) {
          auto& kept = (*layers)[i].passes;
          kept.insert(kept.end(), measured[i].passes.begin(), measured[i].passes.end());
        }
      }
    }
  }
  TANGRAM_ASSIGN_OR_RETURN(const double optimizer_s, TimeOptimizerStep(stage, probes, slowdown));
  std::sort(totals.begin(), totals.end());
  double seconds = totals[totals.size() / 2];
  if (parameters > 0) report.optimizer_ns_per_parameter = optimizer_s / parameters * 1e9;
  if (seconds <= 0 || flops <= 0) {
    return absl::InternalError("calibration measured no time or no FLOPs");
  }
  seconds *= slowdown;  // EMULATION: the rank's compute is stretched by this factor in training
  report.seconds_per_sample = seconds / static_cast<double>(micro_batch);
  report.flops_per_sample = flops / static_cast<double>(micro_batch);
  report.calibration_micro_batch = static_cast<int>(micro_batch);
  report.layer_shares = KindShares(kind_seconds, model.spec.layers);
  report.measured_tflops = flops / seconds / 1e12;
  report.calibration_seconds = absl::ToDoubleSeconds(absl::Now() - begin);
  return report;
}

std::vector<partitioner::MeasuredLayerTime> LayerTimesAt(const NodeReport& report, double tflops,
                                                         int group) {
  std::vector<partitioner::MeasuredLayerTime> out;
  if (report.layer_shares.size() != 6 || !(report.flops_per_sample > 0) || !(tflops > 0) ||
      report.calibration_micro_batch < 1) {
    return out;
  }
  const double micro_batch_ms =
      report.flops_per_sample * report.calibration_micro_batch / (tflops * 1e12) * 1e3;
  constexpr partitioner::MeasuredLayerKind kKinds[] = {partitioner::MeasuredLayerKind::kEmbedding,
                                                       partitioner::MeasuredLayerKind::kBlock,
                                                       partitioner::MeasuredLayerKind::kHead};
  for (size_t k = 0; k < 3; ++k) {
    if (!(report.layer_shares[2 * k] > 0)) return {};  // a kind without a forward time
    partitioner::MeasuredLayerTime t;
    t.group = group;
    t.kind = kKinds[k];
    t.tp = 1;
    t.micro_batch = report.calibration_micro_batch;
    t.forward_ms = report.layer_shares[2 * k] * micro_batch_ms;
    t.backward_ms = report.layer_shares[2 * k + 1] * micro_batch_ms;
    out.push_back(t);
  }
  return out;
}

absl::StatusOr<partitioner::Fleet> MeasuredFleet(const std::vector<NodeReport>& reports,
                                                 const partitioner::DeviceCatalog& catalog,
                                                 const partitioner::NetworkSpec& network, int tp) {
  partitioner::Fleet fleet;
  fleet.name = "measured";
  fleet.network = network;
  tp = std::max(tp, 1);
  for (size_t first = 0; first < reports.size();) {
    // A node of `tp` ranks when the next tp ranks share a host and a device kind, else one rank.
    size_t members = 1;
    if (tp > 1 && first + tp <= reports.size()) {
      members = static_cast<size_t>(tp);
      for (size_t i = first + 1; i < first + tp; ++i) {
        if (reports[i].host != reports[first].host ||
            reports[i].device_kind != reports[first].device_kind) {
          members = 1;
        }
      }
    }
    double slowest = 0, optimizer_ns = 0;
    size_t slowest_rank = first;
    for (size_t i = first; i < first + members; ++i) {
      const NodeReport& r = reports[i];
      if (!(r.measured_tflops > 0)) {
        return absl::FailedPreconditionError(
            absl::StrCat("rank ", r.rank, " measured no throughput"));
      }
      if (i == first || r.measured_tflops < slowest) slowest = r.measured_tflops, slowest_rank = i;
      optimizer_ns = std::max(optimizer_ns, r.optimizer_ns_per_parameter);
    }
    const NodeReport& r = reports[first];
    const partitioner::DeviceSpec* spec = catalog.Find(r.device_kind);
    if (spec == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("rank ", r.rank, " reports device kind \"",
                                                        r.device_kind,
                                                        "\", which the catalog does not list"));
    }
    partitioner::NodeGroup g;
    g.device = *spec;
    g.devices_per_node = static_cast<int>(members);
    g.count = 1;
    g.nic_gbps = spec->nic_gbps * static_cast<double>(members);
    g.measured_tflops = slowest;
    if (optimizer_ns > 0) g.measured_optimizer_ns = optimizer_ns;
    g.island = spec->collective_library == "none" ? "host" : spec->collective_library;
    g.host = r.host;
    g.layer_times =
        LayerTimesAt(reports[slowest_rank], slowest, static_cast<int>(fleet.groups.size()));
    fleet.groups.push_back(std::move(g));
    first += members;
  }
  return fleet;
}

int RuntimeTensorParallel(const JobConfig& job) {
  const partitioner::PinnedLayout& l = job.training.layout;
  return l.stage_tp.empty() ? l.tp.value_or(1) : l.stage_tp[0];  // a list of equal sizes
}

absl::Status CheckRuntimeStageTp(const std::vector<int>& stage_tp) {
  if (std::count(stage_tp.begin(), stage_tp.end(), stage_tp.empty() ? 0 : stage_tp[0]) ==
      static_cast<std::ptrdiff_t>(stage_tp.size())) {
    return absl::OkStatus();
  }
  std::string stages;
  for (size_t s = 0; s < stage_tp.size(); ++s) {
    absl::StrAppend(&stages, s == 0 ? "" : ", ", "stage ", s, " tp ", stage_tp[s]);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "the CPU runtime runs one tensor-parallel size on every stage; this layout has ", stages,
      ": plan and simulate it, train it with one tp (e.g. layout.tp: ", stage_tp[0], ")"));
}

namespace {
absl::StatusOr<partitioner::CostModel> CostModelFor(const partitioner::Fleet& fleet,
                                                    const JobConfig& job) {
  partitioner::TrainingSpec training = job.training;
  training.layout.tp = RuntimeTensorParallel(job);
  // The CPU runtime reduces a stage's gradients in one allreduce after its last backward
  // (pipeline_step.cc), never overlapped with it: predict that, whatever the job says.
  training.overlap_grad_reduce = false;
  // Nor does it pipeline its tensor-parallel collectives with the GEMMs (tp_comm_overlap).
  training.tp_comm_overlap = false;
  return partitioner::CostModel::Create(fleet, job.model, training, RuntimeCostOptions());
}
}  // namespace

absl::StatusOr<partitioner::Plan> PlanOnFleet(const partitioner::Fleet& fleet, const JobConfig& job,
                                              partitioner::StrategyKind strategy) {
  TANGRAM_ASSIGN_OR_RETURN(auto cost, CostModelFor(fleet, job));
  return partitioner::MakePlan(cost, strategy);
}

absl::StatusOr<double> PredictStepTime(const partitioner::Fleet& fleet, const JobConfig& job,
                                       partitioner::Plan plan) {
  TANGRAM_ASSIGN_OR_RETURN(auto cost, CostModelFor(fleet, job));
  TANGRAM_RETURN_IF_ERROR(cost.Evaluate(&plan));
  return plan.predicted.step_time_s;
}

absl::StatusOr<double> SimulateStepTime(const partitioner::Fleet& fleet, const JobConfig& job,
                                        const partitioner::Plan& plan) {
  TANGRAM_ASSIGN_OR_RETURN(auto cost, CostModelFor(fleet, job));
  // The runtime's gradient allreduce is one flat collective over the data-parallel group (MPI's
  // native allreduce, a ring at these sizes), never the hierarchical one the cost model may pick.
  simulator::SimOptions options;
  options.allreduce = partitioner::AllreduceAlgorithm::kRing;
  // Its pipeline sends are non-blocking, waited at the end of the step (pipeline_step.cc).
  options.async_p2p = true;
  TANGRAM_ASSIGN_OR_RETURN(simulator::StepResult step, simulator::Simulate(cost, plan, options));
  return step.step_time_s;
}

partitioner::Fleet WithThroughput(partitioner::Fleet fleet, const std::vector<double>& tflops) {
  size_t rank = 0;
  for (partitioner::NodeGroup& g : fleet.groups) {
    const size_t members = static_cast<size_t>(g.num_devices());
    double slowest = 0;
    for (size_t r = rank; r < rank + members && r < tflops.size(); ++r) {
      if (tflops[r] > 0) slowest = slowest > 0 ? std::min(slowest, tflops[r]) : tflops[r];
    }
    if (slowest > 0) {
      // Layer times measured at the old rate keep their split and follow the new one.
      const double old = g.measured_tflops.value_or(0);
      const double scale = old > 0 ? old / slowest : 1.0;
      for (partitioner::MeasuredLayerTime& t : g.layer_times) {
        t.forward_ms *= scale;
        if (t.backward_ms) *t.backward_ms *= scale;
      }
      g.measured_tflops = slowest;
    }
    rank += members;
  }
  return fleet;
}

}  // namespace tangram::orchestrator
