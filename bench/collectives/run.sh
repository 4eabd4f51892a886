#!/usr/bin/env bash
# The collectives benchmark, each table beside its baseline in the same run (docs/collectives.md):
#   1. MPI transport vs raw MPI_Allreduce, 4 ranks (target: ratio >= 0.97 at >= 64 KiB)
#   2. our ring allreduce over MPI point-to-point vs native MPI_Allreduce (target: >= 0.77 at >= 1 MiB)
#   3. simulated transport, 64 ranks: virtual time of ring vs the flat baseline, and wall time
#   4. simulated transport, 64 ranks: 1,000 small allreduces (target: < 1 s wall, i.e. < 1,000 us each)
# On mpi ours and raw are interleaved in up to 11 rounds on the same buffers; times are medians
# over rounds and the ratio is the median per-round ratio (collectives/benchmark.cc, MeasureMpi).
# The machine is shared: run it 2-3 times and take the median of each row.
# Usage: bench/collectives/run.sh [--json]
set -euo pipefail
cd "$(dirname "$0")/../.."
tangram="${TANGRAM_BIN:-build/default/orchestrator/tangram}"
[ -x "$tangram" ] || { cmake --preset default >/dev/null && cmake --build --preset default --target tangram >/dev/null; }
mpi=(mpirun -np 4 --oversubscribe -x OPENBLAS_NUM_THREADS=1)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
echo "== 1. MPI transport (native collectives) vs raw MPI_Allreduce, 4 ranks"
"${mpi[@]}" "$tangram" bench collectives --transport mpi --algo native --compare-raw \
  --min-bytes 65536 --max-bytes 4194304 --iters 55 "$@"
echo "== 2. Ring allreduce over MPI point-to-point vs raw MPI_Allreduce, 4 ranks"
"${mpi[@]}" "$tangram" bench collectives --transport mpi --algo ring --compare-raw \
  --min-bytes 1048576 --max-bytes 8388608 --iters 33 "$@"
echo "== 3. Simulated transport, 64 ranks: ring vs flat (virtual time), wall time per call"
"$tangram" bench collectives --transport sim --ranks 64 --algo ring --compare-raw \
  --min-bytes 1024 --max-bytes 4194304 --iters 5 "$@"
echo "== 4. Simulated transport, 64 ranks: 1,000 small (64-float) allreduces, wall per call (target < 1,000 us)"
"$tangram" bench collectives --transport sim --ranks 64 --algo auto \
  --min-bytes 4 --max-bytes 4 --iters 1000 "$@"
