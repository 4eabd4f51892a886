#include "orchestrator/simulator/schedule.h"

#include <algorithm>

#include "base/status_macros.h"

namespace tangram::simulator {
namespace {

class OneFOneB : public Schedule {
 public:
  partitioner::PipelineSchedule kind() const override {
    return partitioner::PipelineSchedule::kOneFOneB;
  }
  void Order(int rank, int ranks, int m, int /*chunks*/,
             std::vector<PipelineOp>* out) const override {
    const int warmup = std::min(ranks - rank - 1, m);
    for (int i = 0; i < warmup; ++i) out->push_back({i, 0, false});
    for (int i = 0; i < m - warmup; ++i) {
      out->push_back({warmup + i, 0, false});
      out->push_back({i, 0, true});
    }
    for (int i = m - warmup; i < m; ++i) out->push_back({i, 0, true});
  }
};

class GPipe : public Schedule {
 public:
  partitioner::PipelineSchedule kind() const override {
    return partitioner::PipelineSchedule::kGPipe;
  }
  void Order(int, int, int m, int, std::vector<PipelineOp>* out) const override {
    for (int i = 0; i < m; ++i) out->push_back({i, 0, false});
    for (int i = 0; i < m; ++i) out->push_back({i, 0, true});
  }
};

// Megatron-LM's interleaved schedule (schedules.py, forward_backward_pipelining_with_
// interleaving), generalised to m not divisible by p: the last group of micro-batches is short.
class Interleaved : public Schedule {
 public:
  partitioner::PipelineSchedule kind() const override {
    return partitioner::PipelineSchedule::kInterleaved;
  }
  bool interleaved() const override { return true; }
  // Megatron-LM's order (SC'21 §2.2.2: groups of `ranks` micro-batches, each group through chunk
  // 0, then chunk 1, ...), whose warm-up counts assume whole groups: with m not a multiple of
  // `ranks` (a replica's uneven share) that order deadlocks (pp 4, v 3, m 5: rank 0 runs
  // micro-batch 4's last chunk before the backward rank 3 waits for). So the order is built for m
  // rounded up to whole groups and the missing micro-batches' ops are dropped: each rank keeps a
  // subsequence of a deadlock-free order and no dependency crosses micro-batches, so it stays
  // deadlock-free (checked for pp 2-9, v 2-5, m 1-49 by bench/simulator/interleaved_orders.py). For
  // m a multiple of `ranks` it is Megatron-LM's order unchanged.
  void Order(int rank, int ranks, int m, int v, std::vector<PipelineOp>* out) const override {
    const int padded = (m + ranks - 1) / ranks * ranks;
    // The k-th forward (and, chunks reversed, the k-th backward) of this rank.
    std::vector<PipelineOp> seq;
    seq.reserve(static_cast<size_t>(padded) * v);
    for (int g = 0; g < padded; g += ranks) {
      for (int c = 0; c < v; ++c) {
        for (int mb = g; mb < g + ranks; ++mb) seq.push_back({mb, static_cast<int16_t>(c), false});
      }
    }
    const int total = padded * v;
    const int warmup = std::min(total, (ranks - rank - 1) * 2 + (v - 1) * ranks);
    auto backward = [&](int k) {
      PipelineOp op = seq[k];
      op.chunk = static_cast<int16_t>(v - 1 - op.chunk);
      op.backward = true;
      return op;
    };
    auto emit = [&](const PipelineOp& op) {
      if (op.micro_batch < m) out->push_back(op);
    };
    for (int k = 0; k < warmup; ++k) emit(seq[k]);
    for (int k = 0; k < total - warmup; ++k) {
      emit(seq[warmup + k]);
      emit(backward(k));
    }
    for (int k = total - warmup; k < total; ++k) emit(backward(k));
  }
};

}  // namespace

std::unique_ptr<Schedule> CreateSchedule(partitioner::PipelineSchedule kind) {
  switch (kind) {
    case partitioner::PipelineSchedule::kOneFOneB:
      return std::make_unique<OneFOneB>();
    case partitioner::PipelineSchedule::kGPipe:
      return std::make_unique<GPipe>();
    case partitioner::PipelineSchedule::kInterleaved:
      return std::make_unique<Interleaved>();
  }
  return std::make_unique<OneFOneB>();
}

absl::StatusOr<std::unique_ptr<Schedule>> CreateSchedule(std::string_view name) {
  TANGRAM_ASSIGN_OR_RETURN(partitioner::PipelineSchedule kind, partitioner::ParseSchedule(name));
  return CreateSchedule(kind);
}

}  // namespace tangram::simulator
