#!/usr/bin/env bash
# The README's first command: installs dependencies if missing, builds Tangram, then runs the main
# job end to end on built-in defaults:
#   1. describe a shipped mixed fleet (16 H200 + 32 Ascend 910B) and model (Llama-2 7B);
#   2. plan it: every strategy side by side, `auto` beside `uniform`;
#   3. simulate the auto plan event by event: timeline trace, Gantt chart, strategy bar chart;
#   4. train the reference GPT under mpirun on this machine: 4 CPU ranks, two of them slowed by
#      EMULATION (3x and 6x), measured, planned from the measurements, trained to a falling loss;
#   5. the same with a PyTorch model (tangram.torch, examples/torch/train_gpt.py), where torch is
#      installed (skipped with a message otherwise).
# Outputs land in out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default --target tangram
tangram=${TANGRAM_BIN:-build/default/orchestrator/tangram}
job=configs/jobs/quota-mix-llama2-7b.yaml
mkdir -p out

echo
echo "== 1. Describe a mixed fleet ($job)"
"$tangram" describe --job "$job"

echo
echo "== 2. Plan it: auto beside uniform (and the other strategies)"
"$tangram" plan --job "$job" --compare
"$tangram" plan --job "$job" --strategy auto --out out/quota-mix-plan.json

echo
echo "== 3. Simulate the auto plan"
"$tangram" simulate --job "$job" --plan out/quota-mix-plan.json --no-progress \
  --trace out/quota-mix-trace.json --gantt out/quota-mix-step.svg
"$tangram" compare --job "$job" --chart out/quota-mix-compare.svg --no-progress
echo "   wrote out/quota-mix-trace.json (open in ui.perfetto.dev), out/quota-mix-step.svg, out/quota-mix-compare.svg"

echo
echo "== 4. Train under mpirun on this machine (configs/jobs/local-tiny-gpt.yaml, 4 ranks)"
rm -rf out/local-tiny-gpt
bash deploy/launch.sh -np 4 configs/jobs/local-tiny-gpt.yaml --metrics out/local-tiny-gpt-metrics.jsonl
echo "   per-step metrics: out/local-tiny-gpt-metrics.jsonl; checkpoints: out/local-tiny-gpt/checkpoints"

echo
echo "== 5. Train your own PyTorch model: examples/torch/train_gpt.py under mpirun (4 ranks)"
python=${TANGRAM_PYTHON:-/usr/bin/python3}
if "$python" -c "import torch" 2>/dev/null && cmake --build --preset default --target _tangram >/dev/null 2>&1; then
  PYTHONPATH=build/default/python OMP_NUM_THREADS=1 mpirun -np 4 --oversubscribe --allow-run-as-root \
    --bind-to none -x PYTHONPATH -x OMP_NUM_THREADS "$python" examples/torch/train_gpt.py \
    --metrics out/local-torch-gpt-metrics.jsonl
  echo "   per-step metrics: out/local-torch-gpt-metrics.jsonl (docs/torch.md)"
else
  echo "   skipped: $python has no torch, or the tangram Python package did not build (install python3-torch, pybind11-dev, python3-dev)"
fi
