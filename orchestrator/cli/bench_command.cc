// `tangram bench collectives ...`: the nccl-tests-style collectives benchmark (algbw, busbw, a
// correctness check, and a baseline in the same run). Run it under mpirun for --transport mpi.
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
    collectives_->add_option("--op", o.op,
                             "allreduce | reduce_scatter | allgather | broadcast | reduce");
    collectives_->add_option(
        "--algo", o.algo, "auto | native | ring | halving_doubling | tree | hierarchical | flat");
    collectives_->add_option("--min-bytes", o.min_bytes, "Smallest message (default 1 KiB)");
    collectives_->add_option("--max-bytes", o.max_bytes, "Largest message (default 16 MiB)");
    collectives_->add_option("--ranks", o.ranks, "sim: ranks (default 8)");
    collectives_->add_option("--iters", o.iters, "Timed calls per size (default 20)");
    collectives_->add_option("--warmup", o.warmup, "Untimed calls per size (default 3)");
    collectives_->add_option("--alpha-us", o.alpha_us, "sim: link latency, microseconds");
    collectives_->add_option("--bw-gbs", o.bw_gbs, "sim: link bandwidth, GB/s");
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
    return collectives::RunBenchmark(options_);
  }

 private:
  CLI::App* collectives_ = nullptr;
  collectives::BenchmarkOptions options_;
};

}  // namespace

std::unique_ptr<Command> MakeBenchCommand() { return std::make_unique<BenchCommand>(); }

}  // namespace tangram::orchestrator
