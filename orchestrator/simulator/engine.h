// The event engine under Simulate (simulator.h): a discrete-event simulation of one step over a
// Workload — the per-cell op orders, the per-op times and link figures the simulator derived from
// the cost model. Internal to the simulator; tests reach it through Simulate.
//
// Cost: O(E log E) for E ≈ 2·(cells × chunks × micro-batches) compute and transfer events plus the
// gradient buckets; memory linear in cells × chunks × micro-batches. Not thread-safe per Engine;
// separate Engines are independent.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_ENGINE_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_ENGINE_H_

#include <cstdint>
#include <vector>

#include "orchestrator/simulator/schedule.h"
#include "orchestrator/simulator/simulator.h"
#include "partitioner/comm_model.h"

namespace tangram::simulator::internal {

enum PortClass : int8_t { kNvlink = 0, kNetwork = 1 };

// Every cell has four ports: per class (PortClass) an egress (dir 0) and an ingress (dir 1).
inline int32_t PortIndex(int32_t cell, PortClass cls, int dir) { return cell * 4 + cls * 2 + dir; }

// A token bucket on one port (partitioner::TokenBucket, in the engine's units): it holds up to
// `capacity_s` seconds of transfer at the link's sustained rate, refills at one such second per
// second, and while it holds tokens the port passes `speedup` (peak ÷ sustained) times as much.
struct PortBucket {
  double capacity_s = 0;  // 0 = no bucket
  double speedup = 1;
};

// One model chunk of one replica's pipeline (virtual stage k = chunk × pp + stage).
struct VirtualStage {
  int32_t cell = 0;
  double forward_s = 0;  // one full micro-batch, slowdown and tp collectives included
  double backward_s = 0;
  double tp_forward_s = 0;  // of which tensor-parallel collectives
  double tp_backward_s = 0;
  double send_alpha_s = 0;  // activations to the next virtual stage: latency
  double send_beta_s = 0;   // bytes ÷ bandwidth for one full micro-batch
  double prev_alpha_s = 0;  // to the previous virtual stage (gradients)
  double prev_beta_s = 0;
  PortClass next_port = kNetwork, prev_port = kNetwork;
  partitioner::TokenBucket next_bucket, prev_bucket;  // the links' token buckets (usually none)
  double activation_bytes = 0;  // kept per full micro-batch until its backward
};

struct ReplicaWork {
  int32_t micro_batches = 1;
  double last_fraction = 1;          // size of the last micro-batch ÷ the others
  std::vector<VirtualStage> stages;  // pp × chunks, in virtual-stage order
};

struct CellWork {
  int32_t stage = 0;
  int32_t replica = 0;
  double optimizer_s = 0;
  std::vector<PipelineOp> ops;
};

// The data-parallel allreduce of one stage: its cells, and per chunk the buckets.
struct RowWork {
  std::vector<int32_t> cells;
  PortClass port = kNetwork;
  int32_t buckets = 0;           // per chunk
  std::vector<double> bucket_s;  // per chunk: one bucket at full rate; 0 = no allreduce
};

struct Workload {
  int32_t pp = 1, dp = 1, chunks = 1;
  // True: a stage's gradient buckets go out as its last backward fills them. False: all of them
  // after that backward ends (Megatron-LM before overlap_grad_reduce, DeepSpeed without
  // overlap_comm).
  bool overlap_grad_reduce = true;
  bool async_p2p = false;  // SimOptions::async_p2p
  // TrainingSpec::pipeline_p2p kRendezvous (DeepSpeed's pipeline engine): a transfer starts when
  // the sender has reached its send and the receiver its receive, in the order of DeepSpeed's
  // TrainSchedule (before a forward: receive its input, then send the previous op's output;
  // before a backward or at the end: send, then receive), and both cells wait until it ends.
  // Never with async_p2p; one chunk only.
  bool rendezvous_p2p = false;
  std::vector<CellWork> cells;  // stage-major: stage × dp + replica
  std::vector<ReplicaWork> replicas;
  std::vector<RowWork> rows;  // one per stage
  // CPU pools (cpu_pool.h): cells whose compute shares a machine's cores. All empty for fleets
  // without a measured pool (every GPU fleet): the engine then runs its plain path.
  std::vector<double> pool_cores;      // per pool: effective cores
  std::vector<int32_t> cell_pool;      // per cell: its pool, -1 none
  std::vector<double> cell_demand;     // per cell: cores its ranks use while computing
  std::vector<double> cell_cpu_scale;  // per cell: compute alone ÷ with the pool busy (<= 1)
  // Token buckets per port (PortIndex), only when a link was measured with one (a traffic
  // shaper); empty for every other fleet, and the engine takes its plain path. With buckets
  // (and contention), a pipeline send waits its latency, then its bytes pass its ports at
  // `speedup` while both hold tokens; any flow on a port drains its bucket.
  std::vector<PortBucket> port_buckets;
  // How many flows a cell's network port carries at full rate each (NetworkSpec::fanout_links):
  // n flows on it run at min(1, network_links ÷ n). 1 = one NIC port (a switch); 2 on a mesh,
  // where a stage's sends forward and back leave on two links.
  double network_links = 1;
  // Per cell, the cell whose network ports it uses: cells of one node that share a NIC share its
  // ports (a pipeline send of one and another's on the same NIC each run at half speed). Empty:
  // every cell has its own, as on a node with a NIC per device (DGX/HGX).
  std::vector<int32_t> cell_nic;
};

// The cell whose ports of class `cls` `cell` uses: its NIC's first cell on the network (cell_nic),
// itself otherwise.
inline int32_t NetworkOwner(const Workload& w, int32_t cell, PortClass cls) {
  return cls == kNetwork && !w.cell_nic.empty() ? w.cell_nic[cell] : cell;
}

// Runs the step. Fills the time fields of result->cells (which the caller sized and labelled),
// step_time_s, pipeline_s, events and, when `record`, the timeline. kInternal if the schedule
// deadlocks (a bug in a schedule: every op order must respect its own dependencies).
absl::Status RunStep(const Workload& work, bool contention, bool record, StepResult* result);

}  // namespace tangram::simulator::internal

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_ENGINE_H_
