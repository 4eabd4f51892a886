#include "orchestrator/simulator/engine.h"

#include <algorithm>
#include <optional>
#include <queue>
#include <span>

#include "absl/strings/str_cat.h"
#include "orchestrator/simulator/cpu_pool.h"

namespace tangram::simulator::internal {
namespace {

enum EventKind : uint8_t {
  kComputeDone,
  kFlowDone,
  kBucketReady,
  kCpuDone,
  kFlowStart,    // a shaped link's send after its latency: its bytes join the ports
  kTokensEmpty,  // a port's token bucket ran dry: its flows drop to the sustained rate
};

struct Event {
  double t;
  uint64_t seq;
  int32_t a, b, c;
  EventKind kind;
};
struct Later {
  bool operator()(const Event& x, const Event& y) const {
    return x.t > y.t || (x.t == y.t && x.seq > y.seq);
  }
};

enum class FlowKind : uint8_t { kP2p, kAllreduce };

// A transfer in flight. `remaining` is seconds of work at full rate as of `updated`; it runs at
// `rate` (1 = alone on its ports; up to a bucket's speedup while its ports hold tokens) until the
// next reshare.
struct Flow {
  double remaining = 0, rate = 1, updated = 0, start = 0;
  uint32_t version = 0;
  FlowKind kind = FlowKind::kP2p;
  int32_t src = 0, dst = 0, flag = 0;  // p2p: cells and the flag it sets; allreduce: row
  int32_t res[2] = {0, 0};             // p2p: sender egress, receiver ingress
};

// kAwaitSend, kAwaitRecv, kTransfer: rendezvous p2p only (Workload::rendezvous_p2p).
enum CellStateKind : uint8_t {
  kIdle,
  kComputing,
  kSending,
  kOpsDone,
  kAwaitSend,
  kAwaitRecv,
  kTransfer
};

struct CellState {
  int32_t next = 0;
  CellStateKind state = kIdle;
  double op_start = 0, op_tp = 0;
  double op_tail = 0;  // pooled compute: fixed time (tp collectives) after its CPU work
  double in_flight = 0, peak = 0, stage_bytes = 0;
  // Rendezvous p2p: the output of the last op, not sent yet, and the flag of the receive posted.
  bool has_pending = false;
  Flow pending;
  double pending_work = 0;
  double pending_alpha = 0;  // the latency part of pending_work (a token bucket passes it first)
  int32_t posted = -1;
};

struct RowState {
  std::vector<int32_t> ready;  // members ready, per chunk × bucket
  std::vector<int32_t> ports;  // every member's egress and ingress
  int32_t next = 0, total = 0;
  bool busy = false, done = false;
  double done_t = 0;
};

// A port's token bucket as the step runs (Workload::port_buckets): `level` seconds of sustained
// transfer as of `updated`, drained by the port's flows (the sum of their rates) and refilled at 1.
struct Tokens {
  double level = 0, capacity = 0, speedup = 1, updated = 0;
  uint32_t version = 0;
};

constexpr double kNoTokens = 1e-12;
constexpr double kInfRate = 1e300;  // seconds: below this a bucket counts as empty

class Engine {
 public:
  Engine(const Workload& w, bool contention, bool record, StepResult* out)
      : w_(w), contention_(contention), record_(record), out_(out) {}

  absl::Status Run() {
    Init();
    for (int32_t c = 0; c < static_cast<int32_t>(cells_.size()); ++c) TryStart(c);
    while (!queue_.empty()) {
      Event e = queue_.top();
      queue_.pop();
      now_ = e.t;
      ++out_->events;
      switch (e.kind) {
        case kComputeDone:
          OnComputeDone(e.a);
          break;
        case kFlowDone:
          OnFlowDone(e.a, static_cast<uint32_t>(e.b));
          break;
        case kBucketReady:
          OnBucketReady(e.a, e.b, e.c);
          break;
        case kCpuDone:
          OnCpuDone(e.a, static_cast<uint32_t>(e.b));
          break;
        case kFlowStart:
          OnFlowStart(e.a);
          break;
        case kTokensEmpty:
          OnTokensEmpty(e.a, static_cast<uint32_t>(e.b));
          break;
      }
    }
    for (size_t c = 0; c < cells_.size(); ++c) {
      if (cells_[c].state != kOpsDone) {
        if (cells_[c].next == static_cast<int32_t>(w_.cells[c].ops.size())) {
          return absl::InternalError(
              absl::StrCat("the pipeline schedule deadlocked: stage ", w_.cells[c].stage,
                           " of replica ", w_.cells[c].replica, " waits to send its last output"));
        }
        const PipelineOp& op = w_.cells[c].ops[cells_[c].next];
        return absl::InternalError(absl::StrCat(
            "the pipeline schedule deadlocked: stage ", w_.cells[c].stage, " of replica ",
            w_.cells[c].replica, " waits for ", op.backward ? "the gradient" : "the activation",
            " of micro-batch ", op.micro_batch, " (chunk ", op.chunk, ")"));
      }
    }
    for (size_t c = 0; c < cells_.size(); ++c) {
      CellResult& r = out_->cells[c];
      r.peak_in_flight = cells_[c].stage_bytes > 0 ? cells_[c].peak / cells_[c].stage_bytes : 0;
      out_->step_time_s = std::max(out_->step_time_s, r.end_s);
      out_->pipeline_s = std::max(out_->pipeline_s, r.pipeline_end_s);
    }
    return absl::OkStatus();
  }

 private:
  void Init() {
    const size_t n = w_.cells.size();
    cells_.assign(n, CellState{});
    flag_base_.assign(n, 0);
    size_t flags = 0;
    for (size_t c = 0; c < n; ++c) {
      flag_base_[c] = flags;
      const ReplicaWork& rep = w_.replicas[w_.cells[c].replica];
      flags += 2u * static_cast<size_t>(w_.chunks) * rep.micro_batches;
      for (int ch = 0; ch < w_.chunks; ++ch) {
        cells_[c].stage_bytes += rep.stages[ch * w_.pp + w_.cells[c].stage].activation_bytes;
      }
    }
    flags_.assign(flags, 0);
    if (contention_) active_.assign(4 * n, {});
    if (!w_.cell_pool.empty()) {
      pools_.emplace(w_.pool_cores, static_cast<int32_t>(n));
    }
    // Token buckets (shaped links) need the ports' flow lists: with contention only. Every
    // bucket starts the step full (the optimizer step and the previous step's end idle the link).
    if (contention_ && !w_.port_buckets.empty()) {
      tokens_.assign(w_.port_buckets.size(), Tokens{});
      for (size_t p = 0; p < w_.port_buckets.size(); ++p) {
        const PortBucket& b = w_.port_buckets[p];
        if (!(b.capacity_s > 0) || !(b.speedup > 1)) continue;
        tokens_[p] = Tokens{b.capacity_s, b.capacity_s, b.speedup, 0, 0};
        token_ports_.push_back(static_cast<int32_t>(p));
      }
    }
    rows_.resize(w_.rows.size());
    for (size_t s = 0; s < w_.rows.size(); ++s) {
      const RowWork& rw = w_.rows[s];
      RowState& row = rows_[s];
      bool any = false;
      for (double b : rw.bucket_s) any = any || b > 0;
      if (!any || rw.cells.size() < 2) {
        row.done = true;  // nothing to reduce
        continue;
      }
      row.total = rw.buckets * w_.chunks;
      row.ready.assign(row.total, 0);
      for (int32_t c : rw.cells) {
        row.ports.push_back(Port(c, rw.port, 0));
        row.ports.push_back(Port(c, rw.port, 1));
      }
      // Members sharing a NIC hold its ports once: one collective is one flow on each.
      std::sort(row.ports.begin(), row.ports.end());
      row.ports.erase(std::unique(row.ports.begin(), row.ports.end()), row.ports.end());
    }
  }

  int32_t Port(int32_t cell, PortClass cls, int dir) const {
    return PortIndex(NetworkOwner(w_, cell, cls), cls, dir);
  }
  bool Shaped() const { return !token_ports_.empty(); }
  bool HasTokens(int32_t port) const {
    return Shaped() && tokens_[port].capacity > 0 && tokens_[port].level > kNoTokens;
  }

  void Push(double t, EventKind kind, int32_t a, int32_t b = 0, int32_t c = 0) {
    queue_.push(Event{t, seq_++, a, b, c, kind});
  }

  double Fraction(const ReplicaWork& rep, int32_t mb) const {
    return mb + 1 == rep.micro_batches ? rep.last_fraction : 1.0;
  }
  size_t FlagIndex(int32_t cell, int chunk, int32_t mb, bool backward) const {
    const int32_t m = w_.replicas[w_.cells[cell].replica].micro_batches;
    return flag_base_[cell] + (static_cast<size_t>(chunk) * m + mb) * 2 + (backward ? 1 : 0);
  }

  // Whether op waits for data from a neighbour: a forward's activations from the virtual stage
  // before it, a backward's gradients from the one after (none at the pipeline's two ends).
  bool NeedsInput(const CellWork& cw, const PipelineOp& op) const {
    const int vs = op.chunk * w_.pp + cw.stage;
    return op.backward ? vs < w_.pp * w_.chunks - 1 : vs > 0;
  }

  void TryStart(int32_t c) {
    CellState& cs = cells_[c];
    if (cs.state != kIdle) return;
    if (w_.rendezvous_p2p && !Rendezvous(c)) return;
    const CellWork& cw = w_.cells[c];
    if (cs.next == static_cast<int32_t>(cw.ops.size())) {
      OpsDone(c);
      return;
    }
    const PipelineOp& op = cw.ops[cs.next];
    const ReplicaWork& rep = w_.replicas[cw.replica];
    const int vs = op.chunk * w_.pp + cw.stage;
    if (NeedsInput(cw, op) && !flags_[FlagIndex(c, op.chunk, op.micro_batch, op.backward)]) return;
    const VirtualStage& st = rep.stages[vs];
    const double f = Fraction(rep, op.micro_batch);
    const double dur = (op.backward ? st.backward_s : st.forward_s) * f;
    cs.state = kComputing;
    cs.op_start = now_;
    cs.op_tp = (op.backward ? st.tp_backward_s : st.tp_forward_s) * f;
    if (!op.backward) {
      cs.in_flight += st.activation_bytes * f;
      cs.peak = std::max(cs.peak, cs.in_flight);
    }
    if (Pooled(c)) {
      // Its CPU work shares the pool; the tensor-parallel collectives follow at their own time.
      // Gradient buckets are released when the op ends (its duration is not known yet).
      cs.op_tail = cs.op_tp;
      pools_->Start(c, w_.cell_pool[c], (dur - cs.op_tp) * w_.cell_cpu_scale[c], w_.cell_demand[c],
                    now_);
      PushPoolChanges();
      return;
    }
    if (op.backward) ReleaseBuckets(c, op, dur);
    Push(now_ + dur, kComputeDone, c);
  }

  // Rendezvous p2p: before its next op (or at the end) cell c posts, one at a time, in DeepSpeed
  // TrainSchedule's order: before a forward, the receive of its input, then the send of the last
  // op's output; before a backward or at the end, the send, then the receive. True when nothing
  // is left to post and the op may start.
  bool Rendezvous(int32_t c) {
    CellState& cs = cells_[c];
    const CellWork& cw = w_.cells[c];
    int32_t recv = -1, from = -1;
    bool forward = false;
    if (cs.next < static_cast<int32_t>(cw.ops.size())) {
      const PipelineOp& op = cw.ops[cs.next];
      const ReplicaWork& rep = w_.replicas[cw.replica];
      const int vs = op.chunk * w_.pp + cw.stage;
      const size_t flag = FlagIndex(c, op.chunk, op.micro_batch, op.backward);
      forward = !op.backward;
      if (NeedsInput(cw, op) && !flags_[flag]) {
        recv = static_cast<int32_t>(flag);
        from = rep.stages[op.backward ? vs + 1 : vs - 1].cell;
      }
    }
    if (recv >= 0 && (forward || !cs.has_pending)) {
      cs.state = kAwaitRecv;
      cs.posted = recv;
      const CellState& src = cells_[from];
      if (src.state == kAwaitSend && src.pending.flag == recv) BeginTransfer(from);
      return false;
    }
    if (cs.has_pending) {
      cs.state = kAwaitSend;
      const CellState& dst = cells_[cs.pending.dst];
      if (dst.state == kAwaitRecv && dst.posted == cs.pending.flag) BeginTransfer(c);
      return false;
    }
    return true;
  }

  // Both sides of cell src's pending send have arrived: the transfer runs, both wait.
  void BeginTransfer(int32_t src) {
    CellState& cs = cells_[src];
    cs.state = kTransfer;
    cs.has_pending = false;
    cells_[cs.pending.dst].state = kTransfer;
    cells_[cs.pending.dst].posted = -1;
    StartP2p(cs.pending, cs.pending_work, cs.pending_alpha);
  }

  // A pipeline message of `work` seconds unshaped, `alpha` of them latency. Through a token bucket
  // the latency runs first, then the bytes, which the bucket speeds up.
  void StartP2p(const Flow& fl, double work, double alpha) {
    if (Shaped() && (tokens_[fl.res[0]].capacity > 0 || tokens_[fl.res[1]].capacity > 0)) {
      StartShapedFlow(fl, alpha, work - alpha);
    } else {
      StartFlow(fl, work);
    }
  }

  // The last backward of a chunk fills the gradient buckets, last layers first, over `dur` from
  // now. Without overlap every bucket waits for the stage's last backward (chunk 0's, the last to
  // run).
  void ReleaseBuckets(int32_t c, const PipelineOp& op, double dur) {
    const CellWork& cw = w_.cells[c];
    if (op.micro_batch + 1 != w_.replicas[cw.replica].micro_batches) return;
    const RowWork& rw = w_.rows[cw.stage];
    if (!rows_[cw.stage].done && w_.overlap_grad_reduce) {
      for (int32_t b = 0; b < rw.buckets; ++b) {
        Push(now_ + dur * (b + 1) / rw.buckets, kBucketReady, c, op.chunk, b);
      }
    } else if (!rows_[cw.stage].done && op.chunk == 0) {
      for (int32_t chunk = 0; chunk < w_.chunks; ++chunk) {
        for (int32_t b = 0; b < rw.buckets; ++b) Push(now_ + dur, kBucketReady, c, chunk, b);
      }
    }
  }

  bool Pooled(int32_t c) const { return pools_.has_value() && w_.cell_pool[c] >= 0; }

  void PushPoolChanges() {
    for (const ProcessorSharing::Due& d : pools_->changed()) {
      Push(d.t, kCpuDone, d.id, static_cast<int32_t>(d.version));
    }
  }

  // A pooled op's CPU work is done (if the event is current): the pool reshares, the op's
  // tensor-parallel tail runs, then it completes as any op.
  void OnCpuDone(int32_t c, uint32_t version) {
    if (!pools_->Current(c, version)) return;  // superseded by a reshare
    pools_->Finish(c, now_);
    PushPoolChanges();
    const PipelineOp& op = w_.cells[c].ops[cells_[c].next];
    if (op.backward) ReleaseBuckets(c, op, cells_[c].op_tail);
    Push(now_ + cells_[c].op_tail, kComputeDone, c);
  }

  void OnComputeDone(int32_t c) {
    CellState& cs = cells_[c];
    const CellWork& cw = w_.cells[c];
    const PipelineOp& op = cw.ops[cs.next++];
    const ReplicaWork& rep = w_.replicas[cw.replica];
    const int vs = op.chunk * w_.pp + cw.stage;
    const VirtualStage& st = rep.stages[vs];
    CellResult& r = out_->cells[c];
    r.compute_s += now_ - cs.op_start;
    r.tp_comm_s += cs.op_tp;
    if (record_) {
      out_->timeline.push_back({c, op.backward ? SpanKind::kBackward : SpanKind::kForward, op.chunk,
                                op.micro_batch, cs.op_start, now_, cs.op_tp});
    }
    const double f = Fraction(rep, op.micro_batch);
    if (op.backward) cs.in_flight -= st.activation_bytes * f;
    const int last_vs = w_.pp * w_.chunks - 1;
    int to = -1;
    if (!op.backward && vs < last_vs) to = vs + 1;
    if (op.backward && vs > 0) to = vs - 1;
    if (to < 0) {
      cs.state = kIdle;
      TryStart(c);
      return;
    }
    const int32_t dst = rep.stages[to].cell;
    const double work =
        op.backward ? st.prev_alpha_s + f * st.prev_beta_s : st.send_alpha_s + f * st.send_beta_s;
    const PortClass cls = op.backward ? st.prev_port : st.next_port;
    cs.state = w_.async_p2p ? kIdle : kSending;
    cs.op_start = now_;
    Flow fl;
    fl.kind = FlowKind::kP2p;
    fl.src = c;
    fl.dst = dst;
    fl.flag = static_cast<int32_t>(FlagIndex(dst, to / w_.pp, op.micro_batch, op.backward));
    fl.res[0] = Port(c, cls, 0);
    fl.res[1] = Port(dst, cls, 1);
    const double alpha = op.backward ? st.prev_alpha_s : st.send_alpha_s;
    if (w_.rendezvous_p2p) {
      cs.state = kIdle;
      cs.has_pending = true;
      cs.pending = fl;
      cs.pending_work = work;
      cs.pending_alpha = alpha;
      TryStart(c);
      return;
    }
    StartP2p(fl, work, alpha);
    if (w_.async_p2p) TryStart(c);
  }

  void OnBucketReady(int32_t c, int32_t chunk, int32_t bucket) {
    const int32_t s = w_.cells[c].stage;
    RowState& row = rows_[s];
    ++row.ready[chunk * w_.rows[s].buckets + bucket];
    TryLaunch(s);
  }

  // Buckets go out one at a time on the stage's communication stream, in one order everywhere:
  // chunks last to first (the order their last backward passes run), buckets in order.
  void TryLaunch(int32_t s) {
    RowState& row = rows_[s];
    const RowWork& rw = w_.rows[s];
    if (row.busy || row.done || row.next >= row.total) return;
    const int32_t chunk = w_.chunks - 1 - row.next / rw.buckets;
    const int32_t bucket = row.next % rw.buckets;
    if (row.ready[chunk * rw.buckets + bucket] < static_cast<int32_t>(rw.cells.size())) return;
    row.busy = true;
    Flow fl;
    fl.kind = FlowKind::kAllreduce;
    fl.src = s;
    fl.dst = chunk;
    fl.flag = bucket;
    StartFlow(fl, rw.bucket_s[chunk]);
  }

  // A flow whose bytes join their ports `alpha` from now (OnFlowStart).
  void StartShapedFlow(Flow fl, double alpha, double bytes_s) {
    const int32_t id = NewFlow(fl);
    Flow& f = flows_[id];
    f.remaining = std::max(0.0, bytes_s);
    f.start = now_;
    f.updated = now_;
    f.rate = 1;
    Push(now_ + alpha, kFlowStart, id);
  }

  void OnFlowStart(int32_t id) {
    SettleTokens();
    Flow& f = flows_[id];
    f.updated = now_;
    for (int32_t p : Resources(f)) active_[p].push_back(id);
    Reshare(id);
    ScheduleTokens();
  }

  // Brings every bucket's level up to now at the rates its flows have had since its last update.
  void SettleTokens() {
    for (int32_t p : token_ports_) {
      Tokens& t = tokens_[p];
      double use = 0;
      for (int32_t g : active_[p]) use += flows_[g].rate;
      t.level = std::clamp(t.level + (Links(p) - use) * (now_ - t.updated), 0.0, t.capacity);
      t.updated = now_;
    }
  }

  // After rates changed: when each draining bucket runs dry.
  void ScheduleTokens() {
    for (int32_t p : token_ports_) {
      Tokens& t = tokens_[p];
      double use = 0;
      for (int32_t g : active_[p]) use += flows_[g].rate;
      ++t.version;
      if (t.level > kNoTokens && use > Links(p) + 1e-12) {
        Push(now_ + t.level / (use - Links(p)), kTokensEmpty, p, static_cast<int32_t>(t.version));
      }
    }
  }

  void OnTokensEmpty(int32_t port, uint32_t version) {
    if (tokens_[port].version != version) return;  // rates changed since; rescheduled
    SettleTokens();
    tokens_[port].level = 0;
    scratch_ = active_[port];
    for (int32_t g : scratch_) Reshare1(g, false);
    ScheduleTokens();
  }

  // A flow's rate on a shaped fleet: on each of its ports its share of what the port passes (the
  // bucket's speedup for a pipeline send while the port holds tokens, else 1).
  double ShapedRate(const Flow& f) const {
    double rate = kInfRate;
    for (int32_t p : Resources(f)) {
      const double cap = f.kind == FlowKind::kP2p && HasTokens(p) ? tokens_[p].speedup : 1.0;
      rate = std::min(rate, Share(p, cap));
    }
    return rate == kInfRate ? 1.0 : rate;
  }

  // Flows a port carries at full rate each (Workload::network_links on network ports).
  double Links(int32_t port) const { return (port % 4) / 2 == kNetwork ? w_.network_links : 1.0; }
  // One flow's rate on port p passing `cap` per link: cap × min(1, links ÷ flows) — cap ÷ flows
  // on a port of one link, to the bit.
  double Share(int32_t p, double cap) const {
    const double n = static_cast<double>(std::max<size_t>(1, active_[p].size()));
    const double links = Links(p);
    return n > links ? cap * links / n : cap;
  }

  std::span<const int32_t> Resources(const Flow& f) const {
    if (f.kind == FlowKind::kP2p) return {f.res, 2};
    return rows_[f.src].ports;
  }

  int32_t NewFlow(const Flow& fl) {
    int32_t id;
    if (!free_flows_.empty()) {
      id = free_flows_.back();
      free_flows_.pop_back();
      const uint32_t version = flows_[id].version + 1;
      flows_[id] = fl;
      flows_[id].version = version;
    } else {
      id = static_cast<int32_t>(flows_.size());
      flows_.push_back(fl);
    }
    return id;
  }

  void StartFlow(Flow fl, double work) {
    const int32_t id = NewFlow(fl);
    Flow& f = flows_[id];
    f.remaining = work;
    f.updated = now_;
    f.start = now_;
    f.rate = 1;
    if (!contention_) {
      Push(now_ + work, kFlowDone, id, static_cast<int32_t>(f.version));
      return;
    }
    if (Shaped()) SettleTokens();
    for (int32_t p : Resources(f)) active_[p].push_back(id);
    Reshare(id);
    if (Shaped()) ScheduleTokens();
  }

  // Collects into touched_ every live flow on the ports of `f`, once each.
  void Touch(const Flow& f) {
    if (mark_.size() < flows_.size()) mark_.resize(flows_.size(), 0);
    ++stamp_;
    touched_.clear();
    for (int32_t p : Resources(f)) {
      for (int32_t g : active_[p]) {
        if (mark_[g] != stamp_) {
          mark_[g] = stamp_;
          touched_.push_back(g);
        }
      }
    }
  }

  // A new flow joined: it and every flow sharing a port with it get their new rates.
  void Reshare(int32_t id) {
    Touch(flows_[id]);
    scratch_ = touched_;
    for (int32_t g : scratch_) Reshare1(g, g == id);
  }

  void OnFlowDone(int32_t id, uint32_t version) {
    if (flows_[id].version != version) return;  // superseded by a reshare
    const Flow f = flows_[id];
    ++flows_[id].version;
    free_flows_.push_back(id);
    if (contention_) {
      if (Shaped()) SettleTokens();
      for (int32_t p : Resources(f)) {
        auto& list = active_[p];
        auto it = std::find(list.begin(), list.end(), id);
        *it = list.back();
        list.pop_back();
      }
      // Survivors on the freed ports speed up.
      Touch(f);
      scratch_ = touched_;
      for (int32_t g : scratch_) Reshare1(g, false);
      if (Shaped()) ScheduleTokens();
    }
    if (f.kind == FlowKind::kP2p) {
      flags_[f.flag] = 1;
      CellResult& r = out_->cells[f.src];
      // send_s is the time the sender's compute stream was blocked: none when sends overlap.
      if (!w_.async_p2p) r.send_s += now_ - f.start;
      if (record_) out_->timeline.push_back({f.src, SpanKind::kSend, 0, 0, f.start, now_, 0});
      if (w_.rendezvous_p2p) cells_[f.dst].state = kIdle;
      TryStart(f.dst);
      if (!w_.async_p2p) {
        cells_[f.src].state = kIdle;
        TryStart(f.src);
      }
      return;
    }
    RowState& row = rows_[f.src];
    if (record_) {
      for (int32_t c : w_.rows[f.src].cells) {
        out_->timeline.push_back(
            {c, SpanKind::kAllreduce, static_cast<int16_t>(f.dst), f.flag, f.start, now_, 0});
      }
    }
    row.busy = false;
    if (++row.next == row.total) {
      row.done = true;
      row.done_t = now_;
      for (int32_t c : w_.rows[f.src].cells) MaybeOptimizer(c);
    } else {
      TryLaunch(f.src);
    }
  }

  // Brings flow g's remaining work up to date and, if its rate changed (or `fresh`), schedules
  // its completion anew (the old event goes stale by version).
  void Reshare1(int32_t g, bool fresh) {
    Flow& f = flows_[g];
    f.remaining = std::max(0.0, f.remaining - (now_ - f.updated) * f.rate);
    f.updated = now_;
    double rate;
    if (Shaped()) {
      rate = ShapedRate(f);
    } else {
      rate = 1.0;
      for (int32_t p : Resources(f)) rate = std::min(rate, Share(p, 1.0));
    }
    if (rate == f.rate && !fresh) return;
    f.rate = rate;
    ++f.version;
    Push(now_ + f.remaining / f.rate, kFlowDone, g, static_cast<int32_t>(f.version));
  }

  void OpsDone(int32_t c) {
    cells_[c].state = kOpsDone;
    out_->cells[c].pipeline_end_s = now_;
    MaybeOptimizer(c);
  }

  void MaybeOptimizer(int32_t c) {
    const RowState& row = rows_[w_.cells[c].stage];
    if (cells_[c].state != kOpsDone || !row.done) return;
    CellResult& r = out_->cells[c];
    const double start = std::max(r.pipeline_end_s, row.done_t);
    r.allreduce_wait_s = start - r.pipeline_end_s;
    r.optimizer_s = w_.cells[c].optimizer_s;
    r.end_s = start + r.optimizer_s;
    if (record_) {
      out_->timeline.push_back({c, SpanKind::kOptimizer, 0, 0, start, r.end_s, 0});
    }
  }

  const Workload& w_;
  const bool contention_, record_;
  StepResult* out_;
  double now_ = 0;
  uint64_t seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::vector<CellState> cells_;
  std::vector<size_t> flag_base_;
  std::vector<uint8_t> flags_;
  std::vector<RowState> rows_;
  std::vector<Flow> flows_;
  std::vector<int32_t> free_flows_;
  std::vector<std::vector<int32_t>> active_;  // flows on each port (contention only)
  std::vector<uint32_t> mark_;
  std::vector<int32_t> touched_, scratch_;
  uint32_t stamp_ = 0;
  std::optional<ProcessorSharing> pools_;  // only when the workload has CPU pools
  std::vector<Tokens> tokens_;             // per port, only when a link has a token bucket
  std::vector<int32_t> token_ports_;       // the ports with one
};

}  // namespace

absl::Status RunStep(const Workload& work, bool contention, bool record, StepResult* result) {
  Engine engine(work, contention, record, result);
  return engine.Run();
}

}  // namespace tangram::simulator::internal
