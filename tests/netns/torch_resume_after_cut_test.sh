#!/usr/bin/env bash
# tangram.torch resumes from its last committed checkpoint after a host's link is cut mid-training
# (tests/netns/netns.sh: two namespace hosts joined by a 100 Mbit/s link).
#   1. 3 ranks (2 on host 0, 1 on host 1), data parallel, a checkpoint every 2 steps
#      (torch_resume_after_cut.py); host 1's NIC taken down once the ranks train: both ranks on
#      host 0 report the failed call within 60 s. Twice: the cut wherever training is (mostly in a
#      step), and the cut while ranks 0 and 1 are inside save_checkpoint (rank 0's layer files of
#      that step written, the commit not), which must leave LATEST at the previous commit.
#   2. The checkpoint directory as the cut left it: LATEST names a step directory with a manifest,
#      at or after the last step rank 0 reported committed (load_checkpoint below then checks
#      every file's size and checksum against the manifest).
#   3. Relaunched the way a user would, from that directory: (a) on the surviving host only, 2 ranks
#      with host 1 still cut off; (b) the link restored, the same 3 ranks over both hosts (each on
#      its own copy of the directory). Each resumes at a step >= the last reported commit, trains 6
#      more steps and must equal one process trained from step 0 within 1e-5, bit-identical on
#      every rank; LATEST then names the final step.
#   torch_resume_after_cut_test.sh PYTHON PYTHONPATH SOURCE_DIR   (PYTHON empty: package not built)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/torch_lib.sh" rc "$@"
driver="$here/torch_resume_after_cut.py"
ckpt="$work/ckpt"
# Ranks 0, 1 on host 0; rank 2 on host 1.
run3=(bash "$netns" mpirun "$P" -np 3 --map-by ppr:2:node --bind-to none -x PYTHONPATH
  -x TANGRAM_SOURCE_DIR -x OMP_NUM_THREADS "$python" "$driver")

# The step LATEST names ("step-000012" -> 12); fails unless that directory holds a manifest.
latest_step() {
  local dir=$1 name
  [ -f "$dir/LATEST" ] || fail "$dir has no LATEST: $(ls "$dir" 2>&1)"
  name=$(tr -d '\n' <"$dir/LATEST")
  [[ "$name" =~ ^step-[0-9]+$ ]] || fail "$dir/LATEST holds '$name', not a step"
  [ -d "$dir/$name" ] || fail "$dir/LATEST names $name, which does not exist: $(ls "$dir")"
  [ -f "$dir/$name/MANIFEST.json" ] || fail "$dir/$name has no manifest: $(ls "$dir/$name")"
  echo $((10#${name#step-}))
}

# Host 1's NIC back up, and waits until both ends of its veth report a carrier (mpirun's daemon
# on host 1 failed to connect back when launched at once after `link up`).
link_up() {
  bash "$netns" link "$P" 1 up || fail "cannot bring host 1's NIC up"
  for _ in $(seq 50); do
    ip -n "$P-hub" link show "${P}p1" | grep -q 'LOWER_UP' &&
      ip -n "${P}1" link show eth0 | grep -q 'LOWER_UP' && return 0
    sleep 0.2
  done
  fail "host 1's NIC has no carrier 10 s after link up"
}

# mpirun over both hosts; a launch whose daemons could not connect (no rank started: the link
# just came back) is tried again, up to 3 times.
run3_resume() {
  local log=$1 try; shift
  for try in 1 2 3; do
    timeout 120 "${run3[@]}" resume "$@" >"$log" 2>&1 && return 0
    if grep -q 'rank 0: ' "$log" || ! grep -q 'unable to complete a TCP connection' "$log"; then
      return 1
    fi
    echo "the 3-rank launch's daemons could not connect (try $try); launching again"
    sleep 2
  done
  return 1
}

# Ranks that printed "rank R: PATTERN" in LOG, counted by rank: mpirun forwards each rank's text
# and its newline apart, so two ranks' reports can share a line.
ranks_saying() { grep -oE "rank [0-9]+: $1" "$2" | awk '{print $2}' | sort -u | wc -l; }

# cut_and_resume MODE: one training cut off mid-way (MODE: train, the cut wherever the training
# is; train-cut-in-save, the cut while ranks 0 and 1 are inside save_checkpoint), then both
# relaunches from its directory.
cut_and_resume() {
  local mode=$1 ckpt="$work/$1" log="$work/$1.log" job cut waited ok last latest target
  # 1. Train, cut host 1 off, time the reports.
  "${run3[@]}" "$mode" "$ckpt" 2,3,4 >"$log" 2>&1 &
  job=$!
  local want='ready' count=3
  [ "$mode" = train-cut-in-save ] && want='cut me in save_checkpoint' count=1
  for _ in $(seq 120); do
    [ "$(ranks_saying "$want" "$log")" -ge $count ] && break
    sleep 1
  done
  [ "$(ranks_saying "$want" "$log")" -ge $count ] ||
    { kill "$job"; cat "$log"; fail "$mode: the ranks did not start training"; }
  if [ "$mode" = train ]; then
    sleep 2  # a few more steps and commits, so that the cut is mid-training
  else
    sleep 1  # ranks 0 and 1 into save_checkpoint, rank 0's layer files written
  fi
  bash "$netns" link "$P" 1 down || fail "cannot take host 1's NIC down"
  cut=$(date +%s)
  ok=0
  for _ in $(seq 60); do  # the 15 s deadline and 45 s of margin on this shared machine
    ok=$(ranks_saying 'lost in [a-z_]+ at step [0-9]+: [A-Za-z_]+ OK' "$log")
    [ "$ok" -ge 2 ] && break
    sleep 1
  done
  waited=$(($(date +%s) - cut))
  link_up  # let mpirun reach host 1 again to end the job
  timeout 60 tail --pid="$job" -f /dev/null || kill -9 "$job" 2>/dev/null
  grep -oE 'rank [0-9]+: (lost in [^:]*: [A-Za-z_]+ OK|cut me in [a-z_]+ [0-9]+)' "$log"
  [ "$ok" -ge 2 ] ||
    { cat "$log"; fail "$mode: the ranks on host 0 did not report the lost link within 60 s"; }
  last=$(grep -oE 'rank 0: committed [0-9]+' "$log" | tail -1 | awk '{print $4}')
  [ -n "$last" ] || fail "$mode: rank 0 reported no commit before the cut"

  # 2. The directory as the cut left it.
  latest=$(latest_step "$ckpt") || exit 1
  echo "$mode: the ranks on host 0 reported the cut after $waited s; last commit reported $last," \
    "LATEST step $latest; $(cd "$ckpt" && for d in step-*; do
      [ -f "$d/MANIFEST.json" ] && echo -n "$d " || echo -n "$d (unfinished: $(ls "$d" | wc -l) files) "
    done)"
  [ "$latest" -ge "$last" ] || fail "$mode: LATEST is step $latest, but step $last was reported committed"
  if [ "$mode" = train-cut-in-save ]; then
    # The save the cut interrupted: rank 0's layer files of it, no manifest, LATEST before it.
    local cut_step=$((last + 2))
    [ "$latest" = "$last" ] || fail "$mode: LATEST is step $latest, not the last commit $last"
    [ -d "$ckpt/step-$(printf %06d $cut_step)" ] && [ ! -f "$ckpt/step-$(printf %06d $cut_step)/MANIFEST.json" ] ||
      fail "$mode: no unfinished step $cut_step in $ckpt: the cut did not land in the save"
  fi
  target=$((latest + 6))
  cp -a "$ckpt" "$ckpt-one-host"

  # 3a. The surviving host only: 2 ranks on host 0, host 1 cut off again; the same global batch.
  bash "$netns" link "$P" 1 down || fail "cannot take host 1's NIC down"
  timeout 120 bash "$netns" exec "$P" 0 mpirun -np 2 --allow-run-as-root --oversubscribe \
    --bind-to none -x PYTHONPATH -x TANGRAM_SOURCE_DIR -x OMP_NUM_THREADS \
    -x OMPI_ALLOW_RUN_AS_ROOT=1 -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    "$python" "$driver" resume "$ckpt-one-host" 4,5 "$last" "$target" >"$log.one-host" 2>&1 ||
    { cat "$log.one-host"; fail "$mode: resuming on the surviving host (2 ranks) failed"; }
  grep -oE 'rank 0: resumed at .*' "$log.one-host"
  [ "$(latest_step "$ckpt-one-host")" = "$target" ] ||
    fail "$mode: after the 2-rank resume LATEST is not step $target"
  link_up

  # 3b. The link restored: the same 3 ranks over both hosts.
  run3_resume "$log.two-hosts" "$ckpt" 2,3,4 "$last" "$target" ||
    { cat "$log.two-hosts"; fail "$mode: resuming on both hosts (3 ranks) failed"; }
  grep -oE 'rank 0: resumed at .*' "$log.two-hosts"
  [ "$(latest_step "$ckpt")" = "$target" ] ||
    fail "$mode: after the 3-rank resume LATEST is not step $target"
  ls "$ckpt" | grep -v -e LATEST -e "step-$(printf %06d $((target - 2)))" \
    -e "step-$(printf %06d $target)" && fail "$mode: $ckpt keeps more than the last 2 steps"
  summary+=(" $mode: reported after ${waited} s, resumed at $latest (last reported $last) to $target")
}

summary=()
cut_and_resume train
cut_and_resume train-cut-in-save
echo "PASS: host 1's link cut mid-training, LATEST named a complete checkpoint at the last" \
  "reported commit, and relaunches on 2 ranks of the surviving host and on 3 ranks over both" \
  "hosts equal one process: $(IFS=';'; echo "${summary[*]}")"
