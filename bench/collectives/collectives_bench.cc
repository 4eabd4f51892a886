// nccl-tests-style benchmark of the collectives library.
//
//   mpirun -np 4 tangram_bench_collectives --transport mpi --op allreduce --compare-raw
//   tangram_bench_collectives --transport sim --ranks 64 --algo ring --compare-raw --json
//
// For each size it checks the result once (the "correct" column), then times `--iters` calls.
// algbw = S / t and busbw = algbw × nccl-tests' factor (2(p-1)/p allreduce, (p-1)/p
// reduce_scatter and allgather, 1 broadcast and reduce). On mpi/nccl t is wall time (slowest
// rank); on sim t is the *virtual* time on the simulated fleet, and wall_us is the simulation's
// own wall time. --compare-raw times a baseline in the same run and prints ratio = baseline time
// ÷ our time (> 1: we are faster): raw MPI_* on mpi, the flat (naive) algorithm on sim.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/collectives/raw_mpi.h"
#include "collectives/communicator.h"
#include "collectives/sim/sim_world.h"

namespace tangram::collectives::bench {
namespace {

struct Flags {
  std::string transport = "sim";
  std::string op = "allreduce";
  std::string algo = "auto";
  size_t min_bytes = 1024;
  size_t max_bytes = 16 << 20;
  int ranks = 8;  // sim only
  int iters = 20;
  int warmup = 3;
  double alpha_us = 5.0;  // sim links
  double bw_gbs = 25.0;
  bool compare_raw = false;
  bool json = false;
};

double BusFactor(const std::string& op, int p) {
  if (op == "allreduce") return 2.0 * (p - 1) / p;
  if (op == "reduce_scatter" || op == "allgather") return (p - 1.0) / p;
  return 1.0;
}

// One call of `op` on `count` floats (S = the whole array) with `algorithm`; fills inputs with
// rank + 1 and, when `check` is set, verifies the output.
absl::Status RunOp(Communicator& comm, const std::string& op, size_t count, Algorithm algorithm,
                   std::vector<float>& send, std::vector<float>& recv, bool check) {
  const int p = comm.size(), me = comm.rank();
  const size_t block = count / p;
  CallOptions call;
  call.algorithm = algorithm;
  absl::Status status;
  float want = 0;
  size_t check_count = 0;
  if (op == "allreduce") {
    status = comm.AllReduce(send.data(), recv.data(), count, DataType::kF32, ReduceOp::kSum, call);
    want = p * (p + 1) / 2.0f, check_count = count;
  } else if (op == "reduce_scatter") {
    status =
        comm.ReduceScatter(send.data(), recv.data(), block, DataType::kF32, ReduceOp::kSum, call);
    want = p * (p + 1) / 2.0f, check_count = block;
  } else if (op == "allgather") {
    status = comm.AllGather(send.data(), recv.data(), block, DataType::kF32, call);
    if (check && status.ok()) {
      for (size_t i = 0; i < block * p; ++i) {
        if (recv[i] != static_cast<float>(i / block + 1)) return absl::InternalError("wrong");
      }
    }
  } else if (op == "broadcast") {
    if (me == 0) std::copy(send.begin(), send.begin() + count, recv.begin());
    status = comm.Broadcast(recv.data(), count, DataType::kF32, 0, call);
    want = 1.0f, check_count = count;
  } else if (op == "reduce") {
    status = comm.Reduce(send.data(), recv.data(), count, DataType::kF32, ReduceOp::kSum, 0, call);
    want = p * (p + 1) / 2.0f, check_count = me == 0 ? count : 0;
  } else {
    return absl::InvalidArgumentError("unknown --op " + op);
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
};

void Print(const Flags& flags, int p, const Row& row, bool header) {
  const double algbw = row.seconds > 0 ? row.bytes / row.seconds / 1e9 : 0;
  const double busbw = algbw * BusFactor(flags.op, p);
  const double ratio = row.seconds > 0 ? row.baseline_seconds / row.seconds : 0;
  if (flags.json) {
    std::printf(
        "{\"op\":\"%s\",\"transport\":\"%s\",\"algo\":\"%s\",\"ranks\":%d,\"bytes\":%zu,"
        "\"count\":%zu,\"time_us\":%.3f,\"wall_us\":%.3f,\"algbw_gbs\":%.4f,\"busbw_gbs\":%.4f,"
        "\"correct\":%s",
        flags.op.c_str(), flags.transport.c_str(), flags.algo.c_str(), p, row.bytes, row.count,
        row.seconds * 1e6, row.wall_seconds * 1e6, algbw, busbw, row.correct ? "true" : "false");
    if (flags.compare_raw) {
      std::printf(",\"raw_time_us\":%.3f,\"ratio\":%.4f", row.baseline_seconds * 1e6, ratio);
    }
    std::printf("}\n");
    return;
  }
  if (header) {
    std::printf("# %s %s on %s, %d ranks, algo %s%s\n", flags.op.c_str(), "f32",
                flags.transport.c_str(), p, flags.algo.c_str(),
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

// Times `iters` calls on `comm` (after a checked call and warmup); seconds per call, max over
// ranks.
absl::StatusOr<double> TimeOnComm(Communicator& comm, const Flags& flags, size_t count,
                                  Algorithm algorithm, bool* correct) {
  std::vector<float> send(count, static_cast<float>(comm.rank() + 1)), recv(count, 0.0f);
  const absl::Status check = RunOp(comm, flags.op, count, algorithm, send, recv, true);
  *correct = check.ok();
  if (!check.ok() && check.code() != absl::StatusCode::kInternal) return check;
  for (int i = 0; i < flags.warmup; ++i) {
    (void)RunOp(comm, flags.op, count, algorithm, send, recv, false);
  }
  absl::Status status = comm.Barrier();
  if (!status.ok()) return status;
  const absl::Time start = absl::Now();
  for (int i = 0; i < flags.iters; ++i) {
    status = RunOp(comm, flags.op, count, algorithm, send, recv, false);
    if (!status.ok()) return status;
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - start) / flags.iters, slowest = 0;
  status = comm.AllReduce(&seconds, &slowest, 1, DataType::kF64, ReduceOp::kMax);
  if (!status.ok()) return status;
  return slowest;
}

int RunMpi(const Flags& flags, Algorithm algorithm) {
  auto comm = CreateCommunicator(flags.transport);
  if (!comm.ok()) {
    std::fprintf(stderr, "%s\n", std::string(comm.status().message()).c_str());
    return 1;
  }
  const int p = (*comm)->size();
  bool header = (*comm)->rank() == 0;
  for (size_t bytes = flags.min_bytes; bytes <= flags.max_bytes; bytes *= 2) {
    const size_t count = std::max<size_t>(bytes / 4 / p * p, p);
    Row row{count * 4, count, 0, 0, 0, false};
    auto seconds = TimeOnComm(**comm, flags, count, algorithm, &row.correct);
    if (!seconds.ok()) {
      std::fprintf(stderr, "%s\n", std::string(seconds.status().message()).c_str());
      return 1;
    }
    row.seconds = row.wall_seconds = *seconds;
    if (flags.compare_raw) {
      auto raw = TimeRawMpi(flags.op, count, flags.warmup, flags.iters);
      if (!raw.ok()) {
        std::fprintf(stderr, "%s\n", std::string(raw.status().message()).c_str());
        return 1;
      }
      row.baseline_seconds = *raw;
    }
    if ((*comm)->rank() == 0) Print(flags, p, row, header);
    header = false;
  }
  return 0;
}

int RunSim(const Flags& flags, Algorithm algorithm) {
  SimOptions options;
  options.ranks = flags.ranks;
  options.links = LinkModel::Uniform(flags.ranks, {flags.alpha_us * 1e-6, flags.bw_gbs * 1e9});
  options.timeout = absl::Seconds(60);
  auto world = SimWorld::Create(options);
  if (!world.ok()) return 1;
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
    }
    Print(flags, p, row, header);
    header = false;
  }
  return 0;
}

}  // namespace
}  // namespace tangram::collectives::bench

int main(int argc, char** argv) {
  using namespace tangram::collectives;
  bench::Flags flags;
  CLI::App app{"nccl-tests-style benchmark of tangram collectives"};
  app.add_option("--transport", flags.transport, "sim | mpi | nccl")
      ->check(CLI::IsMember({"sim", "mpi", "nccl"}));
  app.add_option("--op", flags.op, "allreduce | reduce_scatter | allgather | broadcast | reduce")
      ->check(CLI::IsMember({"allreduce", "reduce_scatter", "allgather", "broadcast", "reduce"}));
  app.add_option("--algo", flags.algo,
                 "auto | native | ring | halving_doubling | tree | hierarchical | flat");
  app.add_option("--min-bytes", flags.min_bytes);
  app.add_option("--max-bytes", flags.max_bytes);
  app.add_option("--ranks", flags.ranks, "sim: number of ranks");
  app.add_option("--iters", flags.iters);
  app.add_option("--warmup", flags.warmup);
  app.add_option("--alpha-us", flags.alpha_us, "sim: link latency (us)");
  app.add_option("--bw-gbs", flags.bw_gbs, "sim: link bandwidth (GB/s)");
  app.add_flag("--compare-raw", flags.compare_raw, "time the baseline in the same run");
  app.add_flag("--json", flags.json, "one JSON object per row");
  CLI11_PARSE(app, argc, argv);
  auto algorithm = ParseAlgorithm(flags.algo);
  if (!algorithm.ok()) {
    std::fprintf(stderr, "%s\n", std::string(algorithm.status().message()).c_str());
    return 2;
  }
  return flags.transport == "sim" ? bench::RunSim(flags, *algorithm)
                                  : bench::RunMpi(flags, *algorithm);
}
