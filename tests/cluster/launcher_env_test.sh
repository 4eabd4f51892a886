#!/usr/bin/env bash
# Under a multi-rank mpirun: a `transport: sim` job is refused with a clear error (every rank would
# train a private simulated world), `--transport mpi` on the command line overrides the job, and a
# fleet whose `host` is not where a rank runs is an error naming which rank sits where.
# `tangram hostfile` writes the hostfile in fleet order.
#   launcher_env_test.sh TANGRAM_BINARY MPIRUN
set -u
# Open MPI 4.1 leaks in its own start-up, where LeakSanitizer cannot name the frames (see
# tests/collectives/CMakeLists.txt): sanitizer builds check leaks everywhere but under mpirun.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"  # the last setting wins
tangram=${1:?tangram binary}
mpirun=${2:-mpirun}
dir=$(mktemp -d /tmp/tangram_launcher.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; echo "--- log"; cat "$dir/log" 2>/dev/null; exit 1; }
source "$(dirname "$0")/tiny_job.sh"
run() { "$mpirun" --allow-run-as-root --oversubscribe -np 2 -x OPENBLAS_NUM_THREADS=1 -x ASAN_OPTIONS \
  "$tangram" train --job "$dir/job.yaml" --no-rebalance --timeout 30 "$@" >"$dir/log" 2>&1; }

write_tiny_job "$dir" 2 local 2
sed -i 's/^transport: mpi/transport: sim/' "$dir/job.yaml"
run; rc=$?
[ "$rc" -eq 2 ] || fail "sim job under mpirun -np 2: exit $rc, expected 2"
grep -q 'transport "sim" runs every rank as a thread of one process, but a launcher started 2 processes (OMPI_COMM_WORLD_SIZE=2)' "$dir/log" ||
  fail "no clear refusal of the sim job"
grep -q "step " "$dir/log" && fail "the refused job trained"
echo "ok: sim job refused under mpirun -np 2"

run --transport mpi; rc=$?
[ "$rc" -eq 0 ] || fail "--transport mpi override: exit $rc"
grep -q "step    2/2" "$dir/log" || fail "--transport mpi override did not train"
echo "ok: --transport mpi overrides the job's sim"

write_tiny_job "$dir" 2 "$(hostname) not-this-host" 2
run; rc=$?
[ "$rc" -eq 2 ] || fail "misplaced rank: exit $rc, expected 2"
grep -q "rank 1 runs on host $(hostname) but the fleet puts device 1 (nodes\[1\]) on host not-this-host" "$dir/log" ||
  fail "the placement error does not say which rank sits where"
echo "ok: a rank on the wrong host is refused, naming it"

"$tangram" hostfile --fleet "$dir/fleet.yaml" >"$dir/log" 2>&1 || fail "tangram hostfile failed"
printf '%s slots=1 max_slots=1\nnot-this-host slots=1 max_slots=1\n' "$(hostname)" | diff - "$dir/log" ||
  fail "hostfile not in fleet order"
"$tangram" hostfile --fleet "$dir/fleet.yaml" --format slurm >"$dir/log" 2>&1 || fail "slurm format"
printf '%s\nnot-this-host\n' "$(hostname)" | diff - "$dir/log" || fail "slurm host list"
"$tangram" hostfile --fleet "$dir/fleet.yaml" --exclude not-this-host --fleet-out "$dir/small.yaml" \
  >"$dir/log" 2>&1 || fail "--exclude failed"
printf '%s slots=1 max_slots=1\n' "$(hostname)" | diff - "$dir/log" || fail "--exclude hostfile"
"$tangram" validate "$dir/small.yaml" >/dev/null || fail "the reduced fleet does not validate"
echo "ok: tangram hostfile (openmpi, slurm, --exclude)"
# A fleet that names no hosts, named with --nodes (the shipped cluster fleets): --exclude drops the
# node from the hostfile and from the fleet's count (it kept both).
printf 'name: unnamed\nnodes:\n  - {device: cpu, devices_per_node: 2, count: 3}\n' >"$dir/unnamed.yaml"
"$tangram" hostfile --fleet "$dir/unnamed.yaml" --nodes na,nb,nc --exclude nb \
  --fleet-out "$dir/unnamed-small.yaml" >"$dir/log" 2>&1 || fail "--nodes --exclude failed"
printf 'na slots=2 max_slots=2\nnc slots=2 max_slots=2\n' | diff - "$dir/log" ||
  fail "--nodes --exclude hostfile"
grep -q "count: 2" "$dir/unnamed-small.yaml" || fail "--nodes --exclude: the fleet kept 3 nodes"
"$tangram" validate "$dir/unnamed-small.yaml" >/dev/null || fail "the reduced fleet does not validate"
echo "ok: tangram hostfile --nodes with --exclude"
# Steps much slower than the plan predicts (EMULATION: rank 1's compute stretched 40x from step 2)
# are reported once per streak, measured against predicted.
write_tiny_job "$dir" 2 local 6
"$tangram" train --job "$dir/job.yaml" --transport sim --ranks 2 --no-rebalance \
  --emulate-change 1:2:40 >"$dir/log" 2>&1 || fail "emulated slow run failed"
grep -qE "^warning: steps [0-9]+-[0-9]+ took [0-9.]+ s \(last\) against a predicted [0-9.]+ s \(\+[0-9]+%, more than 50% over for 3 steps\)" \
  "$dir/log" || fail "no slow-step warning"
echo "ok: $(grep -m1 '^warning: steps' "$dir/log")"
# The elastic supervisor on a fleet that names no host (`host: local`): refused with the way out
# (it could not run such a job at all), then run with --nodes naming this machine.
write_tiny_job "$dir" 2 local 2
elastic() { TANGRAM_BIN="$tangram" bash "$(dirname "$0")/../../deploy/launch.sh" --elastic \
  --max-restarts 0 --workdir "$dir/elastic" "$@" "$dir/job.yaml" --no-rebalance --timeout 30 \
  >"$dir/log" 2>&1; }
elastic; rc=$?
[ "$rc" -eq 2 ] || fail "--elastic on a local fleet without --nodes: exit $rc, expected 2"
grep -q "names no host: give each node group a \`host\`, or name the nodes with --nodes" "$dir/log" ||
  fail "--elastic without hosts does not say to give --nodes"
elastic --nodes "$(hostname)"; rc=$?
[ "$rc" -eq 0 ] || fail "--elastic --nodes $(hostname): exit $rc"
grep -q "launch: attempt 0: 2 ranks on $(hostname)" "$dir/log" || fail "--elastic --nodes: no attempt"
grep -q "step    2/2" "$dir/log" || fail "--elastic --nodes did not train"
echo "ok: launch.sh --elastic --nodes runs a fleet that names no host"
# The elastic supervisor blames the host whose rank died, not one whose rank died of SIGPIPE
# writing to it (a healthy host was dropped so, 1 run in 3 of a user's audit).
printf '%s\n' \
  'mpirun noticed that process rank 1 with PID 10 on node h51 exited on signal 13 (Broken pipe).' \
  'mpirun noticed that process rank 4 with PID 11 on node h52 exited on signal 9 (Killed).' \
  >"$dir/elastic.log"
blamed_hosts=$(source <(sed -n '/^blamed() {/,/^}/p' "$(dirname "$0")/../../deploy/launch.sh") &&
  blamed "$dir/elastic.log")
[ "$blamed_hosts" = h52 ] || fail "elastic blame: got '$blamed_hosts', expected h52 only"
echo "ok: a rank that died of SIGPIPE does not get its host dropped"
echo PASS
