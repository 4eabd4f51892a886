"""Measured plan and re-balancing on the emulated 1/1/3/6 fleet (4 ranks).

Every rank calibrates the small GPT; rank 0 plans on the measured fleet; the slowest ranks
(EMULATION 3x and 6x) must get fewer samples than the full-speed ones. Then rank 0 is slowed 12x
(EMULATION) from step 1: within a few steps the ranks must re-plan and give rank 0 fewer samples,
and the parameters after every step must still equal a single-process full-batch run (re-planning
changes who computes what, never the update).
"""

import copy
import os

import torch

import tangram.torch as tt
from torch_test_util import SOURCE_DIR, corpus_batches, gpt, max_param_diff, small_gpt

MAX_STEPS = 10
ATOL = 1e-5


def main():
    torch.set_num_threads(1)
    job = os.path.join(SOURCE_DIR, "tests", "python", "torch-test-job.yaml")
    tt.init(job=job, timeout=60)
    r = tt.rank()
    assert tt.size() == 4, "run on 4 ranks"
    model = small_gpt(seed=1)
    reference = copy.deepcopy(model)
    data = corpus_batches()
    x, y = data.batch(range(4))
    plan = tt.calibrate_and_plan(lambda: gpt.lm_loss(model(x), y), batch_size=4, module=model,
                                 iterations=2)
    if r == 0:
        print(plan.text)
    shares = plan.shares
    if r == 0:
        print(f"measured plan: shares {shares}", flush=True)
    assert sum(shares) == 24 and plan.pp == 1, shares
    assert shares[3] < shares[0] and shares[3] < shares[1], f"6x-slow rank 3 got {shares}"
    assert shares[2] < shares[0] and shares[2] < shares[1], f"3x-slow rank 2 got {shares}"
    dp = tt.DataParallel(model, plan, rebalance_patience=1, log=print)
    opt = tt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.05), dp)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.05)
    sampler = tt.ShareSampler(dp)
    first_share = dp.shares[0]
    for step in range(MAX_STEPS):
        if step == 1 and r == 0:
            tt.set_slowdown(12)  # EMULATION: rank 0 drifts
        xb, yb = data.batch(sampler.next_indices())
        opt.zero_grad()
        gpt.lm_loss(dp(xb), yb).backward()
        opt.step()
        if r == 0:
            gx, gy = data.batch(range(step * 24, step * 24 + 24))
            ref_opt.zero_grad()
            gpt.lm_loss(reference(gx), gy).backward()
            ref_opt.step()
        if dp.replans > 0 and step >= 3:
            break
    assert dp.replans >= 1, f"no re-plan within {MAX_STEPS} steps (times {dp.last_times})"
    assert dp.shares[0] < first_share, f"rank 0 kept {dp.shares[0]} of {first_share} samples"
    if r == 0:
        diff = max_param_diff(model, reference)
        print(f"replan: shares {shares} -> {dp.shares} after {dp.replans} re-plan(s); max "
              f"|parameter difference| vs full batch {diff:.2e}")
        assert diff <= ATOL, diff
    tt.barrier()


if __name__ == "__main__":
    main()
