# Shared by the namespace-host tests: the harness (tests/netns/netns.sh), a skip when namespaces
# cannot be made here (exit 77, with the reason), and mpirun over a hostfile of our own (in fleet
# order, from `tangram hostfile`) with the harness's rsh agent and TCP settings.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
netns="$here/../netns/netns.sh"
source "$here/tiny_job.sh"
[ -f "$netns" ] || { echo "SKIP: tests/netns/netns.sh not found"; exit 77; }
bash "$netns" check || exit 77

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN{printf "%.1f", b - a}'; }

# What deploy/launch.sh and the recipes pass to mpirun (docs/cluster.md): Open MPI's connection
# to each host's daemon sends a TCP keepalive after 1 s idle and every 1 s, and gives up after 3
# missed ones, so that mpirun notices a host it cannot reach (a cut link, a dead machine) in about
# 5 s and ends the job naming the host. Without it mpirun waits for that host for many minutes,
# even after every reachable rank has aborted (measured here: > 45 s, killed).
keepalive=(--mca oob_tcp_keepalive_time 1 --mca oob_tcp_keepalive_intvl 1
           --mca oob_tcp_keepalive_probes 3)

# netns_mpirun P HOSTFILE NP args...: mpirun from host P0.
netns_mpirun() {
  local P=$1 hostfile=$2 np=$3; shift 3
  bash "$netns" exec "$P" 0 mpirun --hostfile "$hostfile" --map-by slot -np "$np" "${keepalive[@]}" \
    --mca plm_rsh_agent "/tmp/netns-$P/rsh" --mca btl tcp,vader,self \
    --mca btl_tcp_if_include 10.99.0.0/24 --mca oob_tcp_if_include 10.99.0.0/24 \
    --allow-run-as-root --oversubscribe -x OMPI_ALLOW_RUN_AS_ROOT=1 \
    -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 -x OPENBLAS_NUM_THREADS=1 "$@"
}
