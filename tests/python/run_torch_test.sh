#!/usr/bin/env bash
# run_torch_test.sh PYTHON MPIEXEC NP SCRIPT [ARGS...]: runs a tangram.torch test script on NP
# ranks under mpirun (NP 0: one process, no mpirun), with the build tree's package on PYTHONPATH.
# Exit 77 (ctest SKIP) with the reason when the package or mpirun is not available.
set -uo pipefail
python=$1 mpiexec=$2 np=$3 script=$4
shift 4
if [ -z "$python" ]; then
  echo "SKIP: the tangram Python package was not built (needs a python3 with torch, and pybind11)"
  exit 77
fi
export PYTHONPATH="${TANGRAM_PYTHONPATH}${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS=1  # ranks share the machine's cores; one thread each keeps timings sane
if [ "$np" = 0 ]; then
  exec "$python" "$script" "$@"
fi
if [ -z "$mpiexec" ] || ! command -v "$mpiexec" >/dev/null; then
  echo "SKIP: mpirun not found"
  exit 77
fi
launch=("$mpiexec" -np "$np" --oversubscribe --allow-run-as-root --bind-to none
  -x PYTHONPATH -x OMP_NUM_THREADS -x TANGRAM_SOURCE_DIR "$python" "$script" "$@")
if [ -n "${TANGRAM_EXPECT_OK_LINES:-}" ]; then
  # A test of a failing job: it passes when that many ranks printed a line ending in " OK",
  # whatever mpirun's status (the failed job ends with status 1 by design).
  output=$("${launch[@]}" 2>&1)
  echo "$output"
  ok=$(grep -c ' OK$' <<<"$output" || true)
  echo "run_torch_test: $ok of $TANGRAM_EXPECT_OK_LINES ranks reported OK"
  [ "$ok" -ge "$TANGRAM_EXPECT_OK_LINES" ]
  exit
fi
exec "${launch[@]}"
