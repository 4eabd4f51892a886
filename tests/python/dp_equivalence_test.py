"""Uneven data parallelism equals a single-process full-batch run.

Every rank trains the small GPT on its uneven share of each global batch (shares fixed per rank
count, tiny buckets so that the reduction runs in many overlapped pieces); rank 0 also trains a
copy on the whole global batch in one process. After K steps of SGD with momentum the parameters
must agree within ATOL (fp32: the two runs sum the same gradients in different orders), and every
rank must hold the same parameters bit for bit.
"""

import copy

import torch

import tangram.torch as tt
from torch_test_util import corpus_batches, gpt, max_param_diff, small_gpt

SHARES = {2: [3, 5], 3: [1, 2, 5], 4: [2, 1, 3, 6]}
K = 5
ATOL = 1e-5  # max |parameter difference| after K steps (parameters are O(0.1..1))


def main():
    torch.set_num_threads(1)
    tt.init(timeout=60)
    r, p = tt.rank(), tt.size()
    shares = SHARES[p]
    model = small_gpt(seed=0)
    reference = copy.deepcopy(model)
    dp = tt.DataParallel(model, shares=shares, bucket_cap_mb=0.01, emulate=False)
    assert len(dp._buckets) > 3, "the test wants several buckets"
    opt = tt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), dp)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    data = corpus_batches()
    sampler = tt.ShareSampler(dp, num_samples=40, seed=7)  # 40 samples: batches cross epochs
    reference_sampler = tt.ShareSampler(dp, num_samples=40, seed=7)
    B = sum(shares)
    for step in range(K):
        x, y = data.batch(sampler.next_indices())
        opt.zero_grad()
        gpt.lm_loss(dp(x), y).backward()
        opt.step()
        if r == 0:
            gx, gy = data.batch(reference_sampler.global_indices(step * B, B))
            ref_opt.zero_grad()
            gpt.lm_loss(reference(gx), gy).backward()
            if step == 0:
                grad_diff = max((a.grad - b.grad).abs().max().item()
                                for a, b in zip(model.parameters(), reference.parameters()))
                print(f"rank 0: step 0 max |grad difference| {grad_diff:.2e}")
            ref_opt.step()
    flat = torch.cat([q.detach().reshape(-1) for q in model.parameters()])
    first = flat.clone()
    tt.broadcast(first, root=0)
    assert torch.equal(flat, first), f"rank {r}: parameters differ from rank 0's"
    if r == 0:
        diff = max_param_diff(model, reference)
        print(f"dp_equivalence: {p} ranks, shares {shares}, {K} steps: max |parameter "
              f"difference| vs single-process full batch {diff:.2e} (tolerance {ATOL})")
        assert diff <= ATOL, f"difference {diff} above {ATOL}"
    tt.barrier()


if __name__ == "__main__":
    main()
