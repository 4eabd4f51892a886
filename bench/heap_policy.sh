#!/usr/bin/env bash
# The reference model's heap policy (orchestrator/model/heap.h) against glibc's defaults, in one
# run: one rank trains configs/jobs/local-tiny-gpt.yaml on one CPU (10 steps) under mpirun, with the
# policy (the default) and with TANGRAM_KEEP_FREED_MEMORY=0, alternating, ROUNDS times each. Per
# run: the probe's rate, the training's rate (median of the steps after the first two), and the
# simulated step's error against the measured one. Last line, JSON:
#   {"rounds": N, "train_tflops_policy": x, "train_tflops_default": y, "speedup": x/y,
#    "median_abs_error_policy": a, "median_abs_error_default": b}
# Environment: TANGRAM (binary; default build/default/orchestrator/tangram), ROUNDS (3).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TANGRAM=${TANGRAM:-$ROOT/build/default/orchestrator/tangram}
ROUNDS=${ROUNDS:-3}
if [[ ! -x $TANGRAM ]]; then echo "no tangram binary at $TANGRAM (build it first)" >&2; exit 2; fi
WORK=$(mktemp -d /tmp/heap-policy.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/fleet.yaml" <<YAML
name: one-cpu
nodes:
  - {device: cpu, devices_per_node: 1, count: 1, island: A}
YAML
MPIRUN=(mpirun -np 1)
[[ $(id -u) -eq 0 ]] && MPIRUN+=(--allow-run-as-root)
rows=()
printf '%-8s %5s %12s %12s %10s %10s %8s\n' policy round probe_tflops train_tflops simulated measured error
for round in $(seq 1 "$ROUNDS"); do
  for policy in on off; do
    rm -rf "$WORK/ckpt" "$WORK/metrics.jsonl"
    env_value=1
    [[ $policy == off ]] && env_value=0
    TANGRAM_KEEP_FREED_MEMORY=$env_value "${MPIRUN[@]}" -x TANGRAM_KEEP_FREED_MEMORY "$TANGRAM" \
      --json train --job "$ROOT/configs/jobs/local-tiny-gpt.yaml" --fleet "$WORK/fleet.yaml" \
      --steps 10 --checkpoint-dir "$WORK/ckpt" --checkpoint-every 0 --no-rebalance \
      --metrics "$WORK/metrics.jsonl" >"$WORK/out.json" 2>"$WORK/err.log" ||
      { tail -5 "$WORK/err.log" >&2; exit 1; }
    row=$(/usr/bin/python3 - "$WORK/out.json" "$WORK/metrics.jsonl" "$policy" "$round" <<'PY'
import json, statistics, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index("{"):])
metrics = [json.loads(line) for line in open(sys.argv[2])][2:]
train = statistics.median(m["ranks"][0]["tflops_ema"] for m in metrics)
measured = statistics.median(j["step_times_s"][2:])
sim = j["simulated_step_time_s"]
print(json.dumps({"policy": sys.argv[3], "round": int(sys.argv[4]),
                  "probe_tflops": j["reports"][0]["measured_tflops"], "train_tflops": train,
                  "simulated_s": sim, "measured_s": measured, "error": sim / measured - 1}))
PY
)
    rows+=("$row")
    /usr/bin/python3 -c "import json,sys; r=json.loads(sys.argv[1]); print('%-8s %5d %12.4f %12.4f %9.4fs %9.4fs %+7.1f%%' % (r['policy'], r['round'], r['probe_tflops'], r['train_tflops'], r['simulated_s'], r['measured_s'], 100 * r['error']))" "$row"
  done
done
/usr/bin/python3 - "${rows[@]}" <<'PY'
import json, statistics, sys
rows = [json.loads(a) for a in sys.argv[1:]]
def med(policy, key, f=lambda x: x):
    return statistics.median(f(r[key]) for r in rows if r["policy"] == policy)
on, off = med("on", "train_tflops"), med("off", "train_tflops")
print(json.dumps({"rounds": len(rows) // 2, "train_tflops_policy": round(on, 5),
                  "train_tflops_default": round(off, 5), "speedup": round(on / off, 3),
                  "median_abs_error_policy": round(med("on", "error", abs), 4),
                  "median_abs_error_default": round(med("off", "error", abs), 4)}))
PY
