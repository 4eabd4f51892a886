// The search space the strategies share, and a fast evaluator over it.
//
// Devices are grouped into *units* (tensor-parallel groups of tp devices inside one node) and
// units into *pools* (units of one kind, throughput, memory and island: interchangeable for the
// cost model). A GridLayout is an abstract plan: pp stages with shared layer boundaries and, per
// replica, the pool each of its stages runs on. Replicas with the same pool sequence form a class
// and are evaluated once, which is what makes searching 16,384-device fleets cheap.
//
// GridEvaluator predicts a layout's step time from the CostModel's own per-range pieces (compute,
// tensor-parallel and p2p communication, memory, allreduce), so a search ranks layouts as
// CostModel::Evaluate would; strategies evaluate their final plans with CostModel::Evaluate, which
// is exact. Materialize turns a layout into a concrete Plan (units taken from each pool in fleet
// order in the layout's UnitOrder, samples split by water-filling).
//
// Where a layout's units sit is part of the layout: with several units per node, a replica's
// stages on one node (pipeline sends inside the node, each stage's gradient allreduce across
// nodes) and a stage's replicas on one node (Megatron's and DeepSpeed's rank order: allreduce
// inside the node, sends across) cost differently — on AMP's 16 T4 cluster (PCIe, 50 GbE, fp32
// gradients) tp 1 pp 4 dp 4 is 1.70 s one way and 1.31 s the other. The evaluator charges each
// replica's p2p on the links its units actually use (SendTimes) and counts the nodes each stage's
// allreduce spans in that order.
//
// Thread-compatible; a GridEvaluator only reads its CostModel (its tables are built by the
// constructor and read-only afterwards).
#ifndef TANGRAM_PARTITIONER_GRID_H_
#define TANGRAM_PARTITIONER_GRID_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/cost_model.h"
#include "partitioner/plan.h"

namespace tangram::partitioner {

inline constexpr double kInfeasible = std::numeric_limits<double>::infinity();

struct Unit {
  int group = 0;
  int64_t node = 0;
  std::vector<int64_t> devices;  // tp devices of one node
};

struct Pool {
  int group = 0;  // a representative group (all of the pool's behave alike)
  std::string kind;
  int island = 0;
  int64_t nodes = 0;
  std::vector<Unit> units;  // in fleet order
  int64_t size() const { return static_cast<int64_t>(units.size()); }
};

// Pools of `tp`-device units. Groups whose devices_per_node tp does not divide contribute the
// units that fit (the rest of each node stays idle).
std::vector<Pool> BuildPools(const CostModel& cost, int tp);
// Tensor-parallel degrees worth trying: powers of two up to 8 that divide some node's size.
std::vector<int> TpCandidates(const CostModel& cost);

struct ReplicaClass {
  std::vector<int> pools;  // pool of each stage, length pp
  int64_t count = 1;       // replicas of this class
};

// A class's whole samples per replica: `extra` of its replicas take samples + 1, the rest samples.
struct WholeShare {
  int64_t samples = 1;
  int64_t extra = 0;
};

// The order in which a layout takes units from its pools (Materialize, and the links and node
// counts the evaluator charges).
enum class UnitOrder : int8_t {
  kReplicaMajor,  // replica by replica, each replica's stages in turn: a pipeline fills a node
  kStageMajor,    // stage by stage, each stage's replicas in turn (Megatron's rank order): a
                  // stage's data-parallel group fills a node
};
std::string_view UnitOrderName(UnitOrder order);

struct GridLayout {
  int tp = 1;
  UnitOrder order = UnitOrder::kReplicaMajor;
  int64_t micro_batch = 1;
  std::vector<int64_t> bounds;  // pp + 1 layer boundaries, bounds[0] = 0
  std::vector<ReplicaClass> classes;
  int pp() const { return static_cast<int>(bounds.size()) - 1; }
  int64_t dp() const;
};

class GridEvaluator {
 public:
  GridEvaluator(const CostModel& cost, int tp);

  const std::vector<Pool>& pools() const { return pools_; }
  const CostModel& cost() const { return cost_; }
  int tp() const { return tp_; }

  // One micro-batch through layers [begin, end) on a unit of `pool` at stage `s` of `pp`:
  // forward + backward + tp collectives. kInfeasible when the stage does not fit the pool's
  // memory with dp replicas and pp − s micro-batches in flight.
  double ComputeTime(int pool, int s, int pp, int64_t dp, int64_t begin, int64_t end,
                     int64_t micro_batch) const;
  // Per class and stage, one micro-batch's pipeline p2p over its v chunks (sends to both
  // neighbours, and around the wrap between the last and the first stage when the pinned layout
  // interleaves; with rendezvous p2p the receives too) of the class's replica that waits longest
  // at that stage,
  // on the links between the units `order` gives them (same node or not). Independent of the
  // stage boundaries.
  std::vector<std::vector<double>> SendTimes(const std::vector<ReplicaClass>& classes, int pp,
                                             UnitOrder order, int64_t micro_batch) const;
  // Whether the unit order can change `layout`'s cost: several stages and replicas, and a pool
  // of the layout with two units on one node.
  bool UnitOrderMatters(const GridLayout& layout) const;
  // A cell's time from its compute and its p2p: their sum, or with pipeline_p2p: overlapped the
  // larger (CostModel::Evaluate alike). kInfeasible stays so.
  double CellTime(double compute, double send) const;

  // Whether stage `s` of `pp`, layers [begin, end), splits into the pinned layout's virtual
  // stages (chunks.h; always with one): a plan with a stage that does not would be costed here
  // and then refused by the simulator.
  bool StageSplits(int s, int pp, int64_t begin, int64_t end) const;

  // Stage boundaries minimising max over stages and classes of weight[c] × cell time: exact
  // (dynamic programming over contiguous ranges, every stage non-empty and splitting into the
  // pinned virtual stages). Empty when no boundaries fit memory. `weights` default to 1.
  std::vector<int64_t> Balance(const std::vector<ReplicaClass>& classes, int pp,
                               int64_t micro_batch, const std::vector<double>& weights = {},
                               UnitOrder order = UnitOrder::kReplicaMajor) const;

  // Predicted step time of `layout` (kInfeasible when it does not fit or cannot give every
  // replica a sample), with whole samples per replica as Materialize assigns them; `samples`
  // (optional) receives each class's per-replica share (continuous, from water-filling), `whole`
  // (optional) the whole samples (water-filling's floors, then one sample at a time to the
  // replicas that finish earliest with it).
  double StepTime(const GridLayout& layout, std::vector<double>* samples = nullptr,
                  std::vector<WholeShare>* whole = nullptr) const;

  // Balance with weights refined by the water-filled shares (two rounds); fills layout->bounds.
  // Returns the step time, kInfeasible when nothing fits.
  double BalanceAndTime(GridLayout* layout) const;

 private:
  // Forward + backward time of one micro-batch (CostModel::Cell) for every pool and layer range,
  // tabulated once per micro-batch size the searches use (the job's and its halvings): the
  // dynamic program in Balance asks for the same ranges at every stage and for every layout.
  struct ComputeTable {
    int64_t micro_batch = 0;
    double boundary_bytes = 0;                 // CostModel::BoundaryBytes
    std::vector<std::vector<double>> seconds;  // [pool][begin × (L + 1) + end]
  };
  const ComputeTable* FindTable(int64_t micro_batch) const;

  const CostModel& cost_;
  int tp_;
  std::vector<Pool> pools_;
  // Pool × pool, between representative units on different nodes (`far`) and, within a pool,
  // on one node (`near`; the far figures when no node holds two of its units).
  std::vector<std::vector<double>> far_alpha_, far_gbs_;
  std::vector<double> near_alpha_, near_gbs_;
  std::vector<double> usable_bytes_;  // per pool, CostModel::UsableBytes
  std::vector<ComputeTable> tables_;
};

// Calls f(class, replica of the class, stage, pool, unit index in the pool) for every cell of a
// layout in `order`, taking each pool's units in fleet order; false (stopping) when a pool runs
// out of units.
template <typename F>
bool ForEachCell(const std::vector<Pool>& pools, const std::vector<ReplicaClass>& classes, int pp,
                 UnitOrder order, F f) {
  std::vector<size_t> next(pools.size(), 0);
  auto take = [&](size_t c, int64_t k, int s) {
    const int p = classes[c].pools[s];
    if (next[p] >= pools[p].units.size()) return false;
    f(c, k, s, p, next[p]++);
    return true;
  };
  if (order == UnitOrder::kReplicaMajor) {
    for (size_t c = 0; c < classes.size(); ++c) {
      for (int64_t k = 0; k < classes[c].count; ++k) {
        for (int s = 0; s < pp; ++s) {
          if (!take(c, k, s)) return false;
        }
      }
    }
  } else {
    for (int s = 0; s < pp; ++s) {
      for (size_t c = 0; c < classes.size(); ++c) {
        for (int64_t k = 0; k < classes[c].count; ++k) {
          if (!take(c, k, s)) return false;
        }
      }
    }
  }
  return true;
}

// A concrete plan from `layout`: units from each pool in fleet order, each class's share rounded
// to whole samples (largest remainder, ≥ 1 each) summing to the global batch. Not yet evaluated.
absl::StatusOr<Plan> Materialize(const GridEvaluator& grid, const GridLayout& layout,
                                 const std::vector<double>& samples, StrategyKind strategy);

// The same with whole samples per class (StepTime's `whole`).
absl::StatusOr<Plan> Materialize(const GridEvaluator& grid, const GridLayout& layout,
                                 const std::vector<WholeShare>& whole, StrategyKind strategy);

// Materializes (with StepTime's whole samples) and evaluates (CostModel::Evaluate).
absl::StatusOr<Plan> MaterializeAndEvaluate(const GridEvaluator& grid, const GridLayout& layout,
                                            StrategyKind strategy);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_GRID_H_
