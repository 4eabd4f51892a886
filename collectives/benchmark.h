// An nccl-tests-style benchmark of the collectives library, behind `tangram bench collectives`.
//
//   mpirun -np 4 tangram bench collectives --transport mpi --op allreduce --compare-raw
//   tangram bench collectives --transport sim --ranks 64 --algo ring --compare-raw --json
//
// For each size it checks the result once (the "correct" column), then times `iters` calls.
// algbw = S / t and busbw = algbw × nccl-tests' factor (2(p-1)/p allreduce, (p-1)/p
// reduce_scatter and allgather, 1 broadcast and reduce). On mpi/nccl t is wall time (slowest
// rank); on sim t is the *virtual* time on the simulated fleet, and wall_us is the simulation's
// own wall time. compare_raw times a baseline in the same run and prints ratio = baseline time
// ÷ our time (> 1: we are faster): raw MPI_* on mpi, the flat (naive) algorithm on sim. On mpi the
// two are interleaved in rounds on the same buffers and the ratio is the median of per-round
// ratios (see MeasureMpi in benchmark.cc).
#ifndef TANGRAM_COLLECTIVES_BENCHMARK_H_
#define TANGRAM_COLLECTIVES_BENCHMARK_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "collectives/types.h"

namespace tangram::collectives {

struct BenchmarkOptions {
  std::string transport = "sim";  // sim | mpi | nccl
  CollectiveOp op = CollectiveOp::kAllReduce;
  Algorithm algo = Algorithm::kAuto;
  size_t min_bytes = 1024;
  size_t max_bytes = 16 << 20;
  int ranks = 8;  // sim only
  int iters = 20;
  int warmup = 3;
  double alpha_us = 5.0;  // sim links
  double bw_gbs = 25.0;
  bool compare_raw = false;
  bool json = false;  // one JSON object per row instead of the table
  // Islands (islands/island_benchmark.cc): > 0 benchmarks the composed allreduce over this many
  // islands against a flat ring over every rank (sim: the bridge is bw_gbs / bridge_slowdown with
  // latency bridge_alpha_us; mpi: bridge_gbs is the measured link's rate, for bridge_fraction).
  int islands = 0;
  double bridge_slowdown = 10;
  double bridge_alpha_us = 20;
  double bridge_gbs = 0;
  size_t segment_bytes = 0;  // CommunicatorOptions::island_segment_bytes (0: default)
  size_t chunk_bytes = 0;    // CommunicatorOptions::bridge_chunk_bytes (0: default)
};

// The islands benchmark (islands/island_benchmark.cc); RunBenchmark calls it when islands > 0.
absl::Status RunIslandBenchmark(const BenchmarkOptions& options);

// Runs the benchmark and prints its rows on stdout (rank 0 only under MPI). kInvalidArgument for
// bad options; errors of the transport pass through.
absl::Status RunBenchmark(const BenchmarkOptions& options);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_BENCHMARK_H_
