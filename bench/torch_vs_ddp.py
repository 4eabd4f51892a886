"""One side of bench/torch_vs_ddp.sh, on 4 ranks under mpirun: trains the example GPT
(examples/torch/gpt.py, the tiny-gpt shape; bench/torch-bench-job.yaml) on the shipped corpus for
--steps timed steps after warm-up, either with torch DistributedDataParallel (gloo, the global batch split evenly) or with
tangram.torch (measured plan, uneven shares). Every rank's compute is stretched by the same
EMULATION factors (--slowdowns) in both modes, with the same Stretch hooks. Rank 0 prints one JSON
line: {"mode", "fleet", "samples_per_s", "step_s", "shares"}.
"""

import argparse
import json
import os
import sys
import time

import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "examples", "torch"))
import gpt  # noqa: E402
import tangram.torch as tt  # noqa: E402
from tangram import _tangram  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["ddp", "tangram"], required=True)
    ap.add_argument("--slowdowns", default="1,1,3,6")
    ap.add_argument("--fleet", default="hetero")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=5)

    args = ap.parse_args()
    torch.set_num_threads(1)
    slowdowns = [float(s) for s in args.slowdowns.split(",")]
    job = _tangram.load_job(os.path.join(REPO, "bench/torch-bench-job.yaml"))
    shape = job.model
    torch.manual_seed(1)
    model = gpt.gpt(**shape)
    data = gpt.CorpusBatches(_tangram.MarkovCorpus(seed=1, seq_len=shape["seq_len"]))
    B = job.global_batch

    if args.mode == "ddp":
        import torch.distributed as dist
        rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
        size = int(os.environ["OMPI_COMM_WORLD_SIZE"])
        dist.init_process_group("gloo", rank=rank, world_size=size)
        factor = slowdowns[rank]
        tt.Stretch(model, lambda: factor)  # EMULATION, as tangram.torch applies it
        net = torch.nn.parallel.DistributedDataParallel(model)
        shares = [B // size + (1 if r < B % size else 0) for r in range(size)]
        offset = sum(shares[:rank])

        def indices(step):
            return range(step * B + offset, step * B + offset + shares[rank])

        def barrier():
            dist.barrier()

        def step_fn(step):
            x, y = data.batch(indices(step))
            opt.zero_grad()
            gpt.lm_loss(net(x), y).backward()  # DDP averages: equal shares, so the batch mean
            opt.step()

        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    else:
        tt.init(job=job, slowdown=None)
        rank, size = tt.rank(), tt.size()
        tt.set_slowdown(slowdowns[rank])  # EMULATION
        x, y = data.batch(range(10**9, 10**9 + 4))
        plan = tt.calibrate_and_plan(lambda: gpt.lm_loss(model(x), y), batch_size=4,
                                     module=model, warmup=1, iterations=2, probes=2)
        net = tt.DataParallel(model, plan)  # re-balancing on, as users run it
        opt = tt.DistributedOptimizer(torch.optim.AdamW(model.parameters(), lr=1e-3), net)
        sampler = tt.ShareSampler(net)

        def barrier():
            tt.barrier()

        def step_fn(step):
            x, y = data.batch(sampler.next_indices())
            opt.zero_grad()
            if net.local_share > 0:
                gpt.lm_loss(net(x), y).backward()
            opt.step()

    for step in range(args.warmup):
        step_fn(step)
    barrier()
    start = time.perf_counter()
    for step in range(args.warmup, args.warmup + args.steps):
        step_fn(step)
    barrier()
    elapsed = time.perf_counter() - start
    if rank == 0:
        total = B * args.steps
        if args.mode == "tangram":
            shares = net.shares  # after any re-plan (the timed steps ran with these or the plan's)
        print(json.dumps({"mode": args.mode, "fleet": args.fleet, "samples_per_s": total / elapsed,
                          "step_s": elapsed / args.steps, "shares": shares}), flush=True)


if __name__ == "__main__":
    main()
