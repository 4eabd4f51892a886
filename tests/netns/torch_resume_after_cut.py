"""Training that loses a host, then resumes from its last committed checkpoint (driven by
tests/netns/torch_resume_after_cut_test.sh).

    torch_resume_after_cut.py train DIR SHARES     # trains until a call fails, checkpointing
    torch_resume_after_cut.py train-cut-in-save DIR SHARES   # the same; the cut is in a save
    torch_resume_after_cut.py resume DIR SHARES LAST STEPS

train: data parallelism over the ranks with SHARES ("2,3,4": samples per rank, one per rank),
SGD with momentum (its buffers are in the checkpoint), a checkpoint every EVERY steps into DIR.
Rank 0 prints "rank 0: committed S" once save_checkpoint(S) has returned on it, so the test knows
the last step the run reported as safe; every rank prints "rank R: ready" after the first commit.
When a call fails (the test cuts a host's link) each reachable rank prints "rank R: lost in
PHASE at step S: CODE OK" and leaves without raising (mpirun could not reach the cut-off rank to
end it). train-cut-in-save: the last rank prints "rank R: cut me in save_checkpoint S" (S =
CUT_STEP) and sleeps instead of joining that save, so that the test cuts its host while the others
are inside save_checkpoint(S).

resume: the same training, on as many ranks as SHARES lists (their sum, the global batch, must be
the same as the first run's, so the update is the same), from DIR's LATEST: it must be at step
>= LAST (no reported commit lost); trains to STEPS, checkpointing as before, then compares the
parameters with one process training the whole global batch from step 0 to STEPS: within ATOL
(the torch tests' 1e-5), bit-identical on every rank. Prints "rank 0: resumed at step S ... max
|parameter - single process| D OK".
"""

import os
import sys
import time

import torch

import tangram.torch as tt
from tangram.errors import TangramError
from torch_test_util import corpus_batches, gpt, max_param_diff, small_gpt

DEADLINE_S = 15
EVERY = 2
CUT_STEP = 6 * EVERY  # train save: the save at which the last rank waits to be cut off
ATOL = 1e-5
NUM_SAMPLES = 64


def optimizer(params):
    return torch.optim.SGD(params, lr=0.05, momentum=0.9)


def setup(shares):
    model = small_gpt(seed=0)
    dp = tt.DataParallel(model, shares=shares, emulate=False, rebalance=False)
    opt = tt.DistributedOptimizer(optimizer(model.parameters()), dp)
    sampler = tt.ShareSampler(dp, num_samples=NUM_SAMPLES, seed=1)
    return model, dp, opt, sampler


def train_step(dp, opt, sampler, data):
    x, y = data.batch(sampler.next_indices())
    opt.zero_grad()
    if dp.local_share > 0:
        gpt.lm_loss(dp(x), y).backward()
    opt.step()


def save(model, opt, directory, step):
    tt.save_checkpoint(model, opt, directory, step, comm=tt.current().comm)
    if tt.rank() == 0:
        print(f"rank 0: committed {step}", flush=True)


def train(directory, shares, cut_in_save):
    model, dp, opt, sampler = setup(shares)
    data = corpus_batches()
    step, phase = 0, "step"
    try:
        while True:
            phase = "step"
            train_step(dp, opt, sampler, data)
            step += 1
            if step % EVERY == 0:
                phase = "save_checkpoint"
                if cut_in_save and step == CUT_STEP and tt.rank() == tt.size() - 1:
                    # The cut inside a save: the others are in save_checkpoint(step) (rank 0 has
                    # written its layer files and waits for this rank's) when the test, told
                    # here, cuts this rank's host off.
                    print(f"rank {tt.rank()}: cut me in save_checkpoint {step}", flush=True)
                    time.sleep(DEADLINE_S + 30)
                save(model, opt, directory, step)
                if step == EVERY:
                    print(f"rank {tt.rank()}: ready", flush=True)
            time.sleep(0.02)  # a few steps a second: the cut lands mid-training, not at its start
    except (TangramError, tt.CheckpointError) as e:
        code = getattr(e, "code", type(e).__name__)
        print(f"rank {tt.rank()}: lost in {phase} at step {step}: {code} OK", flush=True)
        os._exit(3)


def serial(steps, dp):
    """One process, the whole global batch of every step (the samples of global batch s do not
    depend on the rank: a fresh sampler's global_indices)."""
    model = small_gpt(seed=0)
    opt = optimizer(model.parameters())
    data = corpus_batches()
    sampler = tt.ShareSampler(dp, num_samples=NUM_SAMPLES, seed=1)
    batch = dp.global_batch
    for s in range(steps):
        x, y = data.batch(sampler.global_indices(s * batch, batch))
        opt.zero_grad()
        gpt.lm_loss(model(x), y).backward()
        opt.step()
    return model


def resume(directory, shares, last, steps):
    model, dp, opt, sampler = setup(shares)
    first = tt.load_checkpoint(model, opt, directory, comm=tt.current().comm)
    assert first >= last, \
        f"rank {tt.rank()}: resumed at step {first}, but step {last} was reported committed"
    assert first < steps, f"resumed at step {first}, nothing left to train to {steps}"
    for _ in range(first):  # the global batches already trained on
        sampler.next_indices()
    data = corpus_batches()
    for step in range(first, steps):
        train_step(dp, opt, sampler, data)
        if (step + 1) % EVERY == 0 or step + 1 == steps:
            save(model, opt, directory, step + 1)
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    first_rank = flat.clone()
    tt.broadcast(first_rank, root=0)
    assert torch.equal(flat, first_rank), f"rank {tt.rank()}: parameters differ from rank 0's"
    if tt.rank() == 0:
        diff = max_param_diff(model, serial(steps, dp))
        print(f"rank 0: resumed at step {first} (last reported commit {last}) on {tt.size()} "
              f"ranks, trained to {steps}: max |parameter - single process| {diff:.2e}",
              flush=True)
        assert diff <= ATOL, f"{diff} above {ATOL}"
    tt.barrier()
    print(f"rank {tt.rank()}: resume OK", flush=True)


def main():
    torch.set_num_threads(1)
    tt.init(timeout=DEADLINE_S)
    mode, directory = sys.argv[1], sys.argv[2]
    shares = [int(s) for s in sys.argv[3].split(",")]
    assert len(shares) == tt.size(), f"{len(shares)} shares for {tt.size()} ranks"
    if mode in ("train", "train-cut-in-save"):
        train(directory, shares, mode == "train-cut-in-save")
    else:
        resume(directory, shares, int(sys.argv[4]), int(sys.argv[5]))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
