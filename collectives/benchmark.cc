#include "collectives/benchmark.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collectives/benchmark_raw_mpi.h"
#include "collectives/communicator.h"
#include "collectives/sim/sim_world.h"

namespace tangram::collectives {
namespace {

double BusFactor(CollectiveOp op, int p) {
  switch (op) {
    case CollectiveOp::kAllReduce:
      return 2.0 * (p - 1) / p;
    case CollectiveOp::kReduceScatter:
    case CollectiveOp::kAllGather:
      return (p - 1.0) / p;
    case CollectiveOp::kBroadcast:
    case CollectiveOp::kReduce:
      return 1.0;
  }
  return 1.0;
}

// One call of `op` on `count` floats (S = the whole array) with `algorithm`; fills inputs with
// rank + 1 and, when `check` is set, verifies the output.
absl::Status RunOp(Communicator& comm, CollectiveOp op, size_t count, Algorithm algorithm,
                   std::vector<float>& send, std::vector<float>& recv, bool check) {
  const int p = comm.size(), me = comm.rank();
  const size_t block = count / p;
  CallOptions call;
  call.algorithm = algorithm;
  absl::Status status;
  float want = 0;
  size_t check_count = 0;
  if (op == CollectiveOp::kAllReduce) {
    status = comm.AllReduce(send.data(), recv.data(), count, DataType::kF32, ReduceOp::kSum, call);
    want = p * (p + 1) / 2.0f, check_count = count;
  } else if (op == CollectiveOp::kReduceScatter) {
    status =
        comm.ReduceScatter(send.data(), recv.data(), block, DataType::kF32, ReduceOp::kSum, call);
    want = p * (p + 1) / 2.0f, check_count = block;
  } else if (op == CollectiveOp::kAllGather) {
    status = comm.AllGather(send.data(), recv.data(), block, DataType::kF32, call);
    if (check && status.ok()) {
      for (size_t i = 0; i < block * p; ++i) {
        if (recv[i] != static_cast<float>(i / block + 1)) return absl::InternalError("wrong");
      }
    }
  } else if (op == CollectiveOp::kBroadcast) {
    // Rank 0's data is put in place for the checked call only: the timed calls then broadcast
    // it again, with no copy that the raw baseline would not make.
    if (me == 0 && check) std::copy(send.begin(), send.begin() + count, recv.begin());
    status = comm.Broadcast(recv.data(), count, DataType::kF32, 0, call);
    want = 1.0f, check_count = count;
  } else {  // kReduce
    status = comm.Reduce(send.data(), recv.data(), count, DataType::kF32, ReduceOp::kSum, 0, call);
    want = p * (p + 1) / 2.0f, check_count = me == 0 ? count : 0;
  }
  if (!status.ok() || !check) return status;
  for (size_t i = 0; i < check_count; ++i) {
    if (recv[i] != want) return absl::InternalError("wrong result");
  }
  return absl::OkStatus();
}

struct Row {
  size_t bytes, count;
  double seconds, wall_seconds, baseline_seconds = 0;
  bool correct;
  double ratio = 0;  // baseline ÷ ours
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void Print(const BenchmarkOptions& flags, int p, const Row& row, bool header) {
  const double algbw = row.seconds > 0 ? row.bytes / row.seconds / 1e9 : 0;
  const double busbw = algbw * BusFactor(flags.op, p);
  const double ratio = row.ratio;
  if (flags.json) {
    std::printf(
        "{\"op\":\"%s\",\"transport\":\"%s\",\"algo\":\"%s\",\"ranks\":%d,\"bytes\":%zu,"
        "\"count\":%zu,\"time_us\":%.3f,\"wall_us\":%.3f,\"algbw_gbs\":%.4f,\"busbw_gbs\":%.4f,"
        "\"correct\":%s",
        std::string(CollectiveOpName(flags.op)).c_str(), flags.transport.c_str(),
        std::string(AlgorithmName(flags.algo)).c_str(), p, row.bytes, row.count, row.seconds * 1e6,
        row.wall_seconds * 1e6, algbw, busbw, row.correct ? "true" : "false");
    if (flags.compare_raw) {
      std::printf(",\"raw_time_us\":%.3f,\"ratio\":%.4f", row.baseline_seconds * 1e6, ratio);
    }
    std::printf("}\n");
    return;
  }
  if (header) {
    std::printf("# %s %s on %s, %d ranks, algo %s%s\n",
                std::string(CollectiveOpName(flags.op)).c_str(), "f32", flags.transport.c_str(), p,
                std::string(AlgorithmName(flags.algo)).c_str(),
                flags.transport == "sim" ? " (time = virtual, wall = simulation)" : "");
    std::printf("%12s %10s %12s %12s %10s %10s %8s", "size(B)", "count", "time(us)", "wall(us)",
                "algbw", "busbw", "correct");
    if (flags.compare_raw) {
      std::printf(" %12s %7s", flags.transport == "sim" ? "flat(us)" : "raw(us)", "ratio");
    }
    std::printf("\n");
  }
  std::printf("%12zu %10zu %12.2f %12.2f %10.3f %10.3f %8s", row.bytes, row.count,
              row.seconds * 1e6, row.wall_seconds * 1e6, algbw, busbw,
              row.correct ? "OK" : "WRONG");
  if (flags.compare_raw) std::printf(" %12.2f %7.3f", row.baseline_seconds * 1e6, ratio);
  std::printf("\n");
  std::fflush(stdout);
}

// At most this many rounds per size; the timed calls are spread over them.
constexpr int kMaxRounds = 11;

// Times ours and (with compare_raw) the raw baseline on `count` floats, interleaved: after one
// checked call and `warmup` untimed calls of each, `iters` calls per side are split into up to
// kMaxRounds rounds. Each round times a block of our calls and a block of baseline calls, each
// after a barrier, the baseline first in every other round, on the same buffers. A block's time
// is that of its slowest rank. Reports the median block time per call of each side, and as the
// ratio the median over rounds of (baseline ÷ ours) within the round — pairs that ran moments
// apart, so that load on a shared machine cancels out instead of landing on one side.
absl::StatusOr<Row> MeasureMpi(Communicator& comm, const BenchmarkOptions& flags, size_t count,
                               Algorithm algorithm) {
  Row row{count * 4, count, 0, 0, 0, false};
  std::vector<float> send(count, static_cast<float>(comm.rank() + 1)), recv(count, 0.0f);
  const absl::Status check = RunOp(comm, flags.op, count, algorithm, send, recv, true);
  row.correct = check.ok();
  if (!check.ok() && check.code() != absl::StatusCode::kInternal) return check;
  auto ours = [&](int calls) -> absl::StatusOr<double> {
    const absl::Time start = absl::Now();
    for (int i = 0; i < calls; ++i) {
      absl::Status status = RunOp(comm, flags.op, count, algorithm, send, recv, false);
      if (!status.ok()) return status;
    }
    return absl::ToDoubleSeconds(absl::Now() - start);
  };
  auto raw = [&](int calls) {
    return TimeRawMpi(flags.op, send.data(), recv.data(), count, calls);
  };
  absl::StatusOr<double> warm = ours(flags.warmup);
  if (warm.ok() && flags.compare_raw) warm = raw(flags.warmup);
  if (!warm.ok()) return warm.status();

  const int rounds = std::min(flags.iters, kMaxRounds);
  const int calls = (flags.iters + rounds - 1) / rounds;
  // [0, rounds): ours; [rounds, 2 rounds): the baseline; seconds per call, then max over ranks.
  std::vector<double> times(2 * rounds, 0.0), slowest(2 * rounds, 0.0);
  for (int round = 0; round < rounds; ++round) {
    for (int turn = 0; turn < 2; ++turn) {
      const bool baseline = (turn + round) % 2 == 1;
      if (baseline && !flags.compare_raw) continue;
      absl::Status status = comm.Barrier();
      if (!status.ok()) return status;
      absl::StatusOr<double> seconds = baseline ? raw(calls) : ours(calls);
      if (!seconds.ok()) return seconds.status();
      times[round + (baseline ? rounds : 0)] = *seconds / calls;
    }
  }
  absl::Status status =
      comm.AllReduce(times.data(), slowest.data(), times.size(), DataType::kF64, ReduceOp::kMax);
  if (!status.ok()) return status;
  const std::vector<double> our_times(slowest.begin(), slowest.begin() + rounds);
  row.seconds = row.wall_seconds = Median(our_times);
  if (flags.compare_raw) {
    const std::vector<double> raw_times(slowest.begin() + rounds, slowest.end());
    std::vector<double> ratios(rounds);
    for (int round = 0; round < rounds; ++round)
      ratios[round] = raw_times[round] / our_times[round];
    row.baseline_seconds = Median(raw_times);
    row.ratio = Median(ratios);
  }
  return row;
}

absl::Status RunMpi(const BenchmarkOptions& flags, Algorithm algorithm) {
  auto comm = CreateCommunicator(flags.transport);
  if (!comm.ok()) return comm.status();
  const int p = (*comm)->size();
  bool header = (*comm)->rank() == 0;
  for (size_t bytes = flags.min_bytes; bytes <= flags.max_bytes; bytes *= 2) {
    const size_t count = std::max<size_t>(bytes / 4 / p * p, p);
    absl::StatusOr<Row> row = MeasureMpi(**comm, flags, count, algorithm);
    if (!row.ok()) return row.status();
    if ((*comm)->rank() == 0) Print(flags, p, *row, header);
    header = false;
  }
  return absl::OkStatus();
}

absl::Status RunSim(const BenchmarkOptions& flags, Algorithm algorithm) {
  SimOptions options;
  options.ranks = flags.ranks;
  options.links = LinkModel::Uniform(flags.ranks, {flags.alpha_us * 1e-6, flags.bw_gbs * 1e9});
  options.timeout = absl::Seconds(60);
  auto world = SimWorld::Create(options);
  if (!world.ok()) return world.status();
  const int p = flags.ranks;
  bool header = true;
  // Virtual seconds and wall seconds per call of `op` with `algo`, plus correctness.
  auto measure = [&](size_t count, Algorithm algo, bool* correct, double* wall) -> double {
    (*world)->ResetClocks();
    std::vector<bool> ok(p, false);
    const absl::Time start = absl::Now();
    auto results = (*world)->Run([&](Communicator& comm) -> absl::Status {
      std::vector<float> send(count, static_cast<float>(comm.rank() + 1)), recv(count, 0.0f);
      ok[comm.rank()] = RunOp(comm, flags.op, count, algo, send, recv, true).ok();
      for (int i = 0; i < flags.iters; ++i) {
        absl::Status status = RunOp(comm, flags.op, count, algo, send, recv, false);
        if (!status.ok()) return status;
      }
      return absl::OkStatus();
    });
    *wall = absl::ToDoubleSeconds(absl::Now() - start) / (flags.iters + 1);
    *correct = std::all_of(ok.begin(), ok.end(), [](bool b) { return b; }) &&
               std::all_of(results.begin(), results.end(), [](auto& s) { return s.ok(); });
    return (*world)->MaxVirtualSeconds() / (flags.iters + 1);
  };
  for (size_t bytes = flags.min_bytes; bytes <= flags.max_bytes; bytes *= 2) {
    const size_t count = std::max<size_t>(bytes / 4 / p * p, p);
    Row row{count * 4, count, 0, 0, 0, false};
    row.seconds = measure(count, algorithm, &row.correct, &row.wall_seconds);
    if (flags.compare_raw) {
      bool flat_correct = false;
      double flat_wall = 0;
      row.baseline_seconds = measure(count, Algorithm::kFlat, &flat_correct, &flat_wall);
      row.correct &= flat_correct;
      row.ratio = row.seconds > 0 ? row.baseline_seconds / row.seconds : 0;
    }
    Print(flags, p, row, header);
    header = false;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunBenchmark(const BenchmarkOptions& options) {
  if (options.min_bytes < 4 || options.min_bytes > options.max_bytes || options.iters < 1 ||
      options.warmup < 0 || options.ranks < 1) {
    return absl::InvalidArgumentError(
        "need 4 <= min_bytes <= max_bytes, iters >= 1, warmup >= 0 and ranks >= 1");
  }
  if (options.islands > 0) return RunIslandBenchmark(options);
  if (options.transport == "sim") return RunSim(options, options.algo);
  if (options.transport == "mpi" || options.transport == "nccl")
    return RunMpi(options, options.algo);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown transport \"", options.transport, "\" (known: sim, mpi, nccl)"));
}

}  // namespace tangram::collectives
