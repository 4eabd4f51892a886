#!/usr/bin/env bash
# Two islands on two namespace hosts joined by a tc-shaped link (tests/netns/netns.sh): `tangram
# train` under mpirun, 2 ranks per host, the fleet's island of each host a different one, so the
# runtime trains through the composed "islands" communicator (MPI inside each host, the bridge
# over the shaped link) with dp 4 across the islands. It must train the same model as one process:
# the same job in-process on the sim transport with one transport for every rank (--no-islands);
# the per-step losses (each a function of the parameters the previous steps produced) must agree
# to 1e-5 relative.
#   islands_train_test.sh TANGRAM_BINARY
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
netns="$here/netns.sh"
tangram=$1
bash "$netns" check || exit $?
P=is$$
P=${P:0:8}
work=$(mktemp -d /tmp/is-train.XXXXXX)
trap 'bash "$netns" down "$P"; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

bash "$netns" up "$P" 2 200mbit || fail "cannot make 2 hosts"
cat >"$work/fleet.yaml" <<YAML
name: islands-test
nodes:
  - device: cpu
    devices_per_node: 2
    count: 1
    host: ${P}0
    island: nvidia
  - device: cpu
    devices_per_node: 2
    count: 1
    host: ${P}1
    island: ascend
YAML
cat >"$work/model.yaml" <<YAML
name: test-gpt
layers: 2
hidden: 32
ffn_hidden: 64
heads: 2
kv_heads: 2
vocab: 256
seq_len: 16
mlp: gelu
YAML
cat >"$work/job.yaml" <<YAML
fleet: fleet.yaml
model: model.yaml
global_batch: 8
micro_batch: 2
precision: fp32
zero_stage: 0
recompute: none
strategy: auto
transport: mpi
steps: 4
checkpoint_dir: ckpt
seed: 7
learning_rate: 0.01
layout:
  tp: 1
  pp: 1
YAML

# Ranks 0,1 on host 0 (island nvidia), 2,3 on host 1 (island ascend): rank r runs device r.
timeout 300 bash "$netns" mpirun "$P" -np 4 --map-by ppr:2:node -x OPENBLAS_NUM_THREADS=1 \
  "$tangram" --json train --job "$work/job.yaml" --transport mpi --catalog-throughput \
  --no-rebalance --checkpoint-dir "$work/ckpt-islands" --timeout 60 >"$work/islands.json" \
  2>"$work/islands.err" || { cat "$work/islands.err"; fail "training across the islands failed"; }
timeout 300 "$tangram" --json train --job "$work/job.yaml" --transport sim --no-islands \
  --catalog-throughput --no-rebalance --checkpoint-dir "$work/ckpt-one" --timeout 60 \
  >"$work/one.json" 2>"$work/one.err" || { cat "$work/one.err"; fail "the one-process run failed"; }
/usr/bin/python3 - "$work/islands.json" "$work/one.json" <<'PY' || fail "losses differ"
import json, sys
def load(path):
    for line in open(path):
        line = line.strip()
        if line.startswith("{") and "losses" in line:
            return json.loads(line)
    raise SystemExit(f"no result in {path}")
a, b = load(sys.argv[1]), load(sys.argv[2])
print("plan across islands: dp", a["plan"]["dp"], "losses", a["losses"])
print("one process:                 losses", b["losses"])
assert a["plan"]["dp"] == 4, a["plan"]["dp"]
assert len(a["losses"]) == len(b["losses"]) == 4
for x, y in zip(a["losses"], b["losses"]):
    assert abs(x - y) <= 1e-5 * abs(y), (x, y)
PY
echo "PASS: dp 4 across 2 islands on 2 namespace hosts trains as one process"
