#!/usr/bin/env bash
# No hang across hosts: two namespace hosts with 2 ranks each train under mpirun (with the keepalive
# settings of the recipes); host 1's NIC goes down mid-run. The job must end within the timeout +
# 10 s with a non-zero exit code, and the output must name host 1 as the one that was lost.
#   netns_link_down_test.sh TANGRAM_BINARY CHECKPOINT_DIFF
set -u
tangram=${1:?tangram binary}
source "$(dirname "$0")/netns_lib.sh"
P=mhl
dir=$(mktemp -d /tmp/tangram_netns_link.XXXXXX)
mpid=""
trap '[ -n "$mpid" ] && kill -KILL $mpid 2>/dev/null; bash "$netns" down $P; [ -n "${TANGRAM_KEEP_LOGS:-}" ] && cp "$dir/log" "$TANGRAM_KEEP_LOGS/link-down.log"; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; tail -40 "$dir/log"; exit 1; }
timeout_s=${TIMEOUT_S:-15}

bash "$netns" up $P 2 || fail "netns up"
write_tiny_job "$dir" 4 "${P}0 ${P}1" 400
"$tangram" hostfile --job "$dir/job.yaml" --out "$dir/hostfile" || fail "tangram hostfile"
netns_mpirun $P "$dir/hostfile" 4 "$tangram" train --job "$dir/job.yaml" --no-rebalance \
  --timeout "$timeout_s" >"$dir/log" 2>&1 &
mpid=$!
for _ in $(seq 1 600); do
  grep -q "step    3/" "$dir/log" && break
  kill -0 $mpid 2>/dev/null || fail "the job ended before step 3"
  sleep 0.2
done
grep -q "step    3/" "$dir/log" || fail "no step 3 within 120 s"
start=$EPOCHREALTIME
bash "$netns" link $P 1 down
limit=$((timeout_s + 40))
while kill -0 $mpid 2>/dev/null; do
  [ "$(elapsed "$start" | cut -d. -f1)" -lt "$limit" ] ||
    fail "mpirun still running $limit s after the link went down (hang)"
  sleep 0.1
done
wait $mpid; rc=$?
mpid=""
took=$(elapsed "$start")
echo "job ended $took s after the link went down (timeout $timeout_s s), exit code $rc"
awk -v e="$took" -v l="$((timeout_s + 10))" 'BEGIN{exit !(e <= l)}' || fail "ended after $took s > timeout + 10 s"
[ "$rc" -ne 0 ] || fail "exit code 0 after a cut link"
grep -E "Remote daemon.* on node ${P}1|unresponsive.*\(host ${P}1\)" "$dir/log" ||
  fail "no message names host ${P}1"
grep "unresponsive" "$dir/log"
echo PASS
