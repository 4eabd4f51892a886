#!/usr/bin/env bash
# The composed islands allreduce against a flat ring over every rank, side by side in one run
# (docs/collectives.md, "Islands"): allreduce of 1–256 MiB over 2 islands whose bridge is 10×
# slower than the island links. Targets: ours ≥ 2× faster than the flat ring at ≥ 16 MiB, and the
# bridge busbw ≥ 0.85 of the bridge's rate. Each row says which cross-island algorithm was chosen.
#
#   1. sim link model (EMULATION of the links, virtual time): 8 ranks in 2 islands of 4, island
#      links 5 µs / 25 GB/s, bridge 20 µs / 2.5 GB/s per rank; flat = our ring over all 8 ranks
#      through the same transport.
#   2. with --netns (root, tests/netns/netns.sh): 2 namespace hosts, 2 ranks each, one island per
#      host, the hosts' NICs tc-shaped to RATE (default 1gbit); MPI inside each host, the bridge
#      over the shaped link; flat = our ring over all 4 ranks through MPI point-to-point. Wall
#      time, median of 5 rounds; sizes 1–64 MiB (256 MiB through a shaped NIC takes minutes).
# The row's `bridge` column is 2(K−1)/K · bytes ÷ time: for 2 islands exactly the bytes each island
# sends over the bridge ÷ time; `fraction` divides it by one island's bridge rate per direction
# (sim: 4 ports × 2.5 GB/s; namespace hosts: RATE). --baseline BIN runs every section again with
# another tangram binary (e.g. one built from an earlier commit) right after ours, in the same
# setup, for a side-by-side comparison.
# Usage: bench/islands.sh [--json] [--netns [RATE]] [--baseline BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
tangram="${TANGRAM_BIN:-build/default/orchestrator/tangram}"
[ -x "$tangram" ] || { cmake --preset default >/dev/null && cmake --build --preset default --target tangram >/dev/null; }
json=() netns=0 rate=1gbit bins=("$tangram")
while [ $# -gt 0 ]; do
  case $1 in
    --json) json=(--json) ;;
    --netns) netns=1; if [ $# -gt 1 ] && [[ $2 != --* ]]; then rate=$2; shift; fi ;;
    --baseline)
      [ $# -gt 1 ] && [ -x "$2" ] || { echo "$0: --baseline needs an executable" >&2; exit 2; }
      bins+=("$2"); shift ;;
    *) echo "usage: $0 [--json] [--netns [RATE]] [--baseline BIN]" >&2; exit 2 ;;
  esac
  shift
done

for bin in "${bins[@]}"; do
echo "== 1. sim link model (EMULATION): 2 islands x 4 ranks, bridge 10x slower than island links ($bin)"
"$bin" bench collectives --transport sim --islands 2 --ranks 8 --alpha-us 5 --bw-gbs 25 \
  --bridge-slowdown 10 --bridge-alpha-us 20 --min-bytes 1048576 --max-bytes 268435456 "${json[@]}"
done

if [ $netns -eq 1 ]; then
  here=tests/netns/netns.sh
  bash "$here" check || exit $?
  P=isl$$
  P=${P:0:8}
  trap 'bash "$here" down "$P"' EXIT
  bash "$here" up "$P" 2 "$rate"
  gbs=$(echo "$rate" | awk '{r=tolower($1); m=1; if (r ~ /gbit$/) m=1e9; else if (r ~ /mbit$/) m=1e6;
    sub(/[a-z]+$/, "", r); printf "%.6f", r*m/8/1e9}')
  for bin in "${bins[@]}"; do
  echo "== 2. namespace hosts: 2 islands x 2 ranks, bridge = NICs shaped to $rate ($gbs GB/s) ($bin)"
  timeout 1200 bash "$here" mpirun "$P" -np 4 --map-by ppr:2:node -x OPENBLAS_NUM_THREADS=1 \
    "$(realpath "$bin")" bench collectives --transport mpi --islands 2 --bridge-gbs "$gbs" \
    --min-bytes 1048576 --max-bytes 67108864 --iters 5 "${json[@]}"
  done
fi
