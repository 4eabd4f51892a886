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
  # A test of a failing job: it passes when that many ranks printed "rank N: ... OK", whatever
  # mpirun's status (the failed job ends with status 1 by design). Counted by rank, not by line:
  # mpirun forwards each rank's text and its newline apart, so two ranks' reports can share a
  # line ("... OKbad_input_test: rank 0: ... OK", CI of e4aacc3).
  output=$("${launch[@]}" 2>&1)
  echo "$output"
  ok=$(grep -oE 'rank [0-9]+: [^:]* OK' <<<"$output" | awk '{print $2}' | sort -u | wc -l)
  echo "run_torch_test: $ok of $TANGRAM_EXPECT_OK_LINES ranks reported OK"
  [ "$ok" -ge "$TANGRAM_EXPECT_OK_LINES" ]
  exit
fi
exec "${launch[@]}"
