#include "orchestrator/simulator/report.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/format.h"

namespace tangram::simulator {
namespace {

struct StageSummary {
  std::map<std::string, int> kinds;
  double compute_s = 0, send_s = 0, wait_s = 0, busy = 0, memory_gib = 0, capacity_gib = 0;
  double in_flight = 0;
  int cells = 0;
};

std::vector<StageSummary> Stages(const StepResult& step) {
  std::vector<StageSummary> out;
  for (const CellResult& c : step.cells) {
    if (c.stage >= static_cast<int>(out.size())) out.resize(c.stage + 1);
    StageSummary& s = out[c.stage];
    s.kinds[c.kind] += static_cast<int>(c.devices.size());  // "H200×16": devices, as everywhere
    ++s.cells;
    s.compute_s = std::max(s.compute_s, c.compute_s);
    s.send_s = std::max(s.send_s, c.send_s);
    s.wait_s = std::max(s.wait_s, c.allreduce_wait_s);
    s.busy += c.busy_fraction;
    s.in_flight = std::max(s.in_flight, c.peak_in_flight);
    if (s.capacity_gib == 0 || c.peak_memory_gib / c.capacity_gib > s.memory_gib / s.capacity_gib) {
      s.memory_gib = c.peak_memory_gib;
      s.capacity_gib = c.capacity_gib;
    }
  }
  for (StageSummary& s : out) s.busy /= std::max(1, s.cells);
  return out;
}

std::string Kinds(const StageSummary& s) {
  std::string out;
  for (const auto& [k, n] : s.kinds) absl::StrAppend(&out, out.empty() ? "" : "+", k, "×", n);
  return out;
}

// Each stage's tensor-parallel size, in stage order (equal entries for a plan with one tp).
std::vector<int> StageTps(const partitioner::Plan& p) {
  std::vector<int> tps;
  for (int s = 0; s < p.pp; ++s) tps.push_back(partitioner::StageTp(p, s));
  return tps;
}

}  // namespace

nlohmann::json StepJson(const StepResult& step, bool devices) {
  nlohmann::json j = {
      {"step_time_s", step.step_time_s},
      {"tokens_per_s", step.tokens_per_s},
      {"mfu", step.mfu},
      {"tflops_per_device", step.tflops_per_device},
      {"pipeline_s", step.pipeline_s},
      {"bubble_fraction", step.bubble_fraction},
      {"busy_fraction", step.busy_fraction},
      {"exposed_comm_s", step.exposed_comm_s},
      {"exposed_p2p_s", step.exposed_p2p_s},
      {"exposed_allreduce_s", step.exposed_allreduce_s},
      {"optimizer_s", step.optimizer_s},
      {"peak_memory_fraction", step.peak_memory_fraction},
      {"fits_memory", step.fits_memory},
      {"allreduce_algorithm", partitioner::AllreduceAlgorithmName(step.allreduce_algorithm)},
      {"events", step.events},
  };
  nlohmann::json stages = nlohmann::json::array();
  int index = 0;
  for (const StageSummary& s : Stages(step)) {
    stages.push_back({{"stage", index++},
                      {"kinds", Kinds(s)},
                      {"compute_s", s.compute_s},
                      {"send_s", s.send_s},
                      {"allreduce_wait_s", s.wait_s},
                      {"busy_fraction", s.busy},
                      {"peak_in_flight", s.in_flight},
                      {"peak_memory_gib", s.memory_gib},
                      {"capacity_gib", s.capacity_gib}});
  }
  j["stages"] = std::move(stages);
  if (devices) {
    nlohmann::json list = nlohmann::json::array();
    for (const CellResult& c : step.cells) {
      for (int64_t d : c.devices) {
        list.push_back({{"device", d},
                        {"kind", c.kind},
                        {"stage", c.stage},
                        {"replica", c.replica},
                        {"slowdown", c.slowdown},
                        {"busy_fraction", c.busy_fraction},
                        {"peak_memory_gib", c.peak_memory_gib},
                        {"capacity_gib", c.capacity_gib}});
      }
    }
    j["devices"] = std::move(list);
  }
  return j;
}

nlohmann::json RunJson(const RunResult& run, const SimOptions& options) {
  const StepResult& s = run.last;
  const partitioner::Plan& p = run.plan;
  nlohmann::json j = {
      {"step_time_s", s.step_time_s},
      {"tokens_per_s", s.tokens_per_s},
      {"mfu", s.mfu},
      {"tflops_per_device", s.tflops_per_device},
      {"schedule", partitioner::ScheduleName(options.schedule)},
      {"virtual_stages", options.virtual_stages},
      {"contention", options.contention},
      {"plan",
       {{"strategy", partitioner::StrategyName(p.strategy)},
        {"fleet", p.fleet},
        {"model", p.model},
        {"tp", p.tp},
        {"stage_tp", StageTps(p)},
        {"pp", p.pp},
        {"dp", p.dp},
        {"global_batch", p.global_batch},
        {"bound_step_time_s", p.bound_step_time_s}}},
      {"cost_model",
       {{"step_time_s", p.predicted.step_time_s},
        {"tokens_per_s", p.predicted.tokens_per_s},
        {"mfu", p.predicted.mfu},
        {"bottleneck", p.predicted.bottleneck}}},
      {"simulated", StepJson(s, true)},
      {"efficiency", s.step_time_s > 0 ? p.bound_step_time_s / s.step_time_s : 0},
      {"mean_step_s", run.mean_step_s},
      {"total_s", run.total_s},
  };
  nlohmann::json steps = nlohmann::json::array();
  for (const StepRecord& r : run.steps) {
    // Steps count from 1 for users, as in `train` and the --straggler/--fail-node flags.
    steps.push_back({{"step", r.step + 1}, {"step_time_s", r.step_time_s}, {"failed", r.failed}});
  }
  j["steps"] = std::move(steps);
  if (run.failure) {
    const FailureReport& f = *run.failure;
    j["failure"] = {{"step", f.step + 1},
                    {"node", f.node},
                    {"lost_s", f.lost_s},
                    {"replan_wall_s", f.replan_wall_s},
                    {"strategy", partitioner::StrategyName(f.strategy)},
                    {"devices_before", f.devices_before},
                    {"devices_after", f.devices_after},
                    {"step_time_before_s", f.step_time_before_s},
                    {"step_time_after_s", f.step_time_after_s},
                    {"error", f.error}};
  }
  return j;
}

std::string RunText(const RunResult& run, const SimOptions& options) {
  const StepResult& s = run.last;
  const partitioner::Plan& p = run.plan;
  std::string out = absl::StrFormat(
      "Simulation: %s on %s, strategy %s, tp %s pp %d dp %d, schedule %s%s, %s\n", p.model, p.fleet,
      partitioner::StrategyName(p.strategy), partitioner::TpText(p), p.pp, p.dp,
      partitioner::ScheduleName(options.schedule),
      options.virtual_stages > 1 ? absl::StrFormat(" (v=%d)", options.virtual_stages) : "",
      options.contention ? "links shared" : "no link contention");
  const double diff =
      p.predicted.step_time_s > 0 ? 100 * (s.step_time_s / p.predicted.step_time_s - 1) : 0;
  absl::StrAppendFormat(&out,
                        "  step %.4g s (cost model %.4g s, %+.1f%%); %s tokens/s; MFU %.1f%%; "
                        "%s TFLOP/s per device; efficiency %.1f%%\n",
                        s.step_time_s, p.predicted.step_time_s, diff, HumanCount(s.tokens_per_s),
                        100 * s.mfu, RateText(s.tflops_per_device, 1),
                        100 * p.bound_step_time_s / s.step_time_s);
  for (const std::string& w : run.warnings) absl::StrAppend(&out, "  warning: ", w, "\n");
  if (!p.unused_devices.empty()) {
    absl::StrAppendFormat(&out, "  unused devices: %d (MFU is over the devices used)\n",
                          p.unused_devices.size());
  }
  absl::StrAppendFormat(&out,
                        "  pipeline %.4g s; bubble %.1f%%; busy %.1f%%; exposed comm %.4g s "
                        "(p2p %.4g, allreduce %.4g, %s); optimizer %.4g s\n",
                        s.pipeline_s, 100 * s.bubble_fraction, 100 * s.busy_fraction,
                        s.exposed_comm_s, s.exposed_p2p_s, s.exposed_allreduce_s,
                        partitioner::AllreduceAlgorithmName(s.allreduce_algorithm), s.optimizer_s);
  absl::StrAppendFormat(&out, "  peak memory %.1f%% of capacity%s\n", 100 * s.peak_memory_fraction,
                        s.fits_memory ? "" : "  — DOES NOT FIT: the run would fail");
  absl::StrAppendFormat(&out, "  %-6s %-24s %10s %10s %10s %7s %9s %16s\n", "stage", "kinds",
                        "compute s", "send s", "ar wait s", "busy", "in flight", "memory GiB");
  int index = 0;
  for (const StageSummary& st : Stages(s)) {
    absl::StrAppendFormat(&out, "  %-6d %-24s %10.4g %10.4g %10.4g %6.1f%% %9.1f %7.1f / %-7.1f\n",
                          index++, Kinds(st), st.compute_s, st.send_s, st.wait_s, 100 * st.busy,
                          st.in_flight, st.memory_gib, st.capacity_gib);
  }
  if (run.steps.size() > 1) {
    absl::StrAppendFormat(&out, "  %d steps: %.4g s simulated, mean step %.4g s\n",
                          run.steps.size(), run.total_s, run.mean_step_s);
    double lo = 1e300, hi = 0;
    for (const StepRecord& r : run.steps) {
      if (r.failed) continue;
      lo = std::min(lo, r.step_time_s);
      hi = std::max(hi, r.step_time_s);
    }
    if (hi > lo * 1.0001) absl::StrAppendFormat(&out, "  step time ranges %.4g–%.4g s\n", lo, hi);
  }
  if (run.failure) {
    const FailureReport& f = *run.failure;
    absl::StrAppendFormat(&out, "  node %d fails in step %d: %.4g s lost (half a step + %s)\n",
                          f.node, f.step + 1, f.lost_s, "the collective timeout");
    if (f.error.empty()) {
      absl::StrAppendFormat(&out,
                            "  re-plan (%s) on %d of %d devices took %.3f s of planning; step "
                            "%.4g s -> %.4g s (%+.1f%%)\n",
                            partitioner::StrategyName(f.strategy), f.devices_after,
                            f.devices_before, f.replan_wall_s, f.step_time_before_s,
                            f.step_time_after_s,
                            100 * (f.step_time_after_s / f.step_time_before_s - 1));
    } else {
      absl::StrAppendFormat(&out, "  re-plan failed: %s\n", f.error);
    }
  }
  return out;
}

}  // namespace tangram::simulator
