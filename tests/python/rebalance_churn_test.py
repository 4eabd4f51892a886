"""Re-balancing does not churn (2 or 3 ranks, rebalance_patience=1).

The measured figures (seconds per sample per rank, as the ranks exchange them after a step) are
given to the re-balancer directly, so that the test is exact and needs no timing; the planning is
the real one (rank 0 plans with the C++ partitioner and every rank receives the plan). The job is
the tests' job with a global batch of 4, where whole-sample shares are far from proportional ones:
1. Figures equal to those planned on, step after step: the planner returns the same shares; that
   is not a re-plan (not counted, not logged).
2. Figures that alternate between "the last rank is slow" and "rank 0 is slow": the shares must
   not flip back and forth (they used to change every step).
3. A lasting drift (rank 0 slow from now on) is still followed: exactly one re-plan, which gives
   rank 0 fewer samples.
"""

import os
import tempfile

import torch

import tangram.torch as tt
from torch_test_util import SOURCE_DIR

STEPS = 8


def small_batch_job():
    """The tests' job with global_batch 4, written where this rank can read it."""
    source = os.path.join(SOURCE_DIR, "tests", "python", "torch-test-job.yaml")
    base = os.path.dirname(os.path.abspath(source))
    lines = []
    for line in open(source):
        key = line.split(":", 1)[0]
        if key in ("fleet", "model", "checkpoint_dir"):
            line = f"{key}: {os.path.normpath(os.path.join(base, line.split(':', 1)[1].strip()))}\n"
        elif key == "global_batch":
            line = "global_batch: 4\n"
        lines.append(line)
    path = os.path.join(tempfile.mkdtemp(prefix="tangram-churn-"), "job.yaml")
    with open(path, "w") as f:
        f.writelines(lines)
    return path


class Figures:
    """Plans on given seconds per sample (ms), from this rank's real calibration report."""

    def __init__(self, model):
        x = torch.randn(4, 4)
        report = tt.calibrate(lambda: model(x).sum(), batch_size=4, module=model, warmup=0,
                              iterations=1, probes=1)
        self.reports = tt.allgather_object(report)
        self.flops = tt.current().job.flops_per_sample

    def plan(self, ms):
        reports = [dict(r, seconds_per_sample=t * 1e-3,
                        measured_tflops=self.flops / (t * 1e-3) / 1e12)
                   for r, t in zip(self.reports, ms)]
        return tt.plan_from_reports(reports)


def run(model, figures, planned_on, pattern):
    """A DataParallel planned on `planned_on` fed the figures `pattern(step)` after each step;
    returns it and the shares: planned, then after every step."""
    dp = tt.DataParallel(model, figures.plan(planned_on), rebalance_patience=1, emulate=False)
    seen = [list(dp.shares)]
    for step in range(STEPS):
        # What synchronize() does with the figures the ranks exchanged on the last bucket.
        dp._after_step([t * 1e-3 for t in pattern(step)])
        seen.append(list(dp.shares))
    return dp, seen


def main():
    torch.set_num_threads(1)
    tt.init(job=small_batch_job(), timeout=30)
    r, p = tt.rank(), tt.size()
    model = torch.nn.Linear(4, 1)
    figures = Figures(model)
    last_slow = [1.0] * (p - 1) + [1.5]
    first_slow = [3.0] + [1.0] * (p - 1)

    # 1. the planned figures again and again: the planner returns the same shares each time
    dp, seen = run(model, figures, last_slow, lambda step: last_slow)
    assert dp.replans == 0 and not dp.replan_log, \
        f"rank {r}: {dp.replans} re-plans to the same shares: {dp.replan_log[:2]} ..."
    assert all(s == seen[0] for s in seen), f"rank {r}: shares moved: {seen}"

    # 2. alternating figures: the shares must not follow each step's swing
    dp, seen = run(model, figures, [1.0] * p,
                   lambda step: ([1.0] * (p - 1) + [3.0]) if step % 2 == 0 else first_slow)
    changes = sum(a != b for a, b in zip(seen, seen[1:]))  # from the planned shares on
    assert changes <= 1, f"rank {r}: the shares changed {changes} times: {seen}"

    # 3. a lasting drift is followed, once
    dp, seen = run(model, figures, [1.0] * p, lambda step: first_slow)
    assert dp.replans == 1, f"rank {r}: {dp.replans} re-plans for one drift: {dp.replan_log}"
    assert dp.shares[0] < seen[0][0], f"rank {r}: slow rank 0 kept its share: {seen}"
    if r == 0:
        print(f"rebalance_churn: {p} ranks: same shares not counted; alternating figures -> "
              f"{changes} change(s) in {STEPS} steps; a drift -> {dp.replan_log}", flush=True)
    tt.barrier()


if __name__ == "__main__":
    main()
