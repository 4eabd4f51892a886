// uniform: the layout users get today from Megatron-LM or DeepSpeed's "uniform" partitioning.
//
// Equal decoder blocks per stage (the embedding rides with the first, the head with the last),
// equal samples per replica, ranks in Megatron's order (tensor-parallel fastest, then data, then
// pipeline), so on a mixed fleet every replica runs at the pace of its slowest device. tp and pp
// are the job's pinned values or, as a user would pick them, the smallest tp (1, 2, 4, 8 within a
// node) and then the smallest pp dividing the device count whose equal split fits every device's
// memory. The baseline every other strategy is measured against. A pinned tp per stage
// (layout.stage_tp) is built here for every strategy (PinnedStageTpPlans).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "partitioner/strategy.h"

namespace tangram::partitioner {
namespace {

class UniformStrategy : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kUniform; }
  std::string_view description() const override {
    return "equal layers per stage, equal batch per replica (Megatron-LM / DeepSpeed baseline)";
  }

  absl::StatusOr<std::vector<Plan>> Generate(const CostModel& cost,
                                             const StrategyOptions&) const override {
    const TrainingSpec& t = cost.training();
    if (!t.layout.stage_tp.empty()) return PinnedStageTpPlans(cost, name());
    absl::Status last = absl::FailedPreconditionError("no pipeline depth divides the fleet");
    // Uniform uses every device: a pinned tp × pp × dp that does not is refused as such (the
    // search below would only report that no depth divides the fleet).
    const int64_t devices = static_cast<int64_t>(cost.slots().size());
    const int64_t pinned = t.layout.tp && t.layout.pp && t.layout.dp
                               ? int64_t{*t.layout.tp} * *t.layout.pp * *t.layout.dp
                               : devices;
    if (pinned != devices) {
      return absl::FailedPreconditionError(
          absl::StrCat("layout {tp: ", *t.layout.tp, ", pp: ", *t.layout.pp, ", dp: ", *t.layout.dp,
                       "} uses ", pinned, " devices, the fleet has ", devices,
                       ": uniform uses every device (pin a layout whose product is ", devices,
                       ", or let auto leave devices idle)"));
    }
    for (int tp : {1, 2, 4, 8}) {
      if (t.layout.tp && *t.layout.tp != tp) continue;
      bool fits_nodes = true;
      for (const NodeGroup& g : cost.fleet().groups) fits_nodes &= g.devices_per_node % tp == 0;
      if (!fits_nodes) {
        if (t.layout.tp) {
          return absl::InvalidArgumentError(
              absl::StrCat("tp ", tp, " does not divide the devices of every node"));
        }
        continue;
      }
      const int64_t units = static_cast<int64_t>(cost.slots().size()) / tp;
      const int64_t blocks = cost.model().layers;
      for (int64_t pp = 1; pp <= std::min(units, blocks); ++pp) {
        if (units % pp != 0) continue;
        if (t.layout.pp && *t.layout.pp != pp) continue;
        if (t.layout.dp && *t.layout.dp != units / pp) continue;
        absl::StatusOr<Plan> plan =
            Build(cost, std::vector<int>(static_cast<size_t>(pp), tp), "uniform");
        // Too many pinned virtual stages for this depth's stages: a deeper one will not do.
        if (plan.ok()) {
          if (absl::Status chunks = CheckPlanChunks(cost, *plan); !chunks.ok()) {
            last = absl::FailedPreconditionError(absl::StrCat("uniform: ", chunks.message()));
            break;
          }
        }
        if (plan.ok()) return std::vector<Plan>{std::move(*plan)};
        last = plan.status();
        if (last.code() != absl::StatusCode::kFailedPrecondition) return last;
      }
    }
    return last;
  }

  // Equal decoder blocks per stage, equal samples per replica, stage s in cells of tps[s]
  // devices: Megatron's order (tensor-parallel fastest, then data, then pipeline), stage s taking
  // the dp·tps[s] devices after those of the stages before it.
  static absl::StatusOr<Plan> Build(const CostModel& cost, const std::vector<int>& tps,
                                    std::string_view strategy) {
    const TrainingSpec& t = cost.training();
    const int pp = static_cast<int>(tps.size());
    int64_t sum_tp = 0;
    for (int tp : tps) sum_tp += tp;
    const int dp = static_cast<int>(static_cast<int64_t>(cost.slots().size()) / sum_tp);
    const bool unequal = std::count(tps.begin(), tps.end(), tps[0]) != pp;
    if (t.global_batch < dp) {
      return absl::FailedPreconditionError(
          absl::StrCat(std::string(strategy), ": the global batch (", t.global_batch,
                       ") is smaller than the ", dp, " data-parallel replicas"));
    }
    const int64_t blocks = cost.model().layers;
    const int64_t per_block = (cost.num_layers() - 2) / blocks;  // 1, or 2 for half-blocks
    Plan plan;
    plan.strategy = StrategyKind::kUniform;
    plan.fleet = cost.fleet().name;
    plan.model = cost.model().name;
    plan.tp = *std::max_element(tps.begin(), tps.end());
    plan.pp = pp;
    plan.dp = dp;
    plan.global_batch = t.global_batch;
    plan.seq_len = cost.model().seq_len;
    plan.zero_stage = t.zero_stage;
    plan.precision = t.precision;
    plan.recompute = t.recompute;
    for (const Layer& l : cost.layers()) plan.layer_names.push_back(l.name);
    // Decoder blocks go evenly over the stages, the embedding with the first and the head with
    // the last; with layout.chunk_split all_layers the embedding and the head count as a block
    // each (Megatron-LM's account_for_embedding/loss_in_pipeline_split).
    const bool all_layers = t.layout.chunk_split == ChunkSplit::kAllLayers;
    const int64_t units = blocks + (all_layers ? 2 : 0);
    const auto layer_of = [&](int64_t u) -> int64_t {  // first layer of unit u
      if (!all_layers) return u == 0 ? 0 : u == blocks ? cost.num_layers() : 1 + u * per_block;
      return u == 0 ? 0 : u == units ? cost.num_layers() : 1 + (u - 1) * per_block;
    };
    int64_t unit = 0;
    int64_t stage_first = 0;  // the first device of stage s
    for (int s = 0; s < pp; ++s) {
      const int tp = tps[s];
      PlanStage stage;
      stage.index = s;
      if (unequal) stage.tp = tp;
      const int64_t take = units / pp + (s < units % pp ? 1 : 0);
      stage.layer_begin = layer_of(unit);
      unit += take;
      stage.layer_end = layer_of(unit);
      for (int r = 0; r < dp; ++r) {
        PlanCell cell;
        cell.replica = r;
        const int64_t first = stage_first + static_cast<int64_t>(r) * tp;  // Megatron rank order
        for (int k = 0; k < tp; ++k) cell.devices.push_back(first + k);
        stage.cells.push_back(cell);
      }
      plan.stages.push_back(std::move(stage));
      stage_first += static_cast<int64_t>(dp) * tp;
    }
    for (int r = 0; r < dp; ++r) {
      PlanReplica rep;
      rep.index = r;
      rep.samples = t.global_batch / dp + (r < t.global_batch % dp ? 1 : 0);
      rep.micro_batch_size = std::min(t.micro_batch, rep.samples);
      rep.micro_batches = (rep.samples + rep.micro_batch_size - 1) / rep.micro_batch_size;
      plan.replicas.push_back(rep);
    }
    TANGRAM_RETURN_IF_ERROR(cost.Evaluate(&plan));
    return plan;
  }
};

}  // namespace

absl::StatusOr<std::vector<Plan>> PinnedStageTpPlans(const CostModel& cost,
                                                     std::string_view strategy) {
  const PinnedLayout& pin = cost.training().layout;
  const std::vector<int>& tps = pin.stage_tp;
  auto bad = [](auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (tps.empty()) return bad("layout.tp: no per-stage list");
  const int pp = static_cast<int>(tps.size());
  if (pin.pp && *pin.pp != pp) {
    return bad("layout.tp lists ", pp, " stages, layout.pp is ", *pin.pp);
  }
  int64_t sum_tp = 0;
  for (int tp : tps) {
    if (tp < 1) return bad("layout.tp: a stage's tp must be >= 1 (got ", tp, ")");
    sum_tp += tp;
  }
  const int64_t devices = static_cast<int64_t>(cost.slots().size());
  const int64_t dp = pin.dp ? *pin.dp : devices / sum_tp;
  if (dp < 1 || dp * sum_tp != devices) {
    return bad("layout.tp: dp ", dp, " × (Σ stage tp = ", sum_tp, ") = ", dp * sum_tp,
               " devices, but the fleet has ", devices);
  }
  // Each stage's cells must sit inside nodes whose device count the stage's tp divides.
  int64_t first = 0;
  for (int s = 0; s < pp; ++s) {
    for (int64_t d = first; d < first + dp * tps[s]; ++d) {
      const NodeGroup& h = cost.fleet().groups[cost.slots()[d].group];
      if (h.devices_per_node % tps[s] != 0) {
        return bad("layout.tp: stage ", s, " has tp ", tps[s], " on ", h.device.kind, " nodes of ",
                   h.devices_per_node, " devices (it must divide them)");
      }
    }
    first += dp * tps[s];
  }
  TANGRAM_ASSIGN_OR_RETURN(Plan plan, UniformStrategy::Build(cost, tps, strategy));
  // The plan carries the strategy that was asked for, built as uniform builds it.
  if (absl::StatusOr<StrategyKind> kind = ParseStrategy(strategy); kind.ok()) plan.strategy = *kind;
  if (strategy != "uniform") {
    plan.notes.push_back(absl::StrCat("layout: tp per stage pinned; ", std::string(strategy),
                                      " has nothing to search, layers and batch split as uniform"));
  }
  return std::vector<Plan>{std::move(plan)};
}

std::unique_ptr<Strategy> NewUniformStrategy() { return std::make_unique<UniformStrategy>(); }

}  // namespace tangram::partitioner
