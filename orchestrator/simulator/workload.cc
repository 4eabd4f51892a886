#include "orchestrator/simulator/workload.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "orchestrator/islands_cost.h"
#include "partitioner/chunks.h"

namespace tangram::simulator::internal {
namespace {

using partitioner::AllreduceGroup;
using partitioner::CostModel;
using partitioner::Plan;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

}  // namespace

double AllreduceSeconds(const CostModel& cost, const AllreduceGroup& group, double bytes,
                        partitioner::AllreduceAlgorithm algo,
                        partitioner::AllreduceAlgorithm* chosen) {
  // A group that spans islands runs the composed islands allreduce at run time
  // (collectives/islands/); unless a flat ring is pinned, cost it by the same function that
  // chooses its cross-island algorithm, so the simulator and the runtime run one algorithm.
  const bool multi_island = group.parts.size() > 1;
  if (!multi_island || group.size() <= 1 || bytes <= 0 ||
      algo == partitioner::AllreduceAlgorithm::kRing) {
    return cost.comm().AllreduceTime(group, bytes, algo, chosen);
  }
  if (chosen != nullptr) *chosen = partitioner::AllreduceAlgorithm::kHierarchical;
  return orchestrator::IslandsAllreduceSeconds(group, bytes, cost.fleet().network);
}

namespace {

// The schedule the options name, checked against the plan; `chunks` receives the model chunks
// per rank.
absl::StatusOr<std::unique_ptr<Schedule>> CheckedSchedule(const CostModel& cost, const Plan& plan,
                                                          const SimOptions& options, int* chunks) {
  const auto& slots = cost.slots();
  TANGRAM_RETURN_IF_ERROR(
      partitioner::ValidatePlan(plan, static_cast<int64_t>(slots.size()), cost.num_layers()));
  if (!options.device_slowdown.empty() && options.device_slowdown.size() != slots.size()) {
    return absl::InvalidArgumentError("device_slowdown needs one entry per fleet device");
  }
  if (!(options.bucket_mib > 0) || options.max_buckets < 1) {
    return absl::InvalidArgumentError("bucket_mib must be > 0 and max_buckets >= 1");
  }
  std::unique_ptr<Schedule> schedule = CreateSchedule(options.schedule);
  *chunks = options.virtual_stages;
  if (*chunks < 1) return absl::InvalidArgumentError("virtual_stages must be >= 1");
  if (*chunks > 1 && !schedule->interleaved()) {
    return absl::InvalidArgumentError(
        absl::StrCat("virtual_stages = ", *chunks, " needs the interleaved schedule"));
  }
  if (schedule->interleaved() && plan.pp < 2) {
    return absl::FailedPreconditionError("the interleaved schedule needs at least 2 stages");
  }
  if (schedule->interleaved() && *chunks == 1) {
    schedule = CreateSchedule(partitioner::PipelineSchedule::kOneFOneB);  // Megatron-LM's then
  }
  return schedule;
}

// The plan's first device of stage s, replica r: it stands for its tensor-parallel cell.
int64_t FirstDevice(const Plan& plan, int s, int r) { return plan.stages[s].cells[r].devices[0]; }
int GroupOf(const CostModel& cost, const Plan& plan, int s, int r) {
  return cost.slots()[FirstDevice(plan, s, r)].group;
}

// result->cells: stage, replica, devices, kind, capacity and the slowest device's slowdown.
void LabelCells(const CostModel& cost, const Plan& plan, const SimOptions& options,
                StepResult* result) {
  const int pp = plan.pp, dp = plan.dp;
  result->cells.assign(static_cast<size_t>(pp) * dp, CellResult{});
  for (int s = 0; s < pp; ++s) {
    for (int r = 0; r < dp; ++r) {
      CellResult& cr = result->cells[s * dp + r];
      cr.stage = s;
      cr.replica = r;
      cr.devices = plan.stages[s].cells[r].devices;
      cr.kind = cost.fleet().groups[GroupOf(cost, plan, s, r)].device.kind;
      cr.capacity_gib = cost.CapacityBytes(GroupOf(cost, plan, s, r)) / kGiB;
      for (int64_t d : cr.devices) {
        if (!options.device_slowdown.empty()) {
          cr.slowdown = std::max(cr.slowdown, options.device_slowdown[d]);
        }
      }
    }
  }
}

// ZeRO-3: each chunk gathers its parameters over its stage's data-parallel group in the forward
// and again in the backward of every micro-batch (CostModel::ParameterGatherTime); the same for
// every replica, so computed once per virtual stage. Zero otherwise.
std::vector<double> ParameterGathers(const CostModel& cost, const Plan& plan, int chunks,
                                     const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  const int pp = plan.pp, dp = plan.dp;
  std::vector<double> gathered(static_cast<size_t>(pp) * chunks, 0.0);
  if (cost.training().zero_stage != 3 || dp <= 1) return gathered;
  std::vector<int64_t> stage_members(dp);
  for (int k = 0; k < pp * chunks; ++k) {
    for (int q = 0; q < dp; ++q) stage_members[q] = FirstDevice(plan, k % pp, q);
    gathered[k] = cost.ParameterGatherTime(cost.SummarizeGroup(stage_members),
                                           partitioner::StageTp(plan, k % pp), ranges[k].first,
                                           ranges[k].second);
  }
  return gathered;
}

// ZeRO-2: per stage, the parameter allgather over its data-parallel group that follows the
// optimizer step (CostModel::ParameterGatherAfterStepTime); zero otherwise.
std::vector<double> GathersAfterStep(const CostModel& cost, const Plan& plan) {
  std::vector<double> after(plan.pp, 0.0);
  if (cost.training().zero_stage != 2 || plan.dp <= 1) return after;
  std::vector<int64_t> members(plan.dp);
  for (int s = 0; s < plan.pp; ++s) {
    for (int r = 0; r < plan.dp; ++r) members[r] = FirstDevice(plan, s, r);
    after[s] = cost.ParameterGatherAfterStepTime(
        cost.SummarizeGroup(members), partitioner::StageTp(plan, s), plan.stages[s].layer_begin,
        plan.stages[s].layer_end);
  }
  return after;
}

// Replica r's micro-batches and, per virtual stage, its pass times (compute × slowdown + tensor-
// parallel collectives + ZeRO-3 gathers), activation bytes and the links to its neighbours. With
// `nics_shared` the engine shares each node's NICs among the sends that run at once (cell_nic),
// so a send's rate is the NIC's alone (FlowGbs), not the static share that assumes every device
// of the node sends at once (LinkGbs).
ReplicaWork ReplicaStages(const CostModel& cost, const Plan& plan, int r, int chunks,
                          const std::vector<std::pair<int64_t, int64_t>>& ranges,
                          const std::vector<double>& gathered, const StepResult& result,
                          bool nics_shared) {
  const auto& slots = cost.slots();
  const int pp = plan.pp, dp = plan.dp;
  const partitioner::PlanReplica& rep = plan.replicas[r];
  const double b = static_cast<double>(rep.micro_batch_size);
  ReplicaWork rw;
  const int64_t m = (rep.samples + rep.micro_batch_size - 1) / rep.micro_batch_size;
  rw.micro_batches = static_cast<int32_t>(m);
  rw.last_fraction = static_cast<double>(rep.samples - (m - 1) * rep.micro_batch_size) / b;
  const int total = pp * chunks;
  rw.stages.resize(total);
  for (int k = 0; k < total; ++k) {
    const int s = k % pp;
    const int tp = partitioner::StageTp(plan, s);  // a pinned layout may give each stage its own
    const auto [lb, le] = ranges[k];
    const int g = GroupOf(cost, plan, s, r);
    const double slow = result.cells[s * dp + r].slowdown;
    const double tpc = cost.TpCommTime(g, tp, lb, le, b);
    VirtualStage& vs = rw.stages[k];
    vs.cell = s * dp + r;
    vs.tp_forward_s = tpc / 3;
    vs.tp_backward_s = tpc * 2 / 3;
    vs.forward_s = cost.ForwardTime(g, tp, lb, le, b) * slow + vs.tp_forward_s + gathered[k];
    vs.backward_s = cost.BackwardTime(g, tp, lb, le, b) * slow + vs.tp_backward_s + gathered[k];
    vs.activation_bytes = cost.StageMemory(tp, dp, lb, le, 1, b).activations -
                          cost.StageMemory(tp, dp, lb, le, 0, b).activations;
    auto link = [&](int other, double* alpha, double* beta, PortClass* port,
                    partitioner::TokenBucket* bucket) {
      const int64_t a = FirstDevice(plan, s, r), o = FirstDevice(plan, other % pp, r);
      // Resharded between stages of different tp: the smaller side's share (BoundaryBytes).
      const double bytes =
          cost.BoundaryBytes(std::min(tp, partitioner::StageTp(plan, other % pp)), b);
      *alpha = cost.LinkLatency(a, o);
      *beta = bytes / ((nics_shared ? cost.FlowGbs(a, o) : cost.LinkGbs(a, o)) * 1e9);
      *port = slots[a].node == slots[o].node ? kNvlink : kNetwork;
      *bucket = nics_shared ? cost.FlowBucket(a, o) : cost.LinkBucket(a, o);
    };
    if (k + 1 < total) {
      link(k + 1, &vs.send_alpha_s, &vs.send_beta_s, &vs.next_port, &vs.next_bucket);
    }
    if (k > 0) link(k - 1, &vs.prev_alpha_s, &vs.prev_beta_s, &vs.prev_port, &vs.prev_bucket);
  }
  return rw;
}

// Per stage: the data-parallel row's members, port, bucket count and per-bucket allreduce time of
// each chunk; result->allreduce_algorithm names the algorithm of the stage with most gradients.
std::vector<RowWork> GradientRows(const CostModel& cost, const Plan& plan, int chunks,
                                  const std::vector<std::pair<int64_t, int64_t>>& ranges,
                                  const SimOptions& options, StepResult* result) {
  const int pp = plan.pp, dp = plan.dp;
  std::vector<RowWork> rows(pp);
  std::vector<int64_t> members(dp);
  double largest = -1;
  for (int s = 0; s < pp; ++s) {
    RowWork& row = rows[s];
    const int tp = partitioner::StageTp(plan, s);
    for (int r = 0; r < dp; ++r) {
      members[r] = FirstDevice(plan, s, r);
      row.cells.push_back(s * dp + r);
    }
    const partitioner::AllreduceGroup group = cost.SummarizeGroup(members);
    row.port = group.parts.size() == 1 && group.parts[0].nodes == 1 ? kNvlink : kNetwork;
    std::vector<double> bytes(chunks);
    double most = 0;
    for (int c = 0; c < chunks; ++c) {
      const auto [lb, le] = ranges[c * pp + s];
      bytes[c] = dp > 1 ? cost.GradientAllreduceBytes(tp, lb, le) : 0;
      most = std::max(most, bytes[c]);
    }
    row.buckets = static_cast<int32_t>(
        partitioner::GradientBuckets(most, options.bucket_mib, options.max_buckets));
    row.bucket_s.resize(chunks);
    partitioner::AllreduceAlgorithm algorithm = partitioner::AllreduceAlgorithm::kNone;
    for (int c = 0; c < chunks; ++c) {
      row.bucket_s[c] =
          AllreduceSeconds(cost, group, bytes[c] / row.buckets, options.allreduce, &algorithm);
    }
    if (most > largest) {
      largest = most;
      result->allreduce_algorithm = dp > 1 ? algorithm : partitioner::AllreduceAlgorithm::kNone;
    }
  }
  return rows;
}

// Per cell, the first cell of the NIC it sends through (Workload::cell_nic): a node's cells are
// dealt in cell order to as many NICs as the probe measured (NetworkSpec::measured_nics). Empty
// when that was not measured or no two cells share one: every cell its own ports. Catalog fleets
// keep them: dealing the cells of the AMP paper's nodes (4 GPUs, nics_per_node 1) to one NIC put
// its medians from 12.2 to 15.7 % (measured layer times) and 20.2 to 24.7 % (measured compute)
// (tests/simulator/mixed_fleet_fidelity_test.cc, session 18): the catalog's NIC figures do not
// say how such a node's sends share it.
std::vector<int32_t> CellNics(const CostModel& cost, const Plan& plan) {
  const int pp = plan.pp, dp = plan.dp;
  const int nics = cost.fleet().network.measured_nics;
  if (nics < 1) return {};
  std::vector<int32_t> out(static_cast<size_t>(pp) * dp);
  std::map<int64_t, int> dealt;                      // node -> its cells so far
  std::map<std::pair<int64_t, int>, int32_t> first;  // (node, nic) -> its first cell
  bool shared = false;
  for (int32_t c = 0; c < pp * dp; ++c) {
    const int64_t node = cost.slots()[FirstDevice(plan, c / dp, c % dp)].node;
    auto [it, fresh] = first.emplace(std::make_pair(node, dealt[node]++ % nics), c);
    out[c] = it->second;
    shared = shared || !fresh;
  }
  if (!shared) out.clear();
  return out;
}

// The token buckets of the links a pipeline's sends take, on the sender's egress and the
// receiver's ingress (a shaper on each host's NIC); empty when no link has one.
std::vector<PortBucket> PortBuckets(const Workload& w) {
  std::vector<PortBucket> out;
  const std::vector<ReplicaWork>& replicas = w.replicas;
  auto put = [&](int32_t from, int32_t to, const partitioner::TokenBucket& b) {
    if (!b.active()) return;
    if (out.empty()) out.resize(4 * w.cells.size());
    // A port's first link sets it: a host's NIC has one shaper, whatever the destination.
    for (int32_t port : {PortIndex(NetworkOwner(w, from, kNetwork), kNetwork, 0),
                         PortIndex(NetworkOwner(w, to, kNetwork), kNetwork, 1)}) {
      if (out[port].capacity_s > 0) continue;
      out[port].capacity_s = b.burst_bytes / (b.gbs * 1e9);
      out[port].speedup = b.peak_gbs / b.gbs;
    }
  };
  for (const ReplicaWork& rep : replicas) {
    for (size_t k = 0; k < rep.stages.size(); ++k) {
      const VirtualStage& vs = rep.stages[k];
      if (k + 1 < rep.stages.size() && vs.next_port == kNetwork) {
        put(vs.cell, rep.stages[k + 1].cell, vs.next_bucket);
      }
      if (k > 0 && vs.prev_port == kNetwork) put(vs.cell, rep.stages[k - 1].cell, vs.prev_bucket);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<Workload> BuildWorkload(const CostModel& cost, const Plan& plan,
                                       const SimOptions& options, StepResult* result) {
  int chunks = 1;
  TANGRAM_ASSIGN_OR_RETURN(auto schedule, CheckedSchedule(cost, plan, options, &chunks));
  TANGRAM_ASSIGN_OR_RETURN(
      auto ranges, partitioner::ChunkRanges(plan, chunks, cost.training().layout.chunk_split));

  const int pp = plan.pp, dp = plan.dp;
  Workload w;
  w.pp = pp;
  w.dp = dp;
  w.chunks = chunks;
  w.overlap_grad_reduce = cost.training().overlap_grad_reduce;
  w.rendezvous_p2p = cost.training().pipeline_p2p == partitioner::PipelineP2p::kRendezvous;
  w.cells.resize(static_cast<size_t>(pp) * dp);
  LabelCells(cost, plan, options, result);

  const std::vector<double> gathered = ParameterGathers(cost, plan, chunks, ranges);
  // Dealt to the NICs the probe measured; the engine shares those ports only with contention on.
  w.cell_nic = CellNics(cost, plan);
  const bool nics_shared = options.contention && !w.cell_nic.empty();
  w.replicas.reserve(dp);
  for (int r = 0; r < dp; ++r) {
    w.replicas.push_back(
        ReplicaStages(cost, plan, r, chunks, ranges, gathered, *result, nics_shared));
  }

  // The optimizer step, then (ZeRO-2) the parameter allgather that follows it; drawn as one op.
  const std::vector<double> after_step = GathersAfterStep(cost, plan);
  for (int s = 0; s < pp; ++s) {
    const partitioner::PlanStage& st = plan.stages[s];
    for (int r = 0; r < dp; ++r) {
      CellWork& cw = w.cells[s * dp + r];
      cw.stage = s;
      cw.replica = r;
      const double b = static_cast<double>(plan.replicas[r].micro_batch_size);
      cw.optimizer_s = cost.OptimizerTime(GroupOf(cost, plan, s, r),
                                          cost.StageMemory(partitioner::StageTp(plan, s), dp,
                                                           st.layer_begin, st.layer_end, 0, b)) +
                       after_step[s];
      cw.ops.reserve(2 * static_cast<size_t>(chunks) * w.replicas[r].micro_batches);
      schedule->Order(s, pp, w.replicas[r].micro_batches, chunks, &cw.ops);
    }
  }

  w.rows = GradientRows(cost, plan, chunks, ranges, options, result);
  w.network_links = std::max(1.0, cost.fleet().network.fanout_links);
  w.port_buckets = PortBuckets(w);
  return w;
}

}  // namespace tangram::simulator::internal
