#!/usr/bin/env bash
# GPU check for the collectives library: builds the NCCL transport, runs its tests (label "gpu")
# and the NCCL collective benchmark, in well under 5 minutes on one GPU machine.
#
#   deploy/gpu-check.sh [build-dir]      (default: build-gpu)
#
# Needs CUDA and NCCL under /usr/local/cuda (or NCCL_HOME), Open MPI, and at least one GPU.
# Exit status: 0 when every step passed; the first failing step's status otherwise.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-${root}/build-gpu}"
jobs="$(nproc 2>/dev/null || echo 4)"
gpus="$(nvidia-smi -L 2>/dev/null | wc -l || true)"
mpi_flags=(--allow-run-as-root --oversubscribe)

step() { printf '\n== %s (%ss)\n' "$1" "${SECONDS}"; }

step "configure (NCCL required)"
if [[ "${gpus}" -lt 1 ]]; then
  echo "gpu-check: no GPU visible to nvidia-smi; the NCCL tests would only skip" >&2
  exit 1
fi
cmake -S "${root}" -B "${build}" -DCMAKE_BUILD_TYPE=Release -DTANGRAM_WITH_NCCL=ON \
  -DTANGRAM_WITH_MPI=ON -DTANGRAM_WERROR=ON

step "build the collectives targets"
cmake --build "${build}" -j "${jobs}" --target collectives_nccl_test collectives_unit_test \
  collectives_mpi_test tangram

step "NCCL tests (label gpu)"
(cd "${build}" && ctest -L gpu --output-on-failure --timeout 180)

step "NCCL tests under mpirun, one rank per GPU (${gpus})"
mpirun -np "${gpus}" "${mpi_flags[@]}" "${build}/tests/collectives/collectives_nccl_test"

tangram="${build}/orchestrator/tangram"
for op in allreduce allgather reduce_scatter broadcast; do
  step "NCCL benchmark: ${op}, ${gpus} rank(s), 1 KiB .. 256 MiB"
  timeout 60 mpirun -np "${gpus}" "${mpi_flags[@]}" "${tangram}" bench collectives --transport nccl --op "${op}" \
    --min-bytes 1024 --max-bytes $((256 << 20)) --iters 20 --warmup 5
done

if /usr/bin/python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  step "tangram.torch on CUDA tensors over NCCL, one rank per GPU (${gpus})"
  cmake --build "${build}" -j "${jobs}" --target _tangram
  TANGRAM_SOURCE_DIR="${root}" PYTHONPATH="${build}/python" timeout 180 mpirun -np "${gpus}" \
    "${mpi_flags[@]}" -x PYTHONPATH -x TANGRAM_SOURCE_DIR /usr/bin/python3 \
    "${root}/tests/python/cuda_nccl_test.py"
else
  step "tangram.torch CUDA check skipped: /usr/bin/python3 has no CUDA-enabled torch"
fi

step "MPI suite for comparison (np 2)"
timeout 120 mpirun -np 2 "${mpi_flags[@]}" "${build}/tests/collectives/collectives_mpi_test"

step "done: every GPU check passed in ${SECONDS}s"
