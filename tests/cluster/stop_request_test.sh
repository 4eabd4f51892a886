#!/usr/bin/env bash
# A stop request in the middle of a run under a real mpirun: SIGUSR1 to mpirun (what Slurm's
# `--signal=B:USR1@T` and deploy/launch.sh pass on), which forwards it to every rank. The job must
# end within a step or two with exit 3, every rank at the same step, that step's checkpoint
# committed (LATEST, metrics line of that step, none after); `--auto-resume` then continues from
# it to the job's last step. On 2 and on 3 ranks.
#   stop_request_test.sh TANGRAM_BINARY MPIRUN
set -u
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"  # Open MPI's start-up leaks
tangram=${1:?tangram binary}
mpirun=${2:-mpirun}
dir=$(mktemp -d /tmp/tangram_stop.XXXXXX)
mpid=""
cleanup() {
  [ -n "$mpid" ] && kill -KILL "$mpid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- log"; cat "$dir/log"; exit 1; }
source "$(dirname "$0")/tiny_job.sh"
steps_logged() { if [ -f "$dir/metrics.jsonl" ]; then wc -l <"$dir/metrics.jsonl"; else echo 0; fi; }
launch=("$mpirun" --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1 -x ASAN_OPTIONS)

for ranks in 2 3; do
  write_tiny_job "$dir" "$ranks" local 100000
  rm -f "$dir/metrics.jsonl"
  "${launch[@]}" -np "$ranks" "$tangram" train --job "$dir/job.yaml" --no-rebalance --timeout 20 \
    --metrics "$dir/metrics.jsonl" >"$dir/log" 2>&1 &
  mpid=$!
  for _ in $(seq 1 600); do
    [ "$(steps_logged)" -ge 3 ] && break
    kill -0 "$mpid" 2>/dev/null || fail "$ranks ranks: the job ended before step 3"
    sleep 0.2
  done
  kill -USR1 "$mpid"
  sent_at=$(steps_logged)
  for _ in $(seq 1 300); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$mpid" 2>/dev/null && fail "$ranks ranks: still running 60 s after SIGUSR1"
  wait "$mpid"
  rc=$?
  mpid=""
  [ "$rc" -eq 3 ] || fail "$ranks ranks: exit $rc, expected 3 (stopped on request)"
  grep -q "stopped on request (SIGUSR1) after step" "$dir/log" || fail "$ranks ranks: no notice"
  step=$(cat "$dir/ckpt/LATEST" 2>/dev/null) || fail "$ranks ranks: no LATEST"
  step=$((10#${step#step-}))
  lines=$(wc -l <"$dir/metrics.jsonl")
  [ "$lines" -eq "$step" ] || fail "$ranks ranks: checkpoint at step $step, $lines metrics lines"
  [ "$step" -ge "$sent_at" ] && [ "$step" -le $((sent_at + 2)) ] ||
    fail "$ranks ranks: stopped at step $step, the signal came after step $sent_at"
  grep -q "error\|FAIL" "$dir/log" && fail "$ranks ranks: an error line after a stop request"
  echo "$ranks ranks: SIGUSR1 after step $sent_at, stopped at step $step (exit 3)"

  "${launch[@]}" -np "$ranks" "$tangram" train --job "$dir/job.yaml" --no-rebalance --timeout 20 \
    --auto-resume --steps $((step + 2)) --metrics "$dir/metrics.jsonl" >"$dir/log" 2>&1 ||
    fail "$ranks ranks: the resumed run failed"
  [ "$(wc -l <"$dir/metrics.jsonl")" -eq $((step + 2)) ] || fail "$ranks ranks: resumed steps"
  [ "$(cat "$dir/ckpt/LATEST")" = "$(printf 'step-%06d' $((step + 2)))" ] ||
    fail "$ranks ranks: LATEST $(cat "$dir/ckpt/LATEST") after the resumed run"
  echo "$ranks ranks: resumed from step $step to $((step + 2))"
done
echo "PASS"
