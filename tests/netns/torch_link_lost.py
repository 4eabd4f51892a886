"""A rank cut off from the others (its host's NIC taken down mid-training, by
tests/netns/torch_multihost_test.sh): the ranks still connected must not hang. Each rank trains a
small data-parallel step in a loop with a 15 s communication deadline; every rank prints
"rank R: ready" after its first step, the test cuts the last host's NIC and times the ranks' reports:
each prints "rank R: lost: CODE OK" when its step fails, then leaves without raising (an uncaught
exception would make mpirun kill the cut-off rank, which it cannot reach until the link is back).
"""

import os

import torch

import tangram.torch as tt
from torch_test_util import corpus_batches, gpt, small_gpt

DEADLINE_S = 15


def main():
    torch.set_num_threads(1)
    tt.init(timeout=DEADLINE_S)
    r, p = tt.rank(), tt.size()
    model = small_gpt(seed=0)
    dp = tt.DataParallel(model, shares=[2] * p, emulate=False)
    opt = tt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.01), dp)
    sampler = tt.ShareSampler(dp, num_samples=64, seed=1)
    data = corpus_batches()
    step = 0
    while True:
        try:
            x, y = data.batch(sampler.next_indices())
            opt.zero_grad()
            gpt.lm_loss(dp(x), y).backward()
            opt.step()
        except tt.TangramError as e:
            print(f"rank {r}: lost: {e.code} OK", flush=True)
            os._exit(3)
        step += 1
        if step == 1:
            print(f"rank {r}: ready", flush=True)
        if step > 100000:
            return


if __name__ == "__main__":
    main()
