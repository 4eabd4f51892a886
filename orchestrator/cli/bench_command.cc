// `tangram bench collectives ...`: the nccl-tests-style collectives benchmark (algbw, busbw, a
// correctness check, and a baseline in the same run). Run it under mpirun for --transport mpi.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "collectives/benchmark.h"
#include "orchestrator/cli/cli_util.h"

namespace tangram::orchestrator {
namespace {

class BenchCommand : public Command {
 public:
  std::string Name() const override { return "bench"; }
  std::string Description() const override {
    return "Benchmarks: `bench collectives` (nccl-tests-style table with a baseline)";
  }
  void Configure(CLI::App* sub) override {
    sub->require_subcommand(1);
    collectives_ = sub->add_subcommand(
        "collectives", "Collective bandwidth (algbw, busbw), correctness, and a baseline ratio");
    auto& o = options_;
    collectives_->add_option("--transport", o.transport, "sim | mpi | nccl (default sim)");
    collectives_->add_option("--op", op_,
                             "allreduce | reduce_scatter | allgather | broadcast | reduce");
    collectives_->add_option(
        "--algo", algo_, "auto | native | ring | halving_doubling | tree | hierarchical | flat");
    collectives_->add_option("--min-bytes", o.min_bytes, "Smallest message (default 1 KiB)")
        ->check(IntIn(1, kMaxBenchBytes));
    collectives_->add_option("--max-bytes", o.max_bytes, "Largest message (default 16 MiB)")
        ->check(IntIn(1, kMaxBenchBytes));
    collectives_->add_option("--ranks", o.ranks, "sim: ranks (default 8)")->check(IntIn(1, 1024));
    collectives_->add_option("--iters", o.iters, "Timed calls per size (default 20)")
        ->check(IntIn(1, 1000000));
    collectives_->add_option("--warmup", o.warmup, "Untimed calls per size (default 3)")
        ->check(IntIn(0, 1000000));
    collectives_->add_option("--alpha-us", o.alpha_us, "sim: link latency, microseconds")
        ->check(FiniteIn(0, 1e6));
    collectives_->add_option("--bw-gbs", o.bw_gbs, "sim: link bandwidth, GB/s")
        ->check(FiniteIn(1e-6, 1e6));
    collectives_->add_flag("--compare-raw", o.compare_raw,
                           "Time the baseline in the same run: raw MPI_* (mpi) or flat (sim)");
    collectives_->add_option("--islands", o.islands,
                             "Composed allreduce over K islands vs a flat ring (bench/islands.sh)");
    collectives_->add_option("--bridge-slowdown", o.bridge_slowdown,
                             "sim --islands: bridge bandwidth = --bw-gbs / this (default 10)");
    collectives_->add_option("--bridge-alpha-us", o.bridge_alpha_us,
                             "sim --islands: bridge latency, microseconds (default 20)");
    collectives_->add_option("--bridge-gbs", o.bridge_gbs,
                             "mpi --islands: the bridge link's rate in GB/s (for bridge_fraction)");
    collectives_->add_option("--segment-bytes", o.segment_bytes,
                             "--islands: pipeline segment (default 4 MiB)");
    collectives_->add_option("--chunk-bytes", o.chunk_bytes,
                             "--islands: bridge message / staging chunk (default 1 MiB)");
    collectives_->fallthrough();
  }

  absl::Status Run(const GlobalOptions& global) override {
    options_.json = options_.json || global.json;
    TANGRAM_ASSIGN_OR_RETURN(options_.op, collectives::ParseCollectiveOp(op_));
    TANGRAM_ASSIGN_OR_RETURN(options_.algo, collectives::ParseAlgorithm(algo_));
    if (options_.min_bytes > options_.max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--min-bytes (", options_.min_bytes, ") exceeds --max-bytes (", options_.max_bytes, ")"));
    }
    // Estimate the memory first: on sim every rank (a thread here) holds a send, a receive and a
    // scratch buffer of the largest message; under MPI this process holds one rank's.
    const double ranks_here = options_.transport == "sim" ? options_.ranks : 1;
    const double needed = 3.0 * static_cast<double>(options_.max_bytes) * ranks_here;
    const double physical =
        static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
    if (physical > 0 && needed > physical / 2) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--max-bytes %d on %g rank(s) needs ~%.1f GiB of buffers, more than half of this "
          "machine's %.1f GiB: use a smaller --max-bytes or fewer --ranks",
          options_.max_bytes, ranks_here, needed / (1 << 30), physical / (1 << 30)));
    }
    return collectives::RunBenchmark(options_);
  }

 private:
  CLI::App* collectives_ = nullptr;
  collectives::BenchmarkOptions options_;
  std::string op_ = "allreduce", algo_ = "auto";  // parsed into options_ by Run
};

}  // namespace

std::unique_ptr<Command> MakeBenchCommand() { return std::make_unique<BenchCommand>(); }

}  // namespace tangram::orchestrator
