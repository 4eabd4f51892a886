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
# Up to 3 re-probes, one per streak of 3 slow steps: one of them sees the shaped link. The run
# must still be training when the link is shaped (about 0.2 s after the plan line): at global
# batch 8 a step of this model takes ~2 ms once waiting ranks yield their core (the MPI wait
# policy), so 12 steps ended before the shaping; batch 64 and 100 steps keep it ~1 s. Over 100
# AdamW steps a few near-zero-gradient elements drift on rounding alone: the largest difference
# allowed is 1e-2 (checkpoint_diff's LARGEST), the mean stays at 1e-5, which a lost step or a
# wrong batch share cannot pass.
steps=100

bash "$netns" up $P 2 || fail "netns up"
write_tiny_job "$dir" 2 "${P}0 ${P}1" $steps
sed -i 's/^global_batch: 8$/global_batch: 64/' "$dir/job.yaml"
grep -q "^global_batch: 64$" "$dir/job.yaml" || fail "job batch not set"
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
"$diff_tool" "$dir/ckpt" "$dir/reference/ckpt" 1e-2 || fail "parameters differ from one process"
echo PASS
