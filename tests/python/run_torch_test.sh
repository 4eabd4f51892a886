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
exec "$mpiexec" -np "$np" --oversubscribe --allow-run-as-root --bind-to none \
  -x PYTHONPATH -x OMP_NUM_THREADS -x TANGRAM_SOURCE_DIR "$python" "$script" "$@"
