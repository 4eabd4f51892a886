#!/usr/bin/env bash
# Two data-parallel pairs across two namespace hosts (ranks 0,1 on host A, 2,3 on host B; pairs
# 0-2 and 1-3), each running Open MPI's in-place MPI_Iallreduce (libnbc's binomial for a group of
# two, what tensor-parallel training's gradient allreduce runs), at several sizes, NICs tc-shaped
# to RATE (tests/netns/netns.sh; root). Shows how the pairs' rate depends on the message size
# (docs/simulator.md, "tp2 on slow links"). Each row: the median over REPS of the slowest rank's
# time, each rep from a barrier (GAP seconds of busy compute before each when given).
# Usage: bench/netns_pairs/run.sh [RATE (20mbit)] [SIZES ("1048576 1710000")] [REPS (5)] [GAP (0)]
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:-20mbit}
sizes=${2:-"1048576 1710000"}
reps=${3:-5}
gap=${4:-0}
netns=tests/netns/netns.sh
P=${NETNS_PREFIX:-npr}
bash "$netns" check || exit $?
bin=$(mktemp -d)/pairs
mpicc -O2 -o "$bin" bench/netns_pairs/pairs.c
trap 'bash "$netns" down "$P" >/dev/null 2>&1; rm -rf "$(dirname "$bin")"' EXIT
bash "$netns" up "$P" 2 "$rate" >/dev/null
for size in $sizes; do
  bash "$netns" mpirun "$P" -np 4 --map-by ppr:2:node "$bin" "$size" "$gap" "$reps" 1 | grep '^bytes'
done
