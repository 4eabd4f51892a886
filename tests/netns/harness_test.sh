#!/usr/bin/env bash
# The namespace-host harness makes real hosts for Open MPI: ranks land on distinct host names, a
# shaped NIC caps the cross-host rate, and a host whose NIC is down is unreachable.
#   harness_test.sh TANGRAM_BINARY
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tangram=$1
source "$here/test_lib.sh" nh

bash "$netns" up "$P" 2 50mbit || fail "cannot make 2 hosts"
names=$(timeout 60 bash "$netns" mpirun "$P" -np 4 --map-by node hostname | sort | uniq -c)
echo "$names"
[ "$(echo "$names" | wc -l)" -eq 2 ] || fail "expected ranks on 2 hosts, got: $names"
echo "$names" | grep -q "2 ${P}0" && echo "$names" | grep -q "2 ${P}1" ||
  fail "expected 2 ranks on each of ${P}0 and ${P}1"

# One rank per host: a 4 MiB allreduce crosses the 50 Mbit/s NIC; its bus bandwidth cannot exceed
# the shaped rate (6.25 MB/s) by more than the tbf burst allows. This asserts the shaping took
# effect (a physical upper bound), not how fast anything is.
out=$(timeout 120 bash "$netns" mpirun "$P" -np 2 --map-by node "$tangram" bench collectives \
  --transport mpi --op allreduce --min-bytes 4194304 --max-bytes 4194304 --iters 2 --warmup 1 --json)
echo "$out"
busbw=$(echo "$out" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
rows = [r for r in rows if "busbw_gbs" in r] or rows
print(rows[-1].get("busbw_gbs", rows[-1].get("busbw", -1)))')
echo "busbw ${busbw} GB/s across a 50 Mbit/s NIC"
/usr/bin/python3 -c "import sys; b=float('$busbw'); sys.exit(0 if 0 < b < 0.0075 else 1)" ||
  fail "bus bandwidth $busbw GB/s is not below the shaped 0.00625 GB/s (+20%)"

# A host whose NIC is down cannot be reached from the other.
bash "$netns" link "$P" 1 down
if timeout 20 bash "$netns" mpirun "$P" -np 2 --map-by node hostname >/dev/null 2>&1; then
  fail "mpirun reached ${P}1 with its NIC down"
fi
bash "$netns" link "$P" 1 up

# A link cut under a running job: mpirun must end (naming the lost host), not wait for it. Before
# netns.sh passed the keepalive settings, mpirun was still running minutes after a cut.
bash "$netns" mpirun "$P" -np 2 --map-by node sleep 120 >"$work/cut.log" 2>&1 &
job=$!
sleep 3
bash "$netns" link "$P" 1 down
start=$SECONDS
while kill -0 "$job" 2>/dev/null && [ $((SECONDS - start)) -lt 30 ]; do sleep 0.5; done
if kill -0 "$job" 2>/dev/null; then
  kill "$job"
  fail "mpirun still running 30 s after ${P}1's link went down"
fi
echo "mpirun ended $((SECONDS - start)) s after the cut"
grep -q "on node ${P}1" "$work/cut.log" || { cat "$work/cut.log"; fail "mpirun did not name ${P}1"; }
bash "$netns" link "$P" 1 up
echo "PASS"
