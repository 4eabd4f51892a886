#include "orchestrator/cli/plan_text.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/format.h"
#include "orchestrator/cli/cli_util.h"

namespace tangram::orchestrator {
namespace {

using partitioner::Plan;

std::string Percent(double x) { return absl::StrFormat("%.1f%%", 100 * x); }

}  // namespace

std::string FormatPlan(const Plan& plan, const partitioner::CostModel& cost) {
  std::ostringstream out;
  out << absl::StrFormat(
      "Plan (%s): fleet %s (%d devices), model %s, global batch %d x %d tokens, %s, ZeRO-%d, "
      "%s recompute\n",
      partitioner::StrategyName(plan.strategy), plan.fleet, cost.slots().size(), plan.model,
      plan.global_batch, plan.seq_len, partitioner::PrecisionName(plan.precision), plan.zero_stage,
      partitioner::RecomputeName(plan.recompute));
  out << absl::StrFormat(
      "  tp %s, pp %d, dp %d%s\n", partitioner::TpText(plan), plan.pp, plan.dp,
      plan.virtual_stages > 1
          ? absl::StrFormat(", interleaved 1F1B over %d virtual stages", plan.virtual_stages)
          : std::string());
  Table stages({"stage", "layers", "first..last", "devices", "kinds", "memory GiB (fullest)",
                "capacity GiB", "fwd+bwd s/mb", "allreduce s"});
  for (const partitioner::PlanStage& s : plan.stages) {
    std::map<std::string, int> kinds;
    double memory = 0, capacity = 1e30, time = 0;
    size_t devices = 0;
    for (const partitioner::PlanCell& c : s.cells) {
      kinds[c.kind] += static_cast<int>(c.devices.size());
      devices += c.devices.size();
      // The cell nearest its capacity: on a stage of mixed kinds the smaller device's, which
      // the largest memory figure (often the larger device's) would hide.
      const double fill = c.capacity_gib > 0 ? c.memory_gib / c.capacity_gib : 0;
      if (memory == 0 || fill > memory / capacity) {
        memory = c.memory_gib;
        capacity = c.capacity_gib;
      }
      time = std::max(time, c.forward_s + c.backward_s);
    }
    std::string kind_text;
    for (const auto& [k, n] : kinds) {
      absl::StrAppend(&kind_text, kind_text.empty() ? "" : ", ", k, "×", n);  // devices
    }
    std::string first =
        devices > 0 && s.cells.size() == 1
            ? absl::StrCat(s.cells[0].devices.front(), "-", s.cells[0].devices.back())
            : std::to_string(devices);
    stages.AddRow(
        {std::to_string(s.index), absl::StrCat(s.layer_begin, "-", s.layer_end - 1),
         absl::StrCat(plan.layer_names[s.layer_begin], "..", plan.layer_names[s.layer_end - 1]),
         first, kind_text, Fixed(memory, 1), Fixed(capacity, 1), Fixed(time, 3),
         Fixed(s.allreduce_s, 3)});
  }
  out << stages.Render();
  // Replica batch shares, grouped by the kinds of their stages.
  std::map<std::string, std::vector<int64_t>> shares;
  for (const partitioner::PlanReplica& r : plan.replicas) {
    std::vector<std::string> kinds;
    for (const partitioner::PlanStage& s : plan.stages) kinds.push_back(s.cells[r.index].kind);
    shares[JoinDistinct(kinds, "+")].push_back(r.samples);
  }
  Table replicas({"replicas on", "count", "samples each", "micro-batch"});
  for (const auto& [kinds, s] : shares) {
    auto [lo, hi] = std::minmax_element(s.begin(), s.end());
    replicas.AddRow({kinds, std::to_string(s.size()),
                     *lo == *hi ? std::to_string(*lo) : absl::StrCat(*lo, "-", *hi),
                     std::to_string(plan.replicas[0].micro_batch_size)});
  }
  out << replicas.Render();
  const partitioner::Prediction& p = plan.predicted;
  out << absl::StrFormat(
      "  predicted: step %.3f s, %s tokens/s, MFU %s, %s TFLOP/s per device\n"
      "             (pipeline %.3f s of which bubble %.3f s; exposed allreduce %.3f s; optimizer "
      "%.3f s)\n",
      p.step_time_s, Human(p.tokens_per_s), Percent(p.mfu), RateText(p.tflops_per_device, 1),
      p.pipeline_s, p.bubble_s, p.exposed_allreduce_s, p.optimizer_s);
  out << absl::StrFormat(
      "  bound: %.3f s (model FLOPs per step / the fleet's summed %s TFLOP/s); efficiency %s\n",
      plan.bound_step_time_s, RateText(cost.SummedTflops(), 0), Percent(plan.efficiency));
  out << "  bottleneck: " << p.bottleneck << "\n";
  for (const std::string& note : plan.notes) out << "  note: " << note << "\n";
  return out.str();
}

}  // namespace tangram::orchestrator
