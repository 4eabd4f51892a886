"""tangram.torch measures the links before it plans when its ranks span hosts (measure_links, the
probe `tangram train` runs at its start), and the plan is costed on them. Run across namespace
hosts joined by a shaped link (tests/netns/torch_multihost_test.sh):
    measured_links_plan.py EXPECTED_GBS
Rank 0 checks that the link across hosts was measured near EXPECTED_GBS (the shaped rate, GB/s),
that the plan lists what was measured, and that the plan is made on it: with ranks 0, 1 on one
host and rank 2 on the other, the slow link makes rank 2 cost more than it adds, where the job
fleet's network figures (the catalog's 10 GbE for a CPU host) give it a share."""

import json
import os
import re
import sys

import torch

import tangram.torch as tt
from tangram import _tangram
from torch_test_util import corpus_batches, gpt, small_gpt


def main():
    expected = float(sys.argv[1])
    torch.set_num_threads(1)
    job = os.path.join(os.environ["TANGRAM_SOURCE_DIR"], "tests", "python", "torch-links-job.yaml")
    ctx = tt.init(job=job, timeout=60, slowdown=1)
    model = small_gpt(seed=0)
    x, y = corpus_batches().batch(list(range(2)))
    plan = tt.calibrate_and_plan(lambda: gpt.lm_loss(model(x), y), batch_size=2, module=model)
    if ctx.rank != 0:
        return
    for line in plan.links:
        print("rank 0: measured " + line)
    across = [line for line in plan.links if line.startswith("link same_island")]
    assert across, f"no link across hosts was measured: {plan.links}"
    gbs = float(re.search(r"([0-9.e+-]+) GB/s", across[0]).group(1))
    assert 0.3 * expected < gbs < 1.5 * expected, f"measured {gbs} GB/s, shaped {expected}"
    # Rank 2 alone on the far host: over the measured link its share of the gradient allreduce
    # (the job's model, 3.5 MB of fp32 gradients, about 0.4 s at 100 Mbit/s) costs far more than
    # its compute saves (a sixth of 480 micro-batches, about 1 ms each here), so the plan leaves
    # it idle; on the catalog's 10 GbE (0.004 s) it takes a share (torch-links-job.yaml).
    catalog = _tangram.plan_measured(ctx.job, [json.dumps(r) for r in plan.reports], "", None)
    print(f"rank 0: shares {plan.shares} on the measured links (dp {plan.dp}, predicted "
          f"{plan.predicted_step_time_s:.4f} s); dp {catalog.dp} on the job fleet's network "
          f"(predicted {catalog.predicted_step_time_s:.4f} s)")
    assert catalog.dp == 3, catalog.text
    assert plan.shares[2] == 0 and plan.dp == 2, plan.text
    print(f"measured_links_plan: {gbs:.4g} GB/s across hosts (shaped {expected:.4g}); PASS")


if __name__ == "__main__":
    main()
