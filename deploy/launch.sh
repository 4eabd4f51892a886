#!/usr/bin/env bash
# Launches a Tangram training job under Open MPI: one rank per device (per CPU core for CPU runs).
#   deploy/launch.sh -np 4 configs/jobs/local-tiny-gpt.yaml [extra tangram train flags]
# Adds the flags Open MPI needs on small or root-owned machines (--oversubscribe when there are
# fewer cores than ranks; --allow-run-as-root as root) and pins one BLAS thread per rank.
set -euo pipefail
np=4
if [ "${1:-}" = "-np" ]; then np="$2"; shift 2; fi
job="${1:?usage: deploy/launch.sh [-np N] JOB.yaml [tangram train flags...]}"; shift
here="$(cd "$(dirname "$0")/.." && pwd)"
tangram="${TANGRAM_BIN:-$here/build/default/orchestrator/tangram}"
[ -x "$tangram" ] || tangram="$(command -v tangram)"
flags=(-np "$np" -x OPENBLAS_NUM_THREADS=1 -x OMP_NUM_THREADS=1)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
[ "$(nproc)" -lt "$np" ] && flags+=(--oversubscribe)
exec mpirun "${flags[@]}" "$tangram" train --job "$job" "$@"
