# The shared start of the namespace-host tests, sourced as `source "$here/test_lib.sh" TAG`: skips
# (exit 77, with the reason) where namespaces cannot be made, and sets
#   netns  the harness (netns.sh), P  a host prefix unique to this run (TAG + pid, 8 characters),
#   work   a scratch folder (kept with KEEP=1), fail  print FAIL and exit 1;
# on exit the hosts are torn down and the scratch folder removed.
netns="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/netns.sh"
bash "$netns" check || exit $?
P=$1$$
P=${P:0:8}
work=$(mktemp -d "/tmp/$1-netns.XXXXXX")
trap 'bash "$netns" down "$P"; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
