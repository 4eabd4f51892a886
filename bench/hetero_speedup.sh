#!/usr/bin/env bash
# Heterogeneous speed-up, side by side in one run: configs/jobs/local-tiny-gpt.yaml on
# configs/fleets/local-cpu.yaml (4 CPU ranks; ranks 2 and 3 slowed 3x and 6x by EMULATION) under
# mpirun, trained with the plan made from the ranks' measurements (strategy auto, re-balancing on,
# as the runtime runs by default) and with the baseline users have today (strategy uniform), back
# to back on the same machine. Step times are medians over the last half of each run.
#
# Reports:
#   speedup_vs_uniform   uniform step time / measured-plan step time          (target >= 3)
#   efficiency_vs_ideal  ideal step time / measured-plan step time            (target >= 0.85)
#                        ideal = the step's FLOPs / the sum of the ranks' measured throughputs,
#                        as measured in training (moving average; includes the core sharing of
#                        4 ranks on this machine). efficiency_vs_calibration uses the calibration
#                        figures instead (measured before training, with less sharing).
#   simulator_error      (simulator's step for the final plan on those throughputs - measured
#                        step) / measured step                                (|.| <= 0.10)
# Its last line is one JSON object with those keys. Usage: bench/hetero_speedup.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-16}"
tangram="${TANGRAM_BIN:-build/default/orchestrator/tangram}"
if [ ! -x "$tangram" ]; then
  cmake --preset default >/dev/null && cmake --build --preset default --target tangram >/dev/null
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
job=configs/jobs/local-tiny-gpt.yaml
export TANGRAM_BIN="$tangram"
for strategy in auto uniform; do
  echo "== $strategy: mpirun -np 4 tangram train --job $job --strategy $strategy --steps $steps" >&2
  bash deploy/launch.sh -np 4 "$job" --strategy "$strategy" --steps "$steps" \
    --checkpoint-dir "$out/ckpt-$strategy" --json >"$out/$strategy.json"
done
python3 - "$out/auto.json" "$out/uniform.json" <<'PY'
import json, statistics, sys
auto, uniform = (json.load(open(p)) for p in sys.argv[1:3])
def step(run):  # median over the last half of the run (after warm-up and any re-plan)
    times = run["step_times_s"]
    return statistics.median(times[len(times) // 2:])
t_auto, t_uniform = step(auto), step(uniform)
global_batch = sum(r["samples"] for r in auto["plan"]["replicas"])
calibration_ideal = global_batch / sum(1.0 / r["seconds_per_sample"] for r in auto["reports"])
ideal = auto["final_ideal_step_time_s"]
simulated = auto["final_simulated_step_time_s"]
for r in auto["reports"]:
    print(f"rank {r['rank']}: calibration {1/r['seconds_per_sample']:.1f} samples/s, "
          f"in training {auto['final_tflops'][r['rank']] * 1e3:.2f} GFLOP/s"
          + (f" (EMULATION {r['emulate_slowdown']:g}x)" if r["emulate_slowdown"] != 1 else ""),
          file=sys.stderr)
print(f"measured plan ({auto['strategy']}, {auto['replans']} re-plans): {t_auto:.3f} s/step; "
      f"uniform: {t_uniform:.3f} s; ideal {ideal:.3f} s (calibration ideal {calibration_ideal:.3f} s); "
      f"simulator {simulated:.3f} s", file=sys.stderr)
for line in auto["replan_log"]:
    print("  " + line, file=sys.stderr)
print(json.dumps({
    "speedup_vs_uniform": round(t_uniform / t_auto, 3),
    "efficiency_vs_ideal": round(ideal / t_auto, 3),
    "simulator_error": round((simulated - t_auto) / t_auto, 3),
    "efficiency_vs_calibration": round(calibration_ideal / t_auto, 3),
    "replans": auto["replans"],
    "step_time_s": {"measured_plan": round(t_auto, 4), "uniform": round(t_uniform, 4),
                    "ideal": round(ideal, 4), "calibration_ideal": round(calibration_ideal, 4),
                    "simulated": round(simulated, 4)},
}))
PY
