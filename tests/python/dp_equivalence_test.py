"""Uneven data parallelism equals a single-process full-batch run.

Every rank trains the small GPT on its uneven share of each global batch (shares fixed per rank
count, tiny buckets so that the reduction runs in many overlapped pieces); rank 0 also trains a
copy on the whole global batch in one process. After K steps of SGD with momentum the parameters
must agree within ATOL (fp32: the two runs sum the same gradients in different orders), and every
rank must hold the same parameters bit for bit. Then: frozen and unused parameters keep their
values as in one process; BatchNorm's running statistics are rank 0's on every rank after every
step (DDP's broadcast_buffers), as a serial reproduction of DDP's semantics computes them.
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
    frozen_and_unused(r, p, shares)
    batch_norm(r, p)


class WithIdleParameters(torch.nn.Module):
    """A frozen layer (requires_grad False) and a parameter the forward never uses."""

    def __init__(self):
        torch.manual_seed(3)
        super().__init__()
        self.frozen = torch.nn.Linear(6, 6)
        self.frozen.requires_grad_(False)
        self.head = torch.nn.Linear(6, 1)
        self.unused = torch.nn.Parameter(torch.ones(4))

    def forward(self, x):
        return self.head(torch.relu(self.frozen(x)))


def frozen_and_unused(r, p, shares):
    """AdamW with weight decay moves a parameter that has a gradient, even a zero one: one no
    rank used must keep grad None (it got zeros, and moved), as in one process."""
    model = WithIdleParameters()
    reference = copy.deepcopy(model)
    dp = tt.DataParallel(model, shares=shares, emulate=False)
    opt = tt.DistributedOptimizer(torch.optim.AdamW(model.parameters(), lr=0.05,
                                                    weight_decay=0.1), dp)
    ref_opt = torch.optim.AdamW(reference.parameters(), lr=0.05, weight_decay=0.1)
    torch.manual_seed(11)
    B = sum(shares)
    for step in range(K):
        x, y = torch.randn(B, 6), torch.randn(B, 1)
        b, e = dp.offset, dp.offset + dp.local_share
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(dp(x[b:e]), y[b:e]).backward()  # its own samples' mean
        opt.step()
        assert model.unused.grad is None, f"rank {r}: the unused parameter got a gradient"
        ref_opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(reference(x), y).backward()
        ref_opt.step()
    assert torch.equal(model.unused.detach(), torch.ones(4)), f"rank {r}: unused moved"
    assert torch.equal(model.frozen.weight, reference.frozen.weight), f"rank {r}: frozen moved"
    diff = max_param_diff(model, reference)
    assert diff <= ATOL, f"rank {r}: difference {diff} above {ATOL}"
    if r == 0:
        print(f"dp_equivalence: frozen and unused parameters stay as in one process under AdamW "
              f"({p} ranks, max |parameter difference| {diff:.2e})")
    tt.barrier()


# BatchNorm in training mode needs 2 samples per rank; on 4 ranks rank 0 trains none, so the
# buffers come from rank 1 (the first rank with a share: rank 0 runs no forward).
BN_SHARES = {2: [3, 5], 3: [2, 3, 5], 4: [0, 3, 2, 5]}


class WithBatchNorm(torch.nn.Module):
    """bn_in normalises the input: its running statistics depend on the data only, so they must
    equal the serial reproduction's bit for bit; bn's depend on the weights (within ATOL)."""

    def __init__(self):
        torch.manual_seed(5)
        super().__init__()
        self.bn_in = torch.nn.BatchNorm1d(6)
        self.lin = torch.nn.Linear(6, 8)
        self.bn = torch.nn.BatchNorm1d(8)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        return self.head(torch.relu(self.bn(self.lin(self.bn_in(x)))))


def ddp_reference_step(model, opt, x, y, shares):
    """One step of DDP's semantics in one process: each rank's share is normalised by its own
    batch statistics from the buffers every rank holds; gradients are weighted by share / B and
    summed; afterwards every rank holds the first training rank's buffers."""
    start = {k: v.clone() for k, v in model.named_buffers()}
    root = next(r for r, n in enumerate(shares) if n > 0)
    opt.zero_grad(set_to_none=True)
    kept, b = None, 0
    for r, n in enumerate(shares):
        if n == 0:
            continue
        model.load_state_dict(start, strict=False)
        loss = torch.nn.functional.mse_loss(model(x[b:b + n]), y[b:b + n])
        (loss * (n / sum(shares))).backward()
        if r == root:
            kept = {k: v.clone() for k, v in model.named_buffers()}
        b += n
    model.load_state_dict(kept, strict=False)
    opt.step()


def same_as_rank0(tensor):
    first = tensor.clone()
    tt.broadcast(first, root=0)
    return torch.equal(first, tensor)


def batch_norm(r, p):
    shares = BN_SHARES[p]
    model = WithBatchNorm()
    reference = copy.deepcopy(model)
    dp = tt.DataParallel(model, shares=shares, emulate=False)
    opt = tt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), dp)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    torch.manual_seed(13)
    for step in range(K):
        x, y = torch.randn(sum(shares), 6) * 3 + 1, torch.randn(sum(shares), 1)
        opt.zero_grad(set_to_none=True)
        if dp.local_share:
            b, e = dp.offset, dp.offset + dp.local_share
            torch.nn.functional.mse_loss(dp(x[b:e]), y[b:e]).backward()
        opt.step()
        ddp_reference_step(reference, ref_opt, x, y, shares)
        for name, buf in model.named_buffers():
            assert same_as_rank0(buf), f"rank {r}: step {step}: {name} differs from rank 0's"
        ref = dict(reference.named_buffers())
        for name in ("bn_in.running_mean", "bn_in.running_var", "bn_in.num_batches_tracked",
                     "bn.num_batches_tracked"):
            assert torch.equal(dict(model.named_buffers())[name], ref[name]), \
                f"rank {r}: step {step}: {name} is not the serial reproduction's"
        diff = max((dict(model.named_buffers())[n] - ref[n]).abs().max().item()
                   for n in ("bn.running_mean", "bn.running_var"))
        assert diff <= ATOL, f"rank {r}: step {step}: bn statistics differ by {diff}"
    diff = max_param_diff(model, reference)
    assert diff <= ATOL, f"rank {r}: parameters differ by {diff} from the serial reproduction"
    per_rank_buffers(r, p, shares)
    if r == 0:
        root = next(q for q, n in enumerate(shares) if n > 0)
        print(f"dp_equivalence: BatchNorm running statistics are rank {root}'s on all {p} ranks "
              f"(shares {shares}) after each of {K} steps and equal a serial reproduction of "
              f"DDP's semantics (max |parameter difference| {diff:.2e})")
    tt.barrier()


def per_rank_buffers(r, p, shares):
    """broadcast_buffers=False: each rank keeps the statistics of its own samples."""
    model = WithBatchNorm()
    dp = tt.DataParallel(model, shares=shares, emulate=False, broadcast_buffers=False)
    x = torch.arange(sum(shares) * 6, dtype=torch.float32).view(-1, 6)
    if dp.local_share:
        b, e = dp.offset, dp.offset + dp.local_share
        dp(x[b:e]).sum().backward()
    dp.synchronize()
    differs = not same_as_rank0(model.bn_in.running_mean)
    assert differs == (r != 0 and shares[r] > 0), \
        f"rank {r}: broadcast_buffers=False: statistics {'differ' if differs else 'agree'}"


if __name__ == "__main__":
    main()
