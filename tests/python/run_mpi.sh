#!/bin/bash
# Runs one tests/python script under mpirun: run_mpi.sh PYTHON PKG_DIR NP SCRIPT ARGS...
# PKG_DIR: the build tree's python folder (holds the tangram package with _tangram).
# Exits 77 (ctest SKIP) when PYTHON has no torch or the package was not built.
set -u
python=$1 pkg=$2 np=$3
shift 3
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "SKIP: $python cannot import torch (install python3-torch; deploy/install-deps.sh)"
  exit 77
fi
if [ ! -d "$pkg/tangram" ]; then
  echo "SKIP: the tangram Python package was not built in $pkg"
  exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$pkg:$here${PYTHONPATH:+:$PYTHONPATH}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# One thread per rank: the ranks share the machine's cores.
exec timeout 120 mpirun -np "$np" --oversubscribe --bind-to none "$python" "$@"
