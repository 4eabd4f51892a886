// proportional: data parallelism only. Every device holds the whole model (ZeRO shards what the
// job's stage allows) and trains a share of the global batch proportional to its throughput, so a
// device twice as fast takes twice the samples and all finish together. Fails, saying by how much,
// when the model does not fit a device, or when the batch has fewer samples than the fleet has
// devices (a replica may never be empty).
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "partitioner/grid.h"
#include "partitioner/strategy.h"

namespace tangram::partitioner {
namespace {

class ProportionalStrategy : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kProportional; }
  std::string_view description() const override {
    return "data parallel only; each device's batch share proportional to its throughput";
  }

  absl::StatusOr<std::vector<Plan>> Generate(const CostModel& cost,
                                             const StrategyOptions&) const override {
    if (!cost.training().layout.stage_tp.empty()) return PinnedStageTpPlans(cost, name());
    const PinnedLayout& pin = cost.training().layout;
    if ((pin.tp && *pin.tp != 1) || (pin.pp && *pin.pp != 1)) {
      return absl::InvalidArgumentError("proportional is data parallel only: it needs tp = pp = 1");
    }
    const int64_t devices = static_cast<int64_t>(cost.slots().size());
    // Every device is one replica here: a pinned dp that is not the device count is another
    // layout (auto, which tries this as a candidate, must not return it for that pin).
    if (pin.dp && *pin.dp != devices) {
      return absl::InvalidArgumentError(
          absl::StrCat("proportional makes every device a replica (dp = ", devices,
                       "); layout.dp is ", *pin.dp));
    }
    if (cost.training().global_batch < devices) {
      return absl::FailedPreconditionError(absl::StrCat(
          "proportional: the global batch (", cost.training().global_batch,
          ") is smaller than the ", devices,
          " devices, each of which needs at least one sample; raise the batch or use auto"));
    }
    GridEvaluator grid(cost, 1);
    GridLayout layout;
    layout.tp = 1;
    layout.micro_batch = cost.training().micro_batch;
    layout.bounds = {0, cost.num_layers()};
    for (size_t p = 0; p < grid.pools().size(); ++p) {
      layout.classes.push_back({{static_cast<int>(p)}, grid.pools()[p].size()});
    }
    // Shares ∝ throughput (not water-filled: that is what makes this the proportional baseline).
    std::vector<double> shares;
    double total = cost.SummedTflops();
    for (const ReplicaClass& c : layout.classes) {
      shares.push_back(cost.training().global_batch *
                       cost.GroupTflops(grid.pools()[c.pools[0]].group) / total);
    }
    TANGRAM_ASSIGN_OR_RETURN(Plan plan, Materialize(grid, layout, shares, kind()));
    TANGRAM_RETURN_IF_ERROR(cost.Evaluate(&plan));
    return std::vector<Plan>{std::move(plan)};
  }
};

}  // namespace

std::unique_ptr<Strategy> NewProportionalStrategy() {
  return std::make_unique<ProportionalStrategy>();
}

}  // namespace tangram::partitioner
