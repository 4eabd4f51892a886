#!/usr/bin/env bash
# Namespace hosts: real multi-host runs on one machine (see shared/reference/multihost.md).
#
# A prefix P names one set of hosts P0..P{N-1}. Each host is a network namespace with its own host
# name (unshare --uts) and its own /etc/hosts (bind-mounted in a private mount namespace), joined by
# one veth "NIC" to a Linux bridge in a hub namespace P-hub: a switch, so every host has one NIC and
# one address 10.99.0.(i+1)/24, as on a real cluster. Shaping a host's NIC (tc tbf on both ends of
# its veth) limits that host's traffic in both directions; Open MPI's TCP transport cannot tell this
# from separate machines. Only namespaces named after P are created or removed.
#
# With --mesh (at most 8 hosts) there is no hub: every pair of hosts is joined by its own veth pair
# (host a's interface to host b is "e<b>", addresses 10.99.L.1 and 10.99.L.2/24 with L = 1 + 8a +
# b), the full mesh of shared/reference/multihost.md's recipe. Each host's /etc/hosts names every
# other host by its address on their direct link, so a host reaches each peer over its own link and
# traffic to two peers does not share a NIC.
#
#   netns.sh check                # exit 0 when namespaces can be made here, else 77 and the reason
#   netns.sh up P N [RATE] [--mesh] # N hosts, each NIC (each link) shaped to RATE (tc syntax:
#                                 # 200mbit, 2gbit); --mesh: a full mesh of links, no hub
#   netns.sh shape P A [B] RATE   # re-shape host A's NIC (and B's when given); RATE "none" unshapes.
#                                 # Mesh: A alone shapes every link of A (both ends), A B the
#                                 # A-B link only
#   netns.sh link P A [B] up|down # take host A's NIC down or up (star: B, when given, is ignored,
#                                 # there are no per-pair links; cutting A's NIC cuts A from all).
#                                 # Mesh: A alone every link of A, A B the A-B link only
#   netns.sh topology P           # print "star" or "mesh"
#   netns.sh kill P A             # SIGKILL every process in host A
#   netns.sh exec P A cmd...      # run cmd inside host A, with its host name and /etc/hosts
#   netns.sh mpirun P args...     # mpirun from host P0 over the hosts (hostfile, rsh agent, tcp)
#   netns.sh hostfile P           # print the hostfile's path (one "Pi slots=8" line per host)
#   netns.sh down P               # remove the hosts, the hub and the work directory
set -uo pipefail

die() { echo "netns.sh: $*" >&2; exit 2; }
dir_of() { echo "/tmp/netns-$1"; }
subnet="10.99.0.0/16"  # the star's 10.99.0.0/24 and every mesh link

cmd_check() {
  [ "$(id -u)" -eq 0 ] || { echo "netns: needs root to create network namespaces" >&2; exit 77; }
  command -v ip >/dev/null && command -v tc >/dev/null && command -v unshare >/dev/null ||
    { echo "netns: ip, tc or unshare missing (iproute2, util-linux)" >&2; exit 77; }
  local probe="nchk$$"
  ip netns add "$probe" 2>/dev/null || { echo "netns: 'ip netns add' is not permitted here" >&2; exit 77; }
  local ok=0
  ip netns exec "$probe" unshare --uts --mount true 2>/dev/null || ok=1
  ip link add "${probe}a" type veth peer name "${probe}b" 2>/dev/null || ok=2
  ip link del "${probe}a" 2>/dev/null
  ip netns del "$probe"
  [ $ok -eq 1 ] && { echo "netns: unshare --uts --mount is not permitted here" >&2; exit 77; }
  [ $ok -eq 2 ] && { echo "netns: veth pairs cannot be created here" >&2; exit 77; }
  exit 0
}

# Applies (or removes, for "none") a tbf qdisc on one interface inside one namespace.
shape_dev() {
  local ns=$1 dev=$2 rate=$3
  tc -n "$ns" qdisc del dev "$dev" root 2>/dev/null
  [ "$rate" = none ] && return 0
  # burst must hold at least one rate-interval of traffic at the timer's granularity, or tbf
  # under-delivers at high rates; 1 ms worth (floor 64 kb) keeps the long-run rate at RATE.
  tc -n "$ns" qdisc add dev "$dev" root tbf rate "$rate" burst "$(burst_for "$rate")" latency 100ms ||
    die "tc tbf on $ns/$dev failed (rate $rate)"
}

burst_for() {
  local rate=$1 bits
  bits=$(echo "$rate" | awk '{r=tolower($1); m=1;
    if (r ~ /gbit$/) m=1e9; else if (r ~ /mbit$/) m=1e6; else if (r ~ /kbit$/) m=1e3;
    sub(/[a-z]+$/, "", r); printf "%d", r*m}')
  local bytes=$((bits / 8 / 1000))
  [ "$bytes" -lt 65536 ] && bytes=65536
  echo "${bytes}b"
}

cmd_down() {
  local P=$1 d
  d=$(dir_of "$P")
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${P}([0-9]+|-hub)$"); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$d"
}

cmd_up() {
  local mesh=0 args=() a
  for a in "$@"; do if [ "$a" = --mesh ]; then mesh=1; else args+=("$a"); fi; done
  set -- "${args[@]}"
  [ $# -ge 2 ] && [ $# -le 3 ] || die "usage: up P N [RATE] [--mesh]"
  local P=$1 N=$2 rate=${3:-none}
  [[ "$P" =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "prefix must be 1-8 lowercase letters/digits: $P"
  [[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 32 ] || die "host count must be 1..32: $N"
  [ $mesh -eq 0 ] || [ "$N" -le 8 ] || die "a mesh has at most 8 hosts: $N"
  cmd_down "$P"
  local d hub="${P}-hub"
  d=$(dir_of "$P")
  mkdir -p "$d"
  if [ $mesh -eq 1 ]; then
    up_mesh "$P" "$N" "$rate"
  else
    up_star "$P" "$N" "$rate"
  fi
  write_rsh "$d"
  echo "$N" >"$d/count"
  echo "$rate" >"$d/rate"
}

# Host a's address on its direct link to host b (a != b), and the link's third octet.
mesh_octet() { local a=$1 b=$2; [ "$a" -lt "$b" ] && echo $((1 + 8 * a + b)) || echo $((1 + 8 * b + a)); }
mesh_addr() { local a=$1 b=$2; echo "10.99.$(mesh_octet "$a" "$b").$([ "$a" -lt "$b" ] && echo 1 || echo 2)"; }

up_mesh() {
  local P=$1 N=$2 rate=$3 d a b
  d=$(dir_of "$P")
  for ((a = 0; a < N; a++)); do
    ip netns add "$P$a" || die "cannot create namespace $P$a"
    ip -n "$P$a" link set lo up
    echo "$P$a slots=8" >>"$d/hostfile"
  done
  for ((a = 0; a < N; a++)); do
    for ((b = a + 1; b < N; b++)); do
      ip link add "${P}x$a-$b" netns "$P$a" type veth peer name "${P}y$a-$b" netns "$P$b" ||
        die "cannot create the veth pair $P$a-$P$b"
      ip -n "$P$a" link set "${P}x$a-$b" name "e$b"
      ip -n "$P$b" link set "${P}y$a-$b" name "e$a"
      ip -n "$P$a" addr add "$(mesh_addr "$a" "$b")/24" dev "e$b"
      ip -n "$P$b" addr add "$(mesh_addr "$b" "$a")/24" dev "e$a"
      ip -n "$P$a" link set "e$b" up
      ip -n "$P$b" link set "e$a" up
      shape_dev "$P$a" "e$b" "$rate"
      shape_dev "$P$b" "e$a" "$rate"
    done
  done
  # Open MPI's TCP transport pairs each of a host's interfaces with one of the peer's, whatever
  # the subnets, and fails ("Network is unreachable") on a pair with no route. So host a reaches
  # every address of host b over their direct link (a /32 route per address, the replies likewise;
  # reverse-path filtering off): a mesh of single links, as MPI sees a cluster of routed NICs.
  local c
  for ((a = 0; a < N; a++)); do
    ip netns exec "$P$a" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    for ((b = 0; b < N; b++)); do
      [ "$b" -eq "$a" ] && continue
      ip netns exec "$P$a" sysctl -qw "net.ipv4.conf.e$b.rp_filter=0"
      for ((c = 0; c < N; c++)); do
        [ "$c" -eq "$b" ] || [ "$c" -eq "$a" ] && continue
        ip -n "$P$a" route add "$(mesh_addr "$b" "$c")/32" dev "e$b" ||
          die "cannot route to $P$b's address on its link to $P$c"
      done
    done
  done
  for ((a = 0; a < N; a++)); do
    {
      echo "127.0.0.1 localhost"
      # Its own name on its first link's address (any of its addresses would do).
      if [ "$N" -gt 1 ]; then echo "$(mesh_addr "$a" $((a == 0 ? 1 : 0))) $P$a"; else echo "127.0.1.1 $P$a"; fi
      for ((b = 0; b < N; b++)); do
        if [ "$b" -ne "$a" ]; then echo "$(mesh_addr "$b" "$a") $P$b"; fi
      done
    } >"$d/hosts.$P$a"
  done
  echo mesh >"$d/topology"
}

up_star() {
  local P=$1 N=$2 rate=$3 d hub="${P}-hub"
  d=$(dir_of "$P")
  ip netns add "$hub" || die "cannot create namespace $hub"
  ip -n "$hub" link set lo up
  ip -n "$hub" link add br0 type bridge
  ip -n "$hub" link set br0 up
  : >"$d/hostfile"
  local hosts="127.0.0.1 localhost"$'\n'
  for ((i = 0; i < N; i++)); do hosts+="10.99.0.$((i + 1)) $P$i"$'\n'; done
  for ((i = 0; i < N; i++)); do
    local h="$P$i"
    ip netns add "$h" || die "cannot create namespace $h"
    ip -n "$h" link set lo up
    ip link add "${P}n$i" netns "$h" type veth peer name "${P}p$i" netns "$hub" ||
      die "cannot create veth for $h"
    ip -n "$h" link set "${P}n$i" name eth0
    ip -n "$h" addr add "10.99.0.$((i + 1))/24" dev eth0
    ip -n "$h" link set eth0 up
    ip -n "$hub" link set "${P}p$i" master br0
    ip -n "$hub" link set "${P}p$i" up
    printf '%s' "$hosts" >"$d/hosts.$h"
    echo "$h slots=8" >>"$d/hostfile"
    shape_dev "$h" eth0 "$rate"
    shape_dev "$hub" "${P}p$i" "$rate"
  done
  echo star >"$d/topology"
}

# The rsh agent Open MPI calls as "rsh HOST command...": the command runs inside HOST.
write_rsh() {
  local d=$1
  cat >"$d/rsh" <<RSH
#!/usr/bin/env bash
h=\$1; shift
exec ip netns exec "\$h" unshare --uts --mount bash -c \\
  "hostname \$h; mount --bind $d/hosts.\$h /etc/hosts; exec \"\\\$@\"" _ bash -c "\$*"
RSH
  chmod +x "$d/rsh"
}

host_ns() {
  local P=$1 A=$2
  [ -f "$(dir_of "$P")/count" ] || die "no hosts with prefix $P (run: netns.sh up $P N)"
  [[ "$A" =~ ^[0-9]+$ ]] && [ "$A" -lt "$(cat "$(dir_of "$P")/count")" ] || die "no host $P$A"
  echo "$P$A"
}

topology_of() { cat "$(dir_of "$1")/topology" 2>/dev/null || echo star; }

# Mesh: the links a command names — every link of A, or the A-B link — as "a b" lines.
mesh_links() {
  local P=$1 A=$2 B=${3:-} n b
  host_ns "$P" "$A" >/dev/null || exit 2
  if [ -n "$B" ]; then
    host_ns "$P" "$B" >/dev/null || exit 2
    [ "$A" -ne "$B" ] || die "host $A has no link to itself"
    echo "$A $B"
    return
  fi
  n=$(cat "$(dir_of "$P")/count")
  for ((b = 0; b < n; b++)); do
    if [ "$b" -ne "$A" ]; then echo "$A $b"; fi
  done
}

cmd_shape() {
  local P=$1; shift
  local rate=${!#} hosts=("${@:1:$#-1}") a b
  [ ${#hosts[@]} -ge 1 ] || die "usage: shape P A [B] RATE"
  if [ "$(topology_of "$P")" = mesh ]; then
    [ ${#hosts[@]} -le 2 ] || die "usage: shape P A [B] RATE"
    mesh_links "$P" "${hosts[@]}" >"$(dir_of "$P")/links" || exit 2
    while read -r a b; do
      shape_dev "$P$a" "e$b" "$rate"
      shape_dev "$P$b" "e$a" "$rate"
    done <"$(dir_of "$P")/links"
    return
  fi
  for A in "${hosts[@]}"; do
    host_ns "$P" "$A" >/dev/null || exit 2
    shape_dev "$P$A" eth0 "$rate"
    shape_dev "$P-hub" "${P}p$A" "$rate"
  done
}

cmd_link() {
  local P=$1 A=$2 state=${!#} a b
  [ "$state" = up ] || [ "$state" = down ] || die "usage: link P A [B] up|down"
  host_ns "$P" "$A" >/dev/null || exit 2
  if [ "$(topology_of "$P")" = mesh ]; then
    local B=""
    [ $# -eq 4 ] && B=$3
    mesh_links "$P" "$A" $B >"$(dir_of "$P")/links" || exit 2
    while read -r a b; do ip -n "$P$a" link set "e$b" "$state"; done <"$(dir_of "$P")/links"
    # Setting a device down drops the routes through it (the kernel's doing): up again, host a
    # gets its /32 routes over that link back (cmd_up), or MPI finds the pair unreachable.
    [ "$state" = up ] || return 0
    local n c
    n=$(cat "$(dir_of "$P")/count")
    while read -r a b; do
      for ((c = 0; c < n; c++)); do
        [ "$c" -eq "$b" ] || [ "$c" -eq "$a" ] && continue
        ip -n "$P$a" route replace "$(mesh_addr "$b" "$c")/32" dev "e$b"
      done
    done <"$(dir_of "$P")/links"
    return
  fi
  ip -n "$P-hub" link set "${P}p$A" "$state"
}

cmd_exec() {
  local P=$1 A=$2; shift 2
  local h d
  h=$(host_ns "$P" "$A") || exit 2
  d=$(dir_of "$P")
  ip netns exec "$h" unshare --uts --mount bash -c \
    "hostname $h; mount --bind $d/hosts.$h /etc/hosts; exec \"\$@\"" _ "$@"
}

cmd_mpirun() {
  local P=$1; shift
  local d
  d=$(dir_of "$P")
  [ -f "$d/hostfile" ] || die "no hosts with prefix $P"
  # The keepalive settings of the recipes (docs/cluster.md): mpirun notices a host it can no
  # longer reach (a cut link) in about 5 s and ends the job naming it. Without them, after the
  # reachable ranks had reported the cut and aborted, mpirun waited for the lost host's daemon
  # (still running 7 minutes after a cut at 50 Mbit/s, --timeout 30). Later arguments override.
  cmd_exec "$P" 0 mpirun --hostfile "$d/hostfile" --mca plm_rsh_agent "$d/rsh" \
    --mca btl tcp,vader,self --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet" \
    --mca oob_tcp_keepalive_time 1 --mca oob_tcp_keepalive_intvl 1 --mca oob_tcp_keepalive_probes 3 \
    --allow-run-as-root --oversubscribe \
    -x OMPI_ALLOW_RUN_AS_ROOT=1 -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$@"
}

[ $# -ge 1 ] || die "usage: netns.sh check|up|shape|link|kill|exec|mpirun|hostfile|topology|down ..."
sub=$1; shift
case "$sub" in
  check) cmd_check ;;
  up) [ $# -ge 2 ] || die "usage: up P N [RATE] [--mesh]"; cmd_up "$@" ;;
  topology) [ $# -eq 1 ] || die "usage: topology P"; topology_of "$1" ;;
  down) [ $# -eq 1 ] || die "usage: down P"; cmd_down "$1" ;;
  shape) [ $# -ge 3 ] || die "usage: shape P A [B] RATE"; cmd_shape "$@" ;;
  link) [ $# -ge 3 ] || die "usage: link P A [B] up|down"; cmd_link "$@" ;;
  kill) [ $# -eq 2 ] || die "usage: kill P A"; h=$(host_ns "$1" "$2") || exit 2
    ip netns pids "$h" | xargs -r kill -9 ;;
  exec) [ $# -ge 3 ] || die "usage: exec P A cmd..."; cmd_exec "$@" ;;
  mpirun) [ $# -ge 2 ] || die "usage: mpirun P args..."; cmd_mpirun "$@" ;;
  hostfile) [ $# -eq 1 ] || die "usage: hostfile P"; echo "$(dir_of "$1")/hostfile" ;;
  *) die "unknown subcommand $sub" ;;
esac
