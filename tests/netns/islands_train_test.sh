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
tangram=$1
source "$here/test_lib.sh" is

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
source "$(dirname "$0")/../cluster/tiny_job.sh"
write_tiny_model "$work"
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

# The planner keeps replicas inside one island; this test wants dp 4 across both, so it takes the
# planner's plan and spreads it: replica r on device r, 2 samples each.
"$tangram" plan --job "$work/job.yaml" --out "$work/planned.json" >/dev/null ||
  fail "tangram plan failed"
/usr/bin/python3 - "$work/planned.json" "$work/plan.json" <<'PY' || fail "cannot write the dp-4 plan"
import copy, json, sys
plan = json.load(open(sys.argv[1]))
plan["parallelism"]["dp"] = 4
replica = plan["replicas"][0]
plan["replicas"] = []
for r in range(4):
    rep = copy.deepcopy(replica)
    rep.update(index=r, samples=2, micro_batches=1)
    plan["replicas"].append(rep)
cell = plan["stages"][0]["cells"][0]
plan["stages"][0]["cells"] = []
for r in range(4):
    c = copy.deepcopy(cell)
    c.update(devices=[r], replica=r)
    plan["stages"][0]["cells"].append(c)
plan["unused_devices"] = []
plan["notes"] = ["islands_train_test: dp 4 across the islands"]
json.dump(plan, open(sys.argv[2], "w"), indent=1)
PY

# Ranks 0,1 on host 0 (island nvidia), 2,3 on host 1 (island ascend): rank r runs device r.
timeout 300 bash "$netns" mpirun "$P" -np 4 --map-by ppr:2:node -x OPENBLAS_NUM_THREADS=1 \
  "$tangram" train --job "$work/job.yaml" --transport mpi --plan "$work/plan.json" \
  --no-rebalance --checkpoint-dir "$work/ckpt-islands" --timeout 60 \
  --metrics "$work/islands.jsonl" >"$work/islands.log" 2>&1 ||
  { cat "$work/islands.log"; fail "training across the islands failed"; }
grep -q "islands: 2 islands" "$work/islands.log" ||
  { cat "$work/islands.log"; fail "the runtime did not use the composed islands communicator"; }
timeout 300 "$tangram" train --job "$work/job.yaml" --transport sim --no-islands \
  --plan "$work/plan.json" --no-rebalance --checkpoint-dir "$work/ckpt-one" --timeout 60 \
  --metrics "$work/one.jsonl" >"$work/one.log" 2>&1 ||
  { cat "$work/one.log"; fail "the one-process run failed"; }
grep "islands:" "$work/islands.log"
/usr/bin/python3 - "$work/islands.jsonl" "$work/one.jsonl" <<'PY' || fail "losses differ"
import json, sys
def losses(path):
    return [json.loads(line)["loss"] for line in open(path) if line.strip()]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
print("dp 4 across 2 islands on 2 hosts: losses", a)
print("one process (sim, one transport): losses", b)
assert len(a) == len(b) == 4, (a, b)
for x, y in zip(a, b):
    assert abs(x - y) <= 1e-5 * abs(y), (x, y)
PY
echo "PASS: dp 4 across 2 islands on 2 namespace hosts trains as one process"
