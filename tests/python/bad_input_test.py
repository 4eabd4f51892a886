"""Bad input gives a clear TangramError on every rank, within the timeout, and no hang.

1. Ranks that build different models: DataParallel refuses on every rank (FAILED_PRECONDITION,
   naming the rank).
2. A tensor of an unsupported dtype: INVALID_ARGUMENT naming the dtype, before anything is sent.
2b. Public arguments of the wrong type or out of range (a timeout as a string, an empty dataset,
   a patience of 0, ...): a TypeError or ValueError (also a TangramError INVALID_ARGUMENT) naming
   the argument, what was expected and what was given, at the call, before anything is sent.
3. A dead rank (the last one stops answering: it sleeps past the deadline): every other rank's
   allreduce raises DEADLINE_EXCEEDED within the timeout; the late rank's own call then fails too.
   The job has then failed: each rank exits with status 1 (without MPI_Finalize), so the test
   passes when every rank printed its OK line (run_torch_test.sh --expect-ok).
"""

import os
import tempfile
import time

import torch

import tangram.torch as tt
from tangram import TangramError
from tangram.torch import context as tangram_context
from tangram.torch.pipeline import Pipeline, PipelinePlan
from torch_test_util import small_gpt

TIMEOUT = 3.0


def expect_error(fn, code, words):
    try:
        fn()
    except TangramError as e:
        assert code is None or e.code == code, f"rank {tt.rank()}: expected {code}, got {e}"
        for w in words:
            assert w in e.message, f"rank {tt.rank()}: '{w}' not in '{e.message}'"
        return e
    raise AssertionError(f"rank {tt.rank()}: no error (expected {code})")


def main():
    # The tests' job: its fleet has 4 devices, one more than this test's 3 ranks.
    tt.init(job=os.path.join(os.environ["TANGRAM_SOURCE_DIR"], "tests", "python",
                             "torch-test-job.yaml"), timeout=30)
    r, p = tt.rank(), tt.size()
    # 0. a catalog plan for more ranks than are running (it was a bare IndexError)
    expect_error(lambda: tt.catalog_plan(), "FAILED_PRECONDITION",
                 ["4 ranks", f"{p} are running"])
    # 1. different models
    model = small_gpt(layers=3 if r == 1 else 2)
    expect_error(lambda: tt.DataParallel(model), "FAILED_PRECONDITION",
                 ["rank 1", "same model"])
    # 2. unsupported dtype
    expect_error(lambda: tt.allreduce(torch.ones(3, dtype=torch.uint8)), "INVALID_ARGUMENT",
                 ["torch.uint8"])
    tt.barrier()
    data_parallel_misuse(r, p)
    argument_checks(p)
    # 3. dead rank
    t = torch.ones(1000)
    start = time.monotonic()
    if r == p - 1:
        time.sleep(TIMEOUT + 2)
        e = expect_error(lambda: tt.allreduce(t, timeout=TIMEOUT), None, [])
    else:
        e = expect_error(lambda: tt.allreduce(t, timeout=TIMEOUT), "DEADLINE_EXCEEDED", [])
        elapsed = time.monotonic() - start
        assert elapsed < TIMEOUT + 5, f"rank {r} waited {elapsed:.1f} s"
    print(f"bad_input_test: rank {r}: different models, bad dtype, dead rank -> {e.code} OK",
          flush=True)
    # The job has failed (a rank died): every rank leaves with status 1 at exit, without
    # MPI_Finalize, and mpirun stops the others as soon as one leaves; so the early ranks wait
    # for the late one to have reported.
    if r != p - 1:
        time.sleep(max(0.0, 2 * TIMEOUT + 4 - (time.monotonic() - start)))


class Frozen(torch.nn.Module):
    """A trainable layer beside a frozen one and a buffer, whose sizes a rank can vary."""

    def __init__(self, frozen_out=4, buffer=3):
        torch.manual_seed(0)
        super().__init__()
        self.head = torch.nn.Linear(4, 1)
        self.frozen = torch.nn.Linear(2, frozen_out).requires_grad_(False)
        self.register_buffer("mask", torch.ones(buffer, dtype=torch.bool))

    def forward(self, x):
        return self.head(x)


def data_parallel_misuse(r, p):
    """What used to train silently wrong (or fail inside MPI) now stops on every rank by name."""
    # the same trainable parameters, but another frozen layer or buffer on the last rank
    expect_error(lambda: tt.DataParallel(Frozen(frozen_out=6 if r == p - 1 else 4)),
                 "FAILED_PRECONDITION", [f"rank {p - 1}", "frozen parameters or buffers"])
    expect_error(lambda: tt.DataParallel(Frozen(buffer=5 if r == p - 1 else 3)),
                 "FAILED_PRECONDITION", [f"rank {p - 1}", "frozen parameters or buffers"])
    # other shares on one rank; shares that are not a list of whole numbers
    expect_error(lambda: tt.DataParallel(Frozen(), shares=[4] * p if r == 1 else [3] * p),
                 "FAILED_PRECONDITION", ["rank 1", "other shares"])
    expect_error(lambda: tt.DataParallel(Frozen(), shares="3" * p), "INVALID_ARGUMENT",
                 ["list of whole numbers"])
    expect_error(lambda: tt.DataParallel(Frozen(), shares=[2.5] * p), "INVALID_ARGUMENT",
                 ["whole numbers"])
    # calibrate_and_plan's links: 'auto', True or False, checked before anything is measured
    expect_error(lambda: tt.calibrate_and_plan(lambda: None, 1, links="sometimes"),
                 "INVALID_ARGUMENT", ["links must be", "'sometimes'"])
    # a bool buffer is broadcast from rank 0 (it was skipped)
    model = Frozen()
    if r != 0:
        model.mask.fill_(False)
    dp = tt.DataParallel(model, shares=[2] * p, emulate=False)
    assert bool(model.mask.all()), f"rank {r}: the bool buffer was not broadcast"
    # a second backward in one step outside no_sync()
    x = torch.randn(2, 4)
    dp(x).sum().backward()
    expect_error(lambda: dp(x).sum().backward(), "FAILED_PRECONDITION",
                 ["second backward", "no_sync"])
    dp.synchronize()  # the first backward's reduction is in flight: finish it
    tt.barrier()


def expect_argument_error(fn, kind, words):
    """A TypeError or ValueError (`kind`) that is also a TangramError INVALID_ARGUMENT."""
    e = expect_error(fn, "INVALID_ARGUMENT", words)
    assert isinstance(e, kind), f"rank {tt.rank()}: {type(e).__name__} is not a {kind.__name__}"


def env_slowdown(value, rank):
    """Rank `rank`'s emulated slowdown with TANGRAM_EMULATE_SLOWDOWN=`value` (as init reads it)."""
    old = os.environ.get("TANGRAM_EMULATE_SLOWDOWN")
    os.environ["TANGRAM_EMULATE_SLOWDOWN"] = value
    try:
        return tangram_context._slowdown_for(None, rank, None)
    finally:
        if old is None:
            del os.environ["TANGRAM_EMULATE_SLOWDOWN"]
        else:
            os.environ["TANGRAM_EMULATE_SLOWDOWN"] = old


def argument_checks(p):
    """Each wrong argument fails at its call, naming it (it was a pybind TypeError listing C++
    signatures, a ZeroDivisionError, or silently a default)."""
    t = torch.ones(3)
    for fn, kind, words in [
        (lambda: tt.init(timeout="30"), TypeError, ["init", "timeout", "a number", "'30'"]),
        (lambda: tt.allreduce(t, timeout="1"), TypeError, ["allreduce", "timeout", "'1'"]),
        (lambda: tt.allreduce(t, timeout=0), ValueError, ["allreduce", "timeout", "> 0"]),
        (lambda: tt.barrier(timeout=float("nan")), ValueError, ["barrier", "finite"]),
        (lambda: tt.sim_world(2, timeout=[1]), TypeError, ["sim_world", "timeout"]),
        (lambda: tt.sim_world(0), ValueError, ["sim_world", "ranks", ">= 1", "got 0"]),
        (lambda: tt.broadcast(t, root=1.5), TypeError, ["broadcast", "root", "whole number"]),
        (lambda: tt.broadcast(t, root=p), ValueError, ["root", f"[0, {p})", f"got {p}"]),
        (lambda: tt.set_slowdown(0.5), ValueError, ["set_slowdown", ">= 1", "0.5"]),
        (lambda: tt.set_slowdown("2"), TypeError, ["set_slowdown", "a number"]),
        (lambda: tt.calibrate(lambda: None, batch_size=0), ValueError,
         ["calibrate", "batch_size", ">= 1", "got 0"]),
        (lambda: Pipeline(torch.nn.Sequential(torch.nn.Linear(2, 2)),
                          PipelinePlan([0, 1], [list(range(p))], [1] * p, 1), timeout_s="5",
                          loss_fn=torch.nn.functional.mse_loss), TypeError, ["timeout_s", "'5'"]),
        (lambda: PipelinePlan([0, 1], [[0]], "385", 1), TypeError, ["samples", "'385'"]),
        (lambda: PipelinePlan([0, 1], [[0]], [4], 2.5), TypeError, ["micro_batch_size", "2.5"]),
        # The environment's emulated slowdown (a bare ValueError or IndexError before).
        (lambda: env_slowdown("1,x", 1), ValueError, ["TANGRAM_EMULATE_SLOWDOWN", "'x'"]),
        (lambda: env_slowdown("1,2", 2), ValueError, ["TANGRAM_EMULATE_SLOWDOWN", "rank 2"]),
        (lambda: env_slowdown("0.5", 0), ValueError, ["TANGRAM_EMULATE_SLOWDOWN", ">= 1"]),
    ]:
        expect_argument_error(fn, kind, words)
    data_parallel_arguments(p)
    tt.barrier()


def data_parallel_arguments(p):
    dp = tt.DataParallel(Frozen(), shares=[2] * p, emulate=False)
    for fn, kind, words in [
        (lambda: tt.ShareSampler(dp, num_samples=0), ValueError,
         ["ShareSampler", "num_samples", "empty dataset", "got 0"]),
        (lambda: tt.ShareSampler(dp, num_samples="10"), TypeError, ["num_samples", "'10'"]),
        (lambda: tt.ShareSampler(dp, shuffle="no"), TypeError, ["shuffle", "True or False"]),
        (lambda: tt.DataParallel(Frozen(), bucket_cap_mb=0), ValueError, ["bucket_cap_mb"]),
        (lambda: tt.DataParallel(Frozen(), rebalance_patience=0), ValueError,
         ["rebalance_patience", ">= 1", "got 0"]),
        (lambda: tt.DataParallel(Frozen(), ema_alpha=1.5), ValueError, ["ema_alpha", "<= 1"]),
        (lambda: tt.DataParallel(Frozen(), rebalance_threshold=-0.1), ValueError,
         ["rebalance_threshold", ">= 0"]),
        (lambda: tt.DataParallel(Frozen(), broadcast_buffers="yes"), TypeError,
         ["broadcast_buffers", "True or False"]),
        (lambda: tt.save_checkpoint(Frozen(), None, tempfile.gettempdir(), -1,
                                    comm=tt.current()), ValueError, ["step", ">= 0"]),
        (lambda: tt.save_checkpoint(Frozen(), None, tempfile.gettempdir(), 1, keep=0,
                                    comm=tt.current()), ValueError, ["keep", ">= 1"]),
    ]:
        expect_argument_error(fn, kind, words)


if __name__ == "__main__":
    main()
