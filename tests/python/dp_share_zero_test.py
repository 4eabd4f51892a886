"""DataParallel with ranks of share 0: synchronize()'s check raises on every rank, in the same call.

    mpirun -np 3 /usr/bin/python3 tests/python/dp_share_zero_test.py
    /usr/bin/python3 tests/python/dp_share_zero_test.py --sim 4

A gradient clipped between backward and synchronize() raised only on the ranks that had changed
one: a rank with share 0 runs no backward, had nothing to compare, and went on to step its
optimizer alone (its parameters left the others'), or, when the others stopped to handle their
error, waited in its next collective until the timeout. The same held for a parameter unfrozen
on some ranks only. Now every rank raises the same FAILED_PRECONDITION from the same
synchronize(), within the step's communication; the ranks catch it, train on in the right order,
and match one process training the whole global batch (the failed step skipped) within ATOL, with
parameters bit-identical on every rank.
"""

import copy
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

import tangram.torch as tt
from tangram.errors import TangramError
from torch_test_util import run_sim_ranks

ATOL = 1e-5
MAX_NORM = 0.05
TIMEOUT = 20.0  # the ranks' call deadline: a rank left waiting would take this long
PROMPT = 5.0  # what a step, failed or not, may take here (2 cores, a tiny model)


def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 3))


def data():
    g = torch.Generator().manual_seed(5)
    return torch.randn(64, 5, generator=g), torch.randint(0, 3, (64,), generator=g)


def adamw(params):
    return torch.optim.AdamW(params, lr=0.02, weight_decay=0.1)


class Serial:
    """One process training the whole global batch of every step it is told to take."""

    def __init__(self, model, dp):
        self.model = copy.deepcopy(model)
        self.opt = adamw(self.model.parameters())
        self.sampler = tt.ShareSampler(dp, num_samples=64, seed=1)
        self.batch = dp.global_batch
        self.steps = 0

    def step(self, x, y, train=True):
        idx = self.sampler.global_indices(self.steps * self.batch, self.batch)
        self.steps += 1
        if not train:
            return  # the distributed step failed: its batch is consumed, nothing is updated
        self.opt.zero_grad()
        F.cross_entropy(self.model(x[idx]), y[idx]).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), MAX_NORM)
        self.opt.step()


def check_same(model, serial, what):
    """Parameters bit-identical on every rank, and within ATOL of the serial run."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    first = flat.clone()
    tt.broadcast(first, root=0)
    assert torch.equal(flat, first), f"rank {tt.rank()}: {what}: parameters differ from rank 0's"
    diff = max((a - b).abs().max().item()
               for a, b in zip(model.parameters(), serial.model.parameters()))
    if tt.rank() == 0:
        print(f"{what}: max |parameter - single process| {diff:.2e}", flush=True)
    assert diff <= ATOL, f"rank {tt.rank()}: {what}: {diff} above {ATOL}"


def step(dp, opt, sampler, x, y, clip_first):
    """One training step as a user writes it (a rank with share 0 runs no forward); clip_first
    clips between backward and synchronize() (the wrong order). Returns the error or None, and
    the seconds the step took from backward's end."""
    idx = sampler.next_indices()
    opt.zero_grad()
    if dp.local_share > 0:
        F.cross_entropy(dp(x[idx]), y[idx]).backward()
    start = time.monotonic()
    try:
        if clip_first:
            torch.nn.utils.clip_grad_norm_(dp.module.parameters(), MAX_NORM)
            opt.step()
        else:
            dp.synchronize()
            torch.nn.utils.clip_grad_norm_(dp.module.parameters(), MAX_NORM)
            opt.step()
        return None, time.monotonic() - start
    except TangramError as e:
        return e, time.monotonic() - start


def expect_same_error(error, seconds, what, expected_where, needle):
    """Every rank raised, in this call, the same FAILED_PRECONDITION naming where and what."""
    rank = tt.rank()
    assert error is not None, f"rank {rank}: {what}: synchronize() did not raise"
    assert error.code == "FAILED_PRECONDITION", f"rank {rank}: {what}: {error}"
    assert expected_where in error.message and needle in error.message, \
        f"rank {rank}: {what}: expected '{expected_where}' and '{needle}' in: {error.message}"
    messages = tt.allgather_object(error.message)
    assert all(m == messages[0] for m in messages), \
        f"rank {rank}: {what}: the ranks raised different errors: {messages}"
    assert seconds < PROMPT, f"rank {rank}: {what}: the failed step took {seconds:.1f} s"
    if rank == 0:
        print(f"{what}: every rank raised in {seconds:.3f} s (rank 0): {error.message[:90]}...",
              flush=True)


def where(ranks):
    return f"on rank {ranks[0]}" if len(ranks) == 1 else f"on ranks {', '.join(map(str, ranks))}"


def clipping_with_share_zero(zero_ranks):
    """The ranks with a share clip between backward and synchronize(); the share-0 ranks (they
    have no backward to clip after) must raise with them and not step."""
    size = tt.size()
    shares = [0 if r in zero_ranks else 2 + 3 * r for r in range(size)]
    x, y = data()
    model = build()
    dp = tt.DataParallel(model, shares=shares, bucket_cap_mb=0.0005, emulate=False)
    assert len(dp._buckets) > 1, "the test wants several buckets (the last one carries the verdict)"
    opt = tt.DistributedOptimizer(adamw(model.parameters()), dp)
    sampler = tt.ShareSampler(dp, num_samples=64, seed=1)
    serial = Serial(model, dp)
    what = f"shares {shares}"

    error, _ = step(dp, opt, sampler, x, y, clip_first=False)
    assert error is None, f"rank {tt.rank()}: {what}: the right order raised: {error}"
    serial.step(x, y)
    error, seconds = step(dp, opt, sampler, x, y, clip_first=True)
    expect_same_error(error, seconds, f"{what}, clip before synchronize()",
                      where([r for r in range(size) if shares[r] > 0]), "synchronize() first")
    serial.step(x, y, train=False)
    check_same(model, serial, f"{what}, after the failed step")
    for k in range(3):  # training goes on: no rank is left waiting in a collective
        error, seconds = step(dp, opt, sampler, x, y, clip_first=False)
        assert error is None and seconds < PROMPT, \
            f"rank {tt.rank()}: {what}: step {k} after the error: {error}, {seconds:.1f} s"
        serial.step(x, y)
    assert dp.steps == 5, f"rank {tt.rank()}: {dp.steps} reductions for 5 steps"
    check_same(model, serial, f"{what}, 3 steps after the error")


def unfrozen_on_one_rank():
    """A layer unfrozen on one rank only (a rank-dependent branch in the user's code): every rank
    raises, naming the rank and the parameter; frozen again, training goes on."""
    size = tt.size()
    culprit = size - 1
    shares = [0 if r == 0 else 2 + 3 * r for r in range(size)]  # rank 0 has share 0
    x, y = data()
    model = build()
    model[0].requires_grad_(False)
    dp = tt.DataParallel(model, shares=shares, bucket_cap_mb=0.0005, emulate=False)
    opt = tt.DistributedOptimizer(adamw(model.parameters()), dp)
    sampler = tt.ShareSampler(dp, num_samples=64, seed=1)
    serial = Serial(model, dp)
    if tt.rank() == culprit:
        model[0].requires_grad_(True)
    error, seconds = step(dp, opt, sampler, x, y, clip_first=False)
    expect_same_error(error, seconds, f"shares {shares}, 0.weight unfrozen on rank {culprit}",
                      where([culprit]), "parameter 0.weight trains")
    serial.step(x, y, train=False)
    model[0].requires_grad_(False)
    model[0].weight.grad = None
    model[0].bias.grad = None
    for _ in range(2):
        error, seconds = step(dp, opt, sampler, x, y, clip_first=False)
        assert error is None and seconds < PROMPT, f"rank {tt.rank()}: {error}, {seconds:.1f} s"
        serial.step(x, y)
    check_same(model, serial, f"shares {shares}, frozen again, 2 steps")


def body():
    torch.set_num_threads(1)
    size = tt.size()
    assert size >= 2, "the test needs 2 ranks or more"
    clipping_with_share_zero([size - 1])
    if size >= 3:
        clipping_with_share_zero([0, 2] if size >= 4 else [0])
    unfrozen_on_one_rank()
    tt.barrier()


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--sim":
        ranks = int(sys.argv[2])
        world = tt.sim_world(ranks, timeout=TIMEOUT)

        def rank_main(r):
            tt.init(transport="sim", sim_world=world, rank=r, timeout=TIMEOUT)
            try:
                body()
            finally:
                tt.shutdown()

        run_sim_ranks(ranks, rank_main, "dp_share_zero_test")
        return
    tt.init(timeout=TIMEOUT)
    body()
    print(f"dp_share_zero_test: rank {tt.rank()} of {tt.size()} OK", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
