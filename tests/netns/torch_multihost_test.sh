#!/usr/bin/env bash
# tangram.torch across two namespace hosts (tests/netns/netns.sh) joined by a 100 Mbit/s link:
# 3 ranks under mpirun, two on host 0 and one on host 1, so every collective and pipeline message
# crosses the shaped link.
#   0. the ranks measure the link before planning (measured_links_plan.py), and the plan is
#      costed on it;
#   1. uneven data parallelism equals one process (tests/python/dp_equivalence_test.py);
#   2. a 3-stage pipeline with a stage on each side equals one process (pipeline_equivalence.py
#      pp3);
#   3. host 1's NIC taken down mid-training: the ranks on host 0 report a failed call within their
#      15 s deadline and a margin (torch_link_lost.py), not a hang.
#   torch_multihost_test.sh PYTHON PYTHONPATH SOURCE_DIR   (PYTHON empty: package not built)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/torch_lib.sh" tm "$@"
# Ranks 0, 1 on host 0; rank 2 on host 1.
run3=(bash "$netns" mpirun "$P" -np 3 --map-by ppr:2:node --bind-to none -x PYTHONPATH
  -x TANGRAM_SOURCE_DIR -x OMP_NUM_THREADS "$python")

# 100 Mbit/s = 0.0125 GB/s.
timeout 300 "${run3[@]}" "$TANGRAM_SOURCE_DIR/tests/python/measured_links_plan.py" 0.0125 \
  >"$work/links.log" 2>&1 || { cat "$work/links.log"; fail "planning on the measured links failed"; }
grep "rank 0:\|measured_links_plan:" "$work/links.log"

timeout 300 "${run3[@]}" "$TANGRAM_SOURCE_DIR/tests/python/dp_equivalence_test.py" >"$work/dp.log" 2>&1 ||
  { cat "$work/dp.log"; fail "data parallelism across the hosts failed"; }
grep "dp_equivalence:" "$work/dp.log"

timeout 300 "${run3[@]}" "$TANGRAM_SOURCE_DIR/tests/python/pipeline_equivalence.py" pp3 >"$work/pp.log" 2>&1 ||
  { cat "$work/pp.log"; fail "the pipeline across the hosts failed"; }
grep -i "pp3" "$work/pp.log" | head -3

"${run3[@]}" "$here/torch_link_lost.py" >"$work/lost.log" 2>&1 &
job=$!
# Counted by rank, not by line: mpirun forwards each rank's text and its newline apart, so two
# ranks' lines can share one ("rank 0: readyrank 2: ready", a run of session 15).
ready() { grep -oE 'rank [0-9]+: ready' "$work/lost.log" | sort -u | wc -l; }
for _ in $(seq 120); do
  [ "$(ready)" -ge 3 ] && break
  sleep 1
done
[ "$(ready)" -ge 3 ] ||
  { kill "$job"; cat "$work/lost.log"; fail "the ranks did not start training"; }
bash "$netns" link "$P" 1 down || fail "cannot take host 1's NIC down"
cut=$(date +%s)
ok=0
for _ in $(seq 60); do  # the 15 s deadline and 45 s of margin on this shared machine
  ok=$(grep -oE 'rank [01]: lost: [A-Z_]+ OK' "$work/lost.log" | cut -d: -f1 | sort -u | wc -l)
  [ "$ok" -ge 2 ] && break
  sleep 1
done
waited=$(($(date +%s) - cut))
bash "$netns" link "$P" 1 up  # let mpirun reach host 1 again to end the job
timeout 60 tail --pid="$job" -f /dev/null || kill -9 "$job" 2>/dev/null
cat "$work/lost.log"
[ "$ok" -ge 2 ] || fail "the ranks on host 0 did not report the lost link within 60 s"
echo "PASS: tangram.torch across 2 hosts (dp and pp equal one process); host 0's ranks reported" \
  "host 1's lost link after ${waited} s"
