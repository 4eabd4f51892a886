"""tangram.torch on CUDA tensors over the NCCL transport (deploy/gpu-check.sh; one rank per GPU).

Allreduce, allgather and broadcast of CUDA tensors against the reference, then uneven data
parallelism of the small GPT on the GPUs against a single-process full-batch run (ATOL as in
dp_equivalence_test.py, plus GPU reduction-order slack).
"""

import copy

import torch

import tangram.torch as tt
from torch_test_util import corpus_batches, gpt, max_param_diff, small_gpt

ATOL = 5e-5


def main():
    tt.init(transport="nccl", timeout=60)
    r, p = tt.rank(), tt.size()
    dev = torch.device("cuda", torch.cuda.current_device())
    t = torch.arange(1000, dtype=torch.float32, device=dev) * (r + 1)
    tt.allreduce(t)
    ref = torch.arange(1000, dtype=torch.float32, device=dev) * (p * (p + 1) / 2)
    assert torch.equal(t, ref), "nccl allreduce"
    out = torch.empty(4 * p, device=dev)
    tt.allgather(out, torch.full((4,), float(r), device=dev))
    assert torch.equal(out.cpu(), torch.arange(p).repeat_interleave(4).float()), "nccl allgather"
    b = torch.full((5,), float(r), device=dev)
    tt.broadcast(b, root=p - 1)
    assert torch.equal(b.cpu(), torch.full((5,), float(p - 1))), "nccl broadcast"
    shares = [2 * q + 1 for q in range(p)]
    model = small_gpt(seed=0).to(dev)
    reference = copy.deepcopy(model)
    dp = tt.DataParallel(model, shares=shares, bucket_cap_mb=0.01, emulate=False)
    opt = tt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), dp)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    data = corpus_batches()
    sampler = tt.ShareSampler(dp)
    B = sum(shares)
    for step in range(4):
        x, y = data.batch(sampler.next_indices())
        opt.zero_grad()
        gpt.lm_loss(dp(x.to(dev)), y.to(dev)).backward()
        opt.step()
        gx, gy = data.batch(range(step * B, step * B + B))
        ref_opt.zero_grad()
        gpt.lm_loss(reference(gx.to(dev)), gy.to(dev)).backward()
        ref_opt.step()
    diff = max_param_diff(model, reference)
    print(f"cuda_nccl_test: rank {r} of {p}: collectives OK; DP shares {shares}, max |parameter "
          f"difference| vs full batch {diff:.2e} (tolerance {ATOL})", flush=True)
    assert diff <= ATOL, diff


if __name__ == "__main__":
    main()
