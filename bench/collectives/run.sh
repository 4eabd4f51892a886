#!/usr/bin/env bash
# The collectives benchmark, each table beside its baseline in the same run (docs/collectives.md):
#   1. MPI transport vs raw MPI_Allreduce, 4 ranks (target: ratio >= 0.97 at >= 64 KiB)
#   2. our ring allreduce over MPI point-to-point vs native MPI_Allreduce (target: >= 0.77 at >= 1 MiB)
#   3. simulated transport, 64 ranks: virtual time of ring vs the flat baseline, and wall time
# Usage: bench/collectives/run.sh [--json]
set -euo pipefail
cd "$(dirname "$0")/../.."
tangram="${TANGRAM_BIN:-build/default/orchestrator/tangram}"
[ -x "$tangram" ] || { cmake --preset default >/dev/null && cmake --build --preset default --target tangram >/dev/null; }
mpi=(mpirun -np 4 --oversubscribe -x OPENBLAS_NUM_THREADS=1)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
echo "== 1. MPI transport (native collectives) vs raw MPI_Allreduce, 4 ranks"
"${mpi[@]}" "$tangram" bench collectives --transport mpi --algo native --compare-raw \
  --min-bytes 65536 --max-bytes 4194304 --iters 50 "$@"
echo "== 2. Ring allreduce over MPI point-to-point vs raw MPI_Allreduce, 4 ranks"
"${mpi[@]}" "$tangram" bench collectives --transport mpi --algo ring --compare-raw \
  --min-bytes 1048576 --max-bytes 8388608 --iters 20 "$@"
echo "== 3. Simulated transport, 64 ranks: ring vs flat (virtual time), wall time per call"
"$tangram" bench collectives --transport sim --ranks 64 --algo ring --compare-raw \
  --min-bytes 1024 --max-bytes 4194304 --iters 5 "$@"
