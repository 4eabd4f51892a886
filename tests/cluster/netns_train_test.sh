#!/usr/bin/env bash
# Training across namespace hosts (2 ranks per host), with the parameters of one process:
#   2 hosts, pipeline across hosts (stage 0 on mh0, stage 1 on mh1; data parallel inside each);
#   2 hosts, data parallel across hosts (each replica's two stages on one host);
#   3 hosts, a 3-stage pipeline across the hosts, data parallel inside each;
#   3 hosts, data parallel across all six ranks (one stage).
# Each run's final checkpoint is compared with a one-process run of the same job (checkpoint_diff,
# the runtime tests' tolerance). The hostfile comes from `tangram hostfile`, and every rank's host
# is checked against the fleet by `tangram train` itself.
#   netns_train_test.sh TANGRAM_BINARY CHECKPOINT_DIFF
set -u
tangram=${1:?tangram binary}
diff_tool=${2:?checkpoint_diff binary}
source "$(dirname "$0")/netns_lib.sh"
P=mht
dir=$(mktemp -d /tmp/tangram_netns_train.XXXXXX)
trap 'bash "$netns" down $P; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/log" ] && tail -30 "$dir/log"; exit 1; }
steps=3

bash "$netns" up $P 3 || fail "netns up"

# case NAME HOSTS BOUNDS STAGE_DEVICES SHARES
run_case() {
  local name=$1 hosts=$2 bounds=$3 devices=$4 shares=$5
  local d="$dir/$name" np
  mkdir -p "$d"
  np=$(($(echo "$hosts" | wc -w) * 2))
  write_tiny_job "$d" "$np" "$hosts" "$steps"
  write_plan "$d/plan.json" "$bounds" "$devices" "$shares"
  "$tangram" hostfile --job "$d/job.yaml" --out "$d/hostfile" || fail "$name: tangram hostfile"
  local start=$EPOCHREALTIME
  netns_mpirun $P "$d/hostfile" "$np" "$tangram" train --job "$d/job.yaml" --plan "$d/plan.json" \
    --no-rebalance --timeout 60 >"$dir/log" 2>&1 || fail "$name: training failed"
  grep -q "step    $steps/$steps" "$dir/log" || fail "$name: no step $steps"
  for h in $hosts; do grep -q "  $h  " "$dir/log" || fail "$name: no rank reported host $h"; done
  if [ ! -d "$dir/reference/ckpt" ]; then
    mkdir -p "$dir/reference"
    cp "$d"/{job,fleet,model}.yaml "$dir/reference/"
    "$tangram" train --job "$dir/reference/job.yaml" --transport sim --ranks 1 --no-rebalance \
      >"$dir/reference/log" 2>&1 || fail "one-process reference failed"
  fi
  "$diff_tool" "$dir/reference/ckpt" "$d/ckpt" || fail "$name: parameters differ from one process"
  echo "ok: $name ($np ranks on $hosts) in $(elapsed "$start") s"
}

run_case pipeline-across-2-hosts "${P}0 ${P}1" 0,2,4 "0,1;2,3" 4,4
run_case data-parallel-across-2-hosts "${P}0 ${P}1" 0,2,4 "0,2;1,3" 5,3
run_case pipeline-across-3-hosts "${P}0 ${P}1 ${P}2" 0,1,2,4 "0,1;2,3;4,5" 4,4
# dp 6 over 3 hosts, the whole model per replica: its ~100 KiB gradient allreduce (in place, with
# a deadline) crosses nodes and runs as the mpi communicator's ring, not libnbc's binomial tree.
run_case data-parallel-across-3-hosts "${P}0 ${P}1 ${P}2" 0,4 "0,1,2,3,4,5" 2,2,1,1,1,1

# A hostfile in the wrong order (mpirun's --map-by node) is refused, naming which rank sits where.
d="$dir/pipeline-across-2-hosts"
bash "$netns" exec $P 0 mpirun --hostfile "$d/hostfile" --map-by node -np 4 \
  --mca plm_rsh_agent "/tmp/netns-$P/rsh" --mca btl tcp,vader,self \
  --mca btl_tcp_if_include 10.99.0.0/24 --mca oob_tcp_if_include 10.99.0.0/24 \
  --allow-run-as-root --oversubscribe -x OMPI_ALLOW_RUN_AS_ROOT=1 \
  -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$tangram" train --job "$d/job.yaml" --plan "$d/plan.json" \
  --checkpoint-dir "$d/ckpt-misordered" --timeout 60 >"$dir/log" 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "misordered hostfile: exit $rc, expected 2"
grep -q "rank 1 runs on host ${P}1 but the fleet puts device 1 (nodes\[1\]) on host ${P}0" "$dir/log" ||
  fail "misordered hostfile: no error naming rank 1's host"
echo "ok: ranks mapped by node are refused with rank 1 on ${P}1 named"
echo PASS
