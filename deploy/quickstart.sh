#!/usr/bin/env bash
# The README's first command: installs dependencies if missing, builds Tangram, and runs it on a
# shipped mixed fleet and model (configs/fleets/quota-mix.yaml, configs/models/llama2-7b.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default --target tangram
tangram=build/default/orchestrator/tangram
fleet=configs/fleets/quota-mix.yaml
model=configs/models/llama2-7b.yaml

echo
echo "== 1. Describe a mixed fleet: $fleet with $model"
"$tangram" describe --fleet "$fleet" --model "$model"
