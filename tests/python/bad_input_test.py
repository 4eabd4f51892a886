"""Bad input gives a clear TangramError on every rank, within the timeout, and no hang.

1. Ranks that build different models: DataParallel refuses on every rank (FAILED_PRECONDITION,
   naming the rank).
2. A tensor of an unsupported dtype: INVALID_ARGUMENT naming the dtype, before anything is sent.
3. A dead rank (the last one stops answering: it sleeps past the deadline): every other rank's
   allreduce raises DEADLINE_EXCEEDED within the timeout; the late rank's own call then fails too.
   The job has then failed: each rank exits with status 1 (without MPI_Finalize), so the test
   passes when every rank printed its OK line (run_torch_test.sh --expect-ok).
"""

import os
import time

import torch

import tangram.torch as tt
from tangram import TangramError
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


if __name__ == "__main__":
    main()
