#!/usr/bin/env bash
# Launches a Tangram training job under Open MPI.
#
# One machine (as before): one rank per device (per CPU core for CPU runs).
#   deploy/launch.sh -np 4 configs/jobs/local-tiny-gpt.yaml [tangram train flags...]
#
# Several hosts, elastic: a supervisor around mpirun (docs/cluster.md, "After a failure").
#   deploy/launch.sh --elastic [options] JOB.yaml [tangram train flags...]
# Each attempt writes the hostfile from the fleet (`tangram hostfile`, so rank i lands on the host
# of fleet device i), runs `mpirun ... tangram train --auto-resume`, and when the job fails:
# health-checks every host of the job's fleet, leaves out the hosts that fail the check and those
# the failed attempt blamed (a rank that died on them, or that the survivors' liveness probes
# named), writes the smaller fleet and relaunches from the last committed checkpoint; the run
# re-plans on the smaller fleet by itself. A host that passes the check again is taken back at
# the next restart. Options:
#   --max-restarts N      give up after N restarts (default 3)
#   --rsh AGENT           Open MPI's plm_rsh_agent (default: mpirun's own, ssh)
#   --health-check CMD    CMD HOST exits 0 when HOST is usable (default: AGENT HOST true, 5 s)
#   --workdir DIR         hostfiles, fleets and logs of each attempt (default: a new temp dir)
#   --grace S             kill mpirun S seconds after a rank reported failure if it has not
#                         ended (mpirun can wait for a host it cannot reach; default 8)
#   --mpirun-arg ARG      one more mpirun argument (repeatable, e.g. --mpirun-arg=--mca ...)
#   --nodes NAME,...      the fleet's nodes in order, for a fleet whose groups name no host (or
#                         `host: local`), e.g. from `scontrol show hostnames` (tangram hostfile)
# Every output line of each attempt is prefixed with the wall time (EPOCHREALTIME), and the
# supervisor's own lines start with "launch:", so that detection and restart times can be read
# from the log. Exit code: the last attempt's. SIGUSR1 to the supervisor is passed to mpirun (and
# by it to every rank): the job stops after a common step with a checkpoint, exit 3, no restart.
#
# Open MPI needs --oversubscribe when there are fewer cores than ranks and --allow-run-as-root as
# root; both are added when they apply. One BLAS thread per rank.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tangram="${TANGRAM_BIN:-$here/build/default/orchestrator/tangram}"
[ -x "$tangram" ] || tangram="$(command -v tangram)"
base_flags=(-x OPENBLAS_NUM_THREADS=1 -x OMP_NUM_THREADS=1)
[ "$(id -u)" -eq 0 ] && base_flags+=(--allow-run-as-root)

if [ "${1:-}" != "--elastic" ]; then
  set -e
  np=4
  if [ "${1:-}" = "-np" ]; then np="$2"; shift 2; fi
  job="${1:?usage: deploy/launch.sh [-np N] JOB.yaml [tangram train flags...]}"; shift
  [ "$(nproc)" -lt "$np" ] && base_flags+=(--oversubscribe)
  exec mpirun -np "$np" "${base_flags[@]}" "$tangram" train --job "$job" "$@"
fi
shift

max_restarts=3 rsh="" health="" workdir="" grace=8
extra=() nodes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --max-restarts) max_restarts=$2; shift 2 ;;
    --rsh) rsh=$2; shift 2 ;;
    --health-check) health=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --grace) grace=$2; shift 2 ;;
    --mpirun-arg=*) extra+=("${1#--mpirun-arg=}"); shift ;;
    --mpirun-arg) extra+=("$2"); shift 2 ;;
    --nodes) nodes=(--nodes "$2"); shift 2 ;;
    *) break ;;
  esac
done
job="${1:?usage: deploy/launch.sh --elastic [options] JOB.yaml [tangram train flags...]}"; shift
[ -n "$workdir" ] || workdir=$(mktemp -d /tmp/tangram-launch.XXXXXX)
mkdir -p "$workdir"
say() { echo "$EPOCHREALTIME launch: $*"; }
[ -n "$rsh" ] && extra+=(--mca plm_rsh_agent "$rsh")
# mpirun's connection to each host's daemon: a keepalive after 1 s idle, every 1 s, 3 missed = the
# host is lost, so that mpirun ends the job ~5 s after a host becomes unreachable instead of
# waiting for it for minutes (docs/cluster.md). Later --mpirun-arg values override these.
extra=(--mca oob_tcp_keepalive_time 1 --mca oob_tcp_keepalive_intvl 1
       --mca oob_tcp_keepalive_probes 3 "${extra[@]}")
base_flags+=(--oversubscribe)  # -np = the hostfile's slots; CPU ranks may outnumber cores

# The hosts of the job's full fleet, in fleet order.
"$tangram" hostfile --job "$job" "${nodes[@]}" --out "$workdir/hostfile.full" || exit 2
mapfile -t all_hosts < <(awk '{print $1}' "$workdir/hostfile.full")

healthy() {  # HOST: 0 when the host answers within 5 s
  if [ -n "$health" ]; then timeout 5 $health "$1" >/dev/null 2>&1; return; fi
  # The supervisor's own machine is up (mpirun starts its ranks without the agent).
  case "$1" in localhost | "$(hostname)" | "$(hostname -s)") return 0 ;; esac
  timeout 5 "${rsh:-ssh}" "$1" true >/dev/null 2>&1
}

# Hosts the failed attempt's log blames: mpirun's notices of a dead process or lost daemon, and the
# hosts of the ranks that the survivors' liveness probes found unresponsive.
blamed() {
  local log=$1
  {
    # Not a rank that died of SIGPIPE (13, "Broken pipe"): it wrote to a peer that vanished, so it
    # is a victim of the failure, not its cause (a healthy host was dropped for it).
    grep -E 'on node [^ ]+ exited on signal' "$log" | grep -v 'signal 13 ' |
      grep -oE 'on node [^ ]+ exited on signal' | awk '{print $3}'
    grep -A3 'lost communication with a remote daemon' "$log" | grep -oE 'Remote daemon.* on node [^ ]+' |
      awk '{print $NF}'
    grep -oE 'unresponsive \(no answer[^)]*\): .*' "$log" | grep -oE '\(host [^)]+\)' |
      sed 's/(host \(.*\))/\1/'
  } | sort -u
}

rc=1
attempt=0
blame=()
while :; do
  excluded=()
  for h in "${all_hosts[@]}"; do
    if [ ${#blame[@]} -gt 0 ] && printf '%s\n' "${blame[@]}" | grep -qx "$h"; then
      say "host $h left out: the last attempt failed on it"
      excluded+=("$h")
    elif ! healthy "$h"; then
      say "host $h left out: health check failed"
      excluded+=("$h")
    fi
  done
  if [ ${#excluded[@]} -eq ${#all_hosts[@]} ] && [ ${#blame[@]} -gt 0 ]; then
    # Every host blamed (e.g. both sides of a cut named each other): trust the health check alone.
    say "every host was blamed: keeping those that pass the health check"
    excluded=()
    for h in "${all_hosts[@]}"; do healthy "$h" || excluded+=("$h"); done
  fi
  fleet_args=()
  if [ ${#excluded[@]} -gt 0 ]; then
    list=$(IFS=,; echo "${excluded[*]}")
    "$tangram" hostfile --job "$job" "${nodes[@]}" --exclude "$list" \
      --fleet-out "$workdir/fleet.$attempt.yaml" \
      --out "$workdir/hostfile.$attempt" || { say "no usable fleet left"; exit 1; }
    fleet_args=(--fleet "$workdir/fleet.$attempt.yaml")
  else
    cp "$workdir/hostfile.full" "$workdir/hostfile.$attempt"
  fi
  np=$(awk '{for (i = 2; i <= NF; ++i) if ($i ~ /^slots=/) n += substr($i, 7)} END {print n}' \
    "$workdir/hostfile.$attempt")
  log="$workdir/attempt.$attempt.log"
  say "attempt $attempt: $np ranks on $(awk '{printf "%s ", $1}' "$workdir/hostfile.$attempt")"
  # mpirun runs in the background, its output through a FIFO that the supervisor stamps line by
  # line, so that the supervisor can end mpirun when a rank has failed but mpirun waits for a host
  # it cannot reach.
  fifo="$workdir/output.$attempt"
  rm -f "$fifo"; mkfifo "$fifo"
  mpirun --hostfile "$workdir/hostfile.$attempt" --map-by slot -np "$np" "${base_flags[@]}" \
    "${extra[@]}" "$tangram" train --job "$job" "${fleet_args[@]}" --transport mpi --auto-resume \
    "$@" >"$fifo" 2>&1 &
  mpid=$!
  # SIGUSR1 (a cluster's notice before a time limit or preemption) goes on to mpirun, which
  # forwards it to every rank: they stop after a common step with a checkpoint and exit 3.
  trap 'kill -USR1 "$mpid" 2>/dev/null' USR1
  exec {out}<"$fifo"
  failed_at=""
  while :; do
    if IFS= read -r -t 1 -u "$out" line; then
      printf '%s %s\n' "$EPOCHREALTIME" "$line" | tee -a "$log"
      case "$line" in
        "tangram train: stopped on request"*) ;;
        "tangram train: "* | *"MPI_ABORT was invoked"* | *"lost communication"* | \
          *"exited on signal"*) [ -n "$failed_at" ] || failed_at=$EPOCHREALTIME ;;
      esac
    elif [ $? -le 128 ]; then
      break  # end of output: mpirun has exited
    fi
    if [ -n "$failed_at" ] && awk -v a="$failed_at" -v n="$EPOCHREALTIME" -v g="$grace" \
      'BEGIN{exit !(n - a > g)}'; then
      say "mpirun still running ${grace} s after a rank failed: ending it"
      kill -TERM "$mpid" 2>/dev/null; sleep 1; kill -KILL "$mpid" 2>/dev/null
      break
    fi
  done
  exec {out}<&-
  rm -f "$fifo"
  wait "$mpid" 2>/dev/null; rc=$?
  [ -n "$failed_at" ] && [ "$rc" -eq 0 ] && rc=1
  if [ "$rc" -eq 0 ]; then say "attempt $attempt finished"; exit 0; fi
  say "attempt $attempt failed (exit $rc)${failed_at:+; first failure report at $failed_at}"
  if [ "$rc" -eq 2 ]; then say "a usage or configuration error: not restarting"; exit 2; fi
  if [ "$rc" -eq 3 ]; then say "stopped on request with a checkpoint: not restarting"; exit 3; fi
  if [ "$attempt" -ge "$max_restarts" ]; then say "giving up after $attempt restarts"; exit "$rc"; fi
  mapfile -t blame < <(blamed "$log")
  attempt=$((attempt + 1))
done
