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
// order, samples split by water-filling).
//
// Thread-compatible; a GridEvaluator only reads its CostModel (its tables are built by the
// constructor and read-only afterwards).
#ifndef TANGRAM_PARTITIONER_GRID_H_
#define TANGRAM_PARTITIONER_GRID_H_

#include <cstdint>
#include <limits>
#include <string>
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

struct GridLayout {
  int tp = 1;
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

  // One micro-batch through layers [begin, end) on a unit of `pool` at stage `s` of `pp`
  // (neighbour pools -1 when none): forward + backward + tp collectives + p2p. kInfeasible when
  // the stage does not fit the pool's memory with dp replicas and pp − s micro-batches in flight.
  double CellTime(int pool, int prev_pool, int next_pool, int s, int pp, int64_t dp, int64_t begin,
                  int64_t end, int64_t micro_batch) const;

  // Stage boundaries minimising max over stages and classes of weight[c] × CellTime: exact
  // (dynamic programming over contiguous ranges, every stage non-empty). Empty when no
  // boundaries fit memory. `weights` default to 1.
  std::vector<int64_t> Balance(const std::vector<ReplicaClass>& classes, int pp,
                               int64_t micro_batch, const std::vector<double>& weights = {}) const;

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
  std::vector<std::vector<double>> link_alpha_, link_gbs_;  // pool × pool, representative units
  std::vector<double> usable_bytes_;                        // per pool, CostModel::UsableBytes
  std::vector<ComputeTable> tables_;
};

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
