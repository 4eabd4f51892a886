#!/usr/bin/env bash
# Inputs a user writes for a multi-host run that are valid but awkward, on 2 namespace hosts
# (tests/netns/netns.sh), `tangram train` under mpirun: each must run or stop with a clear error
# (exit 2, the cause named), never crash or hang (every launch runs under `timeout`).
#   - a hostfile with uneven slots (`tangram hostfile`: 2 ranks on one host, 1 on the other);
#   - 3 ranks on 2 hosts mapped 2 per node (ranks not divisible by hosts);
#   - ranks not where the fleet places them (all on one host): refused, naming the ranks;
#   - more ranks than the fleet's devices: refused;
#   - a pinned layout needing more devices than the ranks (pp 2 x dp 2 on 3): refused, naming the
#     layout (it used to say "no layout fits the fleet's memory");
#   - a pinned dp 2 on 3 ranks of unequal hosts: trains dp 2 (auto used to return dp 3).
#   multihost_inputs_test.sh TANGRAM_BINARY
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tangram=$1
source "$here/test_lib.sh" mi

bash "$netns" up "$P" 2 >/dev/null || fail "cannot make 2 hosts"
cat >"$work/fleet.yaml" <<YAML
name: inputs-test
nodes:
  - {device: cpu, devices_per_node: 1, count: 1, host: ${P}0}
  - {device: cpu, devices_per_node: 1, count: 1, host: ${P}0}
  - {device: cpu, devices_per_node: 1, count: 1, host: ${P}1}
YAML
job() {  # name layout
  cat >"$work/$1.yaml" <<YAML
fleet: fleet.yaml
model: $here/../../configs/models/tiny-gpt.yaml
global_batch: 12
micro_batch: 2
precision: fp32
zero_stage: 0
recompute: none
strategy: auto
transport: mpi
steps: 2
checkpoint_dir: ckpt-$1
seed: 1
learning_rate: 0.003
layout: $2
YAML
}
job dp3 "{tp: 1, pp: 1, dp: 3}"
job pp2dp2 "{tp: 1, pp: 2, dp: 2}"
job dp2 "{tp: 1, pp: 1, dp: 2}"

harness_hostfile=$(bash "$netns" hostfile "$P")
cp "$harness_hostfile" "$work/harness.hostfile"
# launch NAME EXPECTED_RC PATTERN mpirun-args...: the run's exit code and a line of its output.
launch() {
  local name=$1 want=$2 pattern=$3
  shift 3
  rm -rf "$work/ckpt-$name"  # each launch is a fresh run (train refuses an earlier run's checkpoint)
  timeout 150 bash "$netns" mpirun "$P" --bind-to none "$@" "$tangram" train \
    --job "$work/$name.yaml" --no-rebalance --checkpoint-every 0 --probe-budget-s 5 \
    >"$work/$name-$want.out" 2>&1
  local rc=$?
  [ $rc -ne 124 ] || fail "$name: hung (killed after 150 s)"
  [ $rc -eq "$want" ] || { tail -5 "$work/$name-$want.out" >&2; fail "$name: exit $rc, expected $want"; }
  grep -q -- "$pattern" "$work/$name-$want.out" ||
    { tail -5 "$work/$name-$want.out" >&2; fail "$name: no '$pattern' in its output"; }
  echo "ok: $name exit $rc ($pattern)"
}

# Uneven slots: the hostfile `tangram hostfile` writes for the fleet (2 + 1), rank i on device i.
"$tangram" hostfile --fleet "$work/fleet.yaml" >"$harness_hostfile" || fail "tangram hostfile"
grep -q "${P}0 slots=2" "$harness_hostfile" || fail "hostfile: $(cat "$harness_hostfile")"
launch dp3 0 "step    2/2" -np 3 --map-by slot
cp "$work/harness.hostfile" "$harness_hostfile"

launch dp3 0 "step    2/2" -np 3 --map-by ppr:2:node
launch dp3 2 "ranks are not where the fleet inputs-test places them" -np 3
launch dp3 2 "describes 3 devices but 4 ranks are running" -np 4 --map-by ppr:2:node
launch pp2dp2 2 "layout tp 1 x pp 2 x dp 2 needs 4 devices" -np 3 --map-by ppr:2:node
launch dp2 0 "tp=1 pp=1 dp=2" -np 3 --map-by ppr:2:node
echo "PASS"
