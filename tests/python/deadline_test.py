"""The calls' deadline follows the plan a rank trains with (as `tangram train` does, trainer.cc):
init's timeout, or STEPS_PER_DEADLINE predicted steps when longer; back to init's timeout when a
faster plan is adopted. A call that outlasts init's timeout but not the plan's deadline succeeds.

    mpirun -np 3 /usr/bin/python3 tests/python/deadline_test.py
    /usr/bin/python3 tests/python/deadline_test.py --sim 2

Before: the deadline stayed init's timeout whatever the plan, so a model whose healthy step over
slow links outlasts it (an allreduce waiting for the slowest replica's whole step) failed with
DEADLINE_EXCEEDED.
"""

import os
import sys
import time

import torch
from torch import nn

import tangram.torch as tt
from tangram import _tangram
from tangram.torch._p2p import P2P
from torch_test_util import run_sim_ranks

USER_TIMEOUT = 2.0
SETUP_TIMEOUT = 60.0  # the test's own gathers, so that a loaded machine's start-up skew is no failure
SLOW_S_PER_SAMPLE = 0.5  # a plan whose predicted step is several seconds
FAST_S_PER_SAMPLE = 1e-4  # a plan whose predicted step is far under a second


def job_path():
    source = os.environ.get("TANGRAM_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    return os.path.join(source, "tests", "python", "torch-test-job.yaml")


def reports_at(seconds_per_sample):
    """Every rank's calibration report, its measured speed replaced by `seconds_per_sample`."""
    model = nn.Linear(4, 1)
    x = torch.ones(2, 4)
    report = tt.calibrate(lambda: model(x).sum(), 2, module=model, warmup=0, iterations=1,
                          probes=1)
    report["seconds_per_sample"] = seconds_per_sample
    report["measured_tflops"] = tt.current().job.flops_per_sample / seconds_per_sample / 1e12
    return tt.allgather_object(report, timeout=SETUP_TIMEOUT)


def adopt(ctx, seconds_per_sample):
    """Plans on reports at `seconds_per_sample`; returns the plan and the deadline's log line."""
    before = len(ctx.deadline_log)
    plan = tt.plan_from_reports(reports_at(seconds_per_sample))
    return plan, " / ".join(ctx.deadline_log[before:])


def check(ctx):
    rank = ctx.rank
    tt.barrier(timeout=SETUP_TIMEOUT)
    assert ctx.timeout == USER_TIMEOUT and ctx.user_timeout == USER_TIMEOUT, ctx.timeout
    p2p = P2P()  # a Pipeline's sends read the context's deadline at each call

    slow, said = adopt(ctx, SLOW_S_PER_SAMPLE)
    expected = _tangram.STEPS_PER_DEADLINE * slow.predicted_step_time_s
    assert slow.predicted_step_time_s > USER_TIMEOUT, slow.predicted_step_time_s
    assert abs(ctx.timeout - expected) < 1e-9, (ctx.timeout, expected)
    assert ctx.plan is slow and p2p.timeout_s == ctx.timeout, (p2p.timeout_s, ctx.timeout)
    assert said.startswith("calls' deadline") and "longer than init(timeout=2)" in said, said

    # A healthy wait longer than init's timeout (rank 0 arrives late): within the plan's deadline.
    if rank == 0:
        time.sleep(2.5 * USER_TIMEOUT)
    total = tt.allreduce(torch.ones(3))
    assert torch.equal(total, torch.full((3,), float(ctx.size))), total

    # A plan that is not adopted (a re-plan DataParallel declines) leaves the deadline alone.
    tt.plan_from_reports(reports_at(FAST_S_PER_SAMPLE), adopt=False)
    assert ctx.plan is slow and abs(ctx.timeout - expected) < 1e-9, ctx.timeout

    fast, said = adopt(ctx, FAST_S_PER_SAMPLE)
    assert _tangram.STEPS_PER_DEADLINE * fast.predicted_step_time_s < USER_TIMEOUT
    assert ctx.timeout == USER_TIMEOUT and p2p.timeout_s == USER_TIMEOUT, ctx.timeout
    assert said == "calls' deadline back to init(timeout=2)", said



def past_the_deadline(ctx, report):
    """The deadline is still enforced: a wait past it fails on the ranks that waited. Rank 0, the
    late one, reports first and stays until the others have failed (under mpirun their exit
    without MPI_Finalize ends the job)."""
    if ctx.rank == 0:
        report()
        time.sleep(3 * USER_TIMEOUT)
        return
    try:
        tt.barrier()
        raise AssertionError("a barrier past the deadline succeeded")
    except tt.TangramError as e:
        assert e.code == "DEADLINE_EXCEEDED", e
    report()


def main():
    torch.set_num_threads(1)
    if len(sys.argv) > 2 and sys.argv[1] == "--sim":
        ranks = int(sys.argv[2])
        world = tt.sim_world(ranks, timeout=USER_TIMEOUT)

        def rank_main(r):
            ctx = tt.init(job=job_path(), transport="sim", sim_world=world, rank=r,
                          timeout=USER_TIMEOUT)
            check(ctx)
            past_the_deadline(ctx, lambda: None)

        run_sim_ranks(ranks, rank_main, "deadline_test")
        return
    ctx = tt.init(job=job_path(), timeout=USER_TIMEOUT)
    check(ctx)
    past_the_deadline(ctx, lambda: print(f"deadline_test: rank {ctx.rank}: deadline OK",
                                         flush=True))
    os._exit(0)  # after a failed call the job is over: no MPI_Finalize (context.py, shutdown)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
