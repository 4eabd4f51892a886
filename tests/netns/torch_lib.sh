# The shared start of the namespace-host tangram.torch tests, sourced as
# `source "$here/torch_lib.sh" TAG PYTHON PYTHONPATH SOURCE_DIR`: skips (exit 77, with the reason)
# when the Python package was not built (PYTHON empty) or namespaces cannot be made (test_lib.sh),
# brings up 2 hosts joined at 100 Mbit/s, and exports the package's PYTHONPATH (with tests/python),
# TANGRAM_SOURCE_DIR and one OpenMP thread per rank. Sets python, plus test_lib.sh's names.
python=$2
if [ -z "$python" ]; then
  echo "SKIP: the tangram Python package was not built (needs a python3 with torch, and pybind11)"
  exit 77
fi
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh" "$1"
bash "$netns" up "$P" 2 100mbit || fail "cannot make 2 hosts"
export PYTHONPATH="$3:$4/tests/python" TANGRAM_SOURCE_DIR="$4"
export OMP_NUM_THREADS=1
