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


if __name__ == "__main__":
    main()
