#include "orchestrator/simulator/schedule.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tangram::simulator {
namespace {

class OneFOneB : public Schedule {
 public:
  std::string_view name() const override { return "1f1b"; }
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
  std::string_view name() const override { return "gpipe"; }
  void Order(int, int, int m, int, std::vector<PipelineOp>* out) const override {
    for (int i = 0; i < m; ++i) out->push_back({i, 0, false});
    for (int i = 0; i < m; ++i) out->push_back({i, 0, true});
  }
};

// Megatron-LM's interleaved schedule (schedules.py, forward_backward_pipelining_with_
// interleaving), generalised to m not divisible by p: the last group of micro-batches is short.
class Interleaved : public Schedule {
 public:
  std::string_view name() const override { return "interleaved"; }
  bool interleaved() const override { return true; }
  void Order(int rank, int ranks, int m, int v, std::vector<PipelineOp>* out) const override {
    // The k-th forward (and, chunks reversed, the k-th backward) of this rank.
    std::vector<PipelineOp> seq;
    seq.reserve(static_cast<size_t>(m) * v);
    for (int g = 0; g < m; g += ranks) {
      const int end = std::min(m, g + ranks);
      for (int c = 0; c < v; ++c) {
        for (int mb = g; mb < end; ++mb) seq.push_back({mb, static_cast<int16_t>(c), false});
      }
    }
    const int total = m * v;
    const int warmup = std::min(total, (ranks - rank - 1) * 2 + (v - 1) * ranks);
    auto backward = [&](int k) {
      PipelineOp op = seq[k];
      op.chunk = static_cast<int16_t>(v - 1 - op.chunk);
      op.backward = true;
      return op;
    };
    for (int k = 0; k < warmup; ++k) out->push_back(seq[k]);
    for (int k = 0; k < total - warmup; ++k) {
      out->push_back(seq[warmup + k]);
      out->push_back(backward(k));
    }
    for (int k = total - warmup; k < total; ++k) out->push_back(backward(k));
  }
};

}  // namespace

std::vector<std::string> ScheduleNames() { return {"1f1b", "gpipe", "interleaved"}; }

absl::StatusOr<std::unique_ptr<Schedule>> CreateSchedule(std::string_view name) {
  if (name == "1f1b") return std::unique_ptr<Schedule>(new OneFOneB());
  if (name == "gpipe") return std::unique_ptr<Schedule>(new GPipe());
  if (name == "interleaved") return std::unique_ptr<Schedule>(new Interleaved());
  return absl::InvalidArgumentError(absl::StrCat("unknown pipeline schedule \"", std::string(name),
                                                 "\" (known: 1f1b, gpipe, interleaved)"));
}

}  // namespace tangram::simulator
