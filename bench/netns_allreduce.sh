#!/usr/bin/env bash
# Across namespace hosts, the mpi communicator's allreduce schedules side by side in one run
# (docs/collectives.md, "kAuto's allreduce across nodes is our ring"): for each host count, one
# rank per host, NICs tc-shaped to RATE (tests/netns/netns.sh; root), `tangram bench collectives
# --transport mpi --op allreduce` at 1-4 MiB with
#   native      Open MPI's libnbc as it chooses (binomial below 4 ranks; out of place on 4 ranks:
#               reduce-scatter + allgather),
#   libnbc-ring libnbc's ring (--mca coll_libnbc_iallreduce_algorithm 1),
#   ours        our ring over MPI point-to-point (--algo ring: what kAuto now runs for training's
#               polled in-place allreduce over 3+ ranks across hosts).
# Prints each row's time and, per size, ours ÷ native and ours ÷ libnbc-ring (below 1: ours
# faster). The bench calls are out of place; training's call is in place, for which libnbc's
# default is the binomial at every rank count.
# Usage: bench/netns_allreduce.sh [RATE (300mbit)] [HOSTS ("3 4")]
set -uo pipefail
cd "$(dirname "$0")/.."
tangram=${TANGRAM:-$PWD/build/default/orchestrator/tangram}
netns=tests/netns/netns.sh
rate=${1:-300mbit}
hosts=${2:-"3 4"}
P=${NETNS_PREFIX:-nar}
bash "$netns" check || exit $?
trap 'bash "$netns" down "$P" >/dev/null 2>&1' EXIT
for n in $hosts; do
  bash "$netns" up "$P" "$n" "$rate" >/dev/null || { echo "cannot make $n hosts" >&2; exit 1; }
  declare -A us=()
  for mode in native libnbc-ring ours; do
    algo=native extra=()
    [ "$mode" = libnbc-ring ] && extra=(--mca coll_libnbc_iallreduce_algorithm 1)
    [ "$mode" = ours ] && algo=ring
    while read -r size _ time _; do
      us[$mode,$size]=$time
      printf '%d hosts  %-11s %9d B  %10.0f us\n' "$n" "$mode" "$size" "$time"
    done < <(bash "$netns" mpirun "$P" -np "$n" --map-by node "${extra[@]}" "$tangram" bench \
               collectives --transport mpi --op allreduce --algo "$algo" --min-bytes 1048576 \
               --max-bytes 4194304 --iters 5 --warmup 1 2>/dev/null | awk '$NF == "OK"')
  done
  for key in "${!us[@]}"; do
    [[ $key == ours,* ]] || continue
    size=${key#ours,}
    awk -v n="$n" -v s="$size" -v o="${us[ours,$size]}" -v a="${us[native,$size]:-0}" \
      -v r="${us[libnbc-ring,$size]:-0}" 'BEGIN {
        printf "%d hosts  %9d B  ours / native %.2f   ours / libnbc-ring %.2f\n", n, s,
               (a > 0 ? o / a : 0), (r > 0 ? o / r : 0) }'
  done | sort -k3 -n
  unset us
  bash "$netns" down "$P" >/dev/null
done
