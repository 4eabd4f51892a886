#!/usr/bin/env bash
# tangram.torch beside torch DistributedDataParallel, side by side in one run, on 4 CPU ranks of
# this machine under mpirun: the same model (examples/torch/gpt.py, tiny-gpt shape), data (the
# shipped corpus), global batch (24, bench/torch-bench-job.yaml) and optimizer (AdamW), alternated
# DDP / Tangram, `reps` times:
#   hetero:      the 1/1/3/6 fleet of configs/fleets/local-cpu.yaml, EMULATED on the ranks of BOTH
#                (the same Stretch hooks); DDP splits the batch evenly (gloo), Tangram by its
#                measured plan, re-balancing on.      target: Tangram >= 2.5x DDP's samples/s
#                The emulated devices run at 1/BASE of a core (slowdowns BASE x 1/1/3/6, BASE=10
#                by default): four ranks share this machine's cores with other jobs, and at BASE 1
#                the emulated fleet would need more CPU than the host gives four ranks, so the
#                host, not the balance, would set Tangram's pace (at BASE 1 on a loaded 2-core
#                machine the ceiling is the homogeneous samples/s ÷ DDP's hetero samples/s, ~2.1x).
#   homogeneous: no slowdown (CPU-bound: any overhead shows). target: Tangram >= 0.95x DDP's
# Ratios are medians over the repetitions of (Tangram samples/s ÷ DDP samples/s) measured back to
# back. The machine is shared: read the ratios, not the absolute figures. The last line is
#   {"hetero_speedup_vs_ddp": x, "homogeneous_ratio_vs_ddp": y}
# Usage: bench/torch_vs_ddp.sh [REPS] [STEPS]   (defaults: 1 repetition, 4 timed steps, BASE=10,
# PYTHON=/usr/bin/python3; one repetition takes about 7 minutes on the loaded 2-core machine)
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${1:-1}"
steps="${2:-4}"
base="${BASE:-10}"
hetero=$(awk -v b="$base" 'BEGIN { printf "%g,%g,%g,%g", b, b, 3 * b, 6 * b }')
python="${PYTHON:-/usr/bin/python3}"
build="${TANGRAM_BUILD_DIR:-build/default}"
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "torch_vs_ddp: $python has no torch (install python3-torch); skipped" >&2
  exit 0
fi
if [ ! -d "$build/python/tangram" ]; then
  cmake --preset default >/dev/null && cmake --build "$build" --target _tangram >/dev/null
fi
export PYTHONPATH="$build/python${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1
export MASTER_ADDR=127.0.0.1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {  # run MODE FLEET SLOWDOWNS
  export MASTER_PORT=$((20000 + RANDOM % 20000))
  mpirun -np 4 --oversubscribe --allow-run-as-root --bind-to none \
    -x PYTHONPATH -x OMP_NUM_THREADS -x MASTER_ADDR -x MASTER_PORT \
    "$python" bench/torch_vs_ddp.py --mode "$1" --fleet "$2" --slowdowns "$3" --steps "$steps" \
    | grep '^{' | tail -1
}
for rep in $(seq 1 "$reps"); do
  for fleet in hetero homogeneous; do
    slow=$hetero
    [ "$fleet" = homogeneous ] && slow=1,1,1,1
    d=$(run ddp "$fleet" "$slow")
    t=$(run tangram "$fleet" "$slow")
    echo "rep $rep $fleet (EMULATION slowdowns $slow): ddp $d" >&2
    echo "rep $rep $fleet: tangram $t" >&2
    echo "$fleet $d $t" >>"$out/runs"
  done
done
"$python" - "$out/runs" <<'PY'
import json, statistics, sys
ratios = {"hetero": [], "homogeneous": []}
for line in open(sys.argv[1]):
    fleet, rest = line.split(" ", 1)
    d, t = rest.strip().split("} {")
    d, t = json.loads(d + "}"), json.loads("{" + t)
    ratios[fleet].append(t["samples_per_s"] / d["samples_per_s"])
for k, v in ratios.items():
    print(f"{k}: Tangram / DDP samples/s per repetition: {', '.join(f'{x:.2f}' for x in v)}",
          file=sys.stderr)
print(json.dumps({"hetero_speedup_vs_ddp": round(statistics.median(ratios["hetero"]), 3),
                  "homogeneous_ratio_vs_ddp": round(statistics.median(ratios["homogeneous"]), 3)}))
PY
