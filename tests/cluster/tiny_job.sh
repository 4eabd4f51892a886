# Shared by the cluster tests: write_tiny_job DIR RANKS HOSTS STEPS [CKPT_EVERY] writes DIR/fleet.yaml
# (RANKS cpu devices; HOSTS is "local" or a space-separated list of host names, one node group per
# rank, ranks spread over the hosts in order, RANKS/#HOSTS each), DIR/model.yaml (the runtime
# tests' 2-block model) and DIR/job.yaml (transport mpi, checkpoints in DIR/ckpt).
# write_tiny_model DIR: DIR/model.yaml, the runtime tests' 2-block model (runtime_test_util.h).
write_tiny_model() {
  cat >"$1/model.yaml" <<'MODEL'
name: test-gpt
layers: 2
hidden: 32
ffn_hidden: 64
heads: 2
kv_heads: 2
vocab: 256
seq_len: 16
mlp: gelu
MODEL
}

write_tiny_job() {
  local dir=$1 ranks=$2 hosts=$3 steps=$4 every=${5:-0}
  local -a list=($hosts)
  local r
  local per=$(((ranks + ${#list[@]} - 1) / ${#list[@]}))
  rm -rf "$dir/ckpt"  # a new job starts fresh: train refuses a directory holding a checkpoint
  {
    echo "name: tiny-fleet"
    echo "nodes:"
    for ((r = 0; r < ranks; ++r)); do
      echo "  - {device: cpu, devices_per_node: 1, count: 1, host: ${list[$((r / per))]}}"
    done
  } >"$dir/fleet.yaml"
  write_tiny_model "$dir"
  cat >"$dir/job.yaml" <<JOB
fleet: fleet.yaml
model: model.yaml
global_batch: 8
micro_batch: 2
precision: fp32
zero_stage: 0
recompute: none
strategy: auto
transport: mpi
steps: $steps
checkpoint_dir: ckpt
checkpoint_every: $every
seed: 7
learning_rate: 0.01
JOB
}

# write_plan FILE BOUNDS STAGE_DEVICES SHARES: a hand-made plan for the tiny job's 4 layers.
# BOUNDS "0,2,4" (stage boundaries); STAGE_DEVICES "0,1;2,3" (per stage, the device of each replica);
# SHARES "4,4" (samples of each replica, summing to the global batch 8). Micro-batches of 2.
write_plan() {
  python3 - "$@" <<'PY'
import json, sys
out, bounds, stages, shares = sys.argv[1:5]
bounds = [int(b) for b in bounds.split(",")]
stages = [[int(d) for d in s.split(",")] for s in stages.split(";")]
shares = [int(s) for s in shares.split(",")]
layers = ["embedding", "block.0", "block.1", "head"]
plan = {
    "format": "tangram-plan", "version": 1, "strategy": "uniform", "fleet": "tiny-fleet",
    "model": "test-gpt", "parallelism": {"tp": 1, "pp": len(stages), "dp": len(shares)},
    "training": {"global_batch": sum(shares), "seq_len": 16, "precision": "fp32",
                 "zero_stage": 0, "recompute": "none"},
    "layers": layers,
    "stages": [{"index": s, "layers": [bounds[s], bounds[s + 1]],
                "cells": [{"replica": r, "devices": [d], "kind": "cpu"}
                          for r, d in enumerate(devices)]}
               for s, devices in enumerate(stages)],
    "replicas": [{"index": r, "samples": n, "micro_batch_size": 2, "micro_batches": (n + 1) // 2}
                 for r, n in enumerate(shares)],
}
json.dump(plan, open(out, "w"), indent=1)
PY
}
