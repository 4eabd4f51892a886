#!/usr/bin/env bash
# A link that slows down mid-run is re-probed and planned on: two namespace hosts with one rank
# each train under mpirun; once the run has planned on the measured (unshaped) link, host 1's NIC
# is shaped to 20 Mbit/s. The slow steps must re-probe the link ("re-probed links after 3 slow
# steps"), see it changed and re-plan on it, and the final parameters must equal a one-process run.
#   netns_reprobe_test.sh TANGRAM_BINARY CHECKPOINT_DIFF
set -u
tangram=${1:?tangram binary}
diff_tool=${2:?checkpoint_diff binary}
source "$(dirname "$0")/netns_lib.sh"
P=rp
dir=$(mktemp -d /tmp/tangram_netns_reprobe.XXXXXX)
mpid=""
trap '[ -n "$mpid" ] && kill -KILL $mpid 2>/dev/null; bash "$netns" down $P; [ -n "${TANGRAM_KEEP_LOGS:-}" ] && cp "$dir/log" "$TANGRAM_KEEP_LOGS/reprobe.log"; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/log" ] && tail -40 "$dir/log"; exit 1; }
steps=12  # up to 3 re-probes, one per streak of 3 slow steps: one of them sees the shaped link

bash "$netns" up $P 2 || fail "netns up"
write_tiny_job "$dir" 2 "${P}0 ${P}1" $steps
"$tangram" hostfile --job "$dir/job.yaml" --out "$dir/hostfile" || fail "tangram hostfile"
netns_mpirun $P "$dir/hostfile" 2 "$tangram" train --job "$dir/job.yaml" --timeout 60 \
  >"$dir/log" 2>&1 &
mpid=$!
for _ in $(seq 1 600); do
  grep -q "^plan (" "$dir/log" && break
  kill -0 $mpid 2>/dev/null || fail "the job ended before planning"
  sleep 0.1
done
grep -q "^plan (" "$dir/log" || fail "no plan within 60 s"
bash "$netns" shape $P 1 20mbit || fail "netns shape"
wait $mpid || fail "training failed"
mpid=""
grep "^  link \|^warning\|^re-probed\|^re-plan" "$dir/log"
grep -q "$(printf "step %4d/%d" $steps $steps)" "$dir/log" || fail "no step $steps"
grep -qE "^re-probed links after 3 slow steps .*: same_island [0-9.e+-]+ GB/s .*was .*; re-plan on them" \
  "$dir/log" || fail "no re-probe that saw the shaped link and re-planned"
grep -q "^re-plan after step [0-9]*: links re-probed" "$dir/log" || fail "no re-plan on the links"

mkdir -p "$dir/reference"
cp "$dir"/{job,fleet,model}.yaml "$dir/reference/"
"$tangram" train --job "$dir/reference/job.yaml" --transport sim --ranks 1 --no-rebalance \
  >"$dir/reference/log" 2>&1 || fail "one-process reference failed"
"$diff_tool" "$dir/ckpt" "$dir/reference/ckpt" || fail "parameters differ from one process"
echo PASS
