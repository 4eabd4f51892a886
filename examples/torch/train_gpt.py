"""Train a small GPT (plain PyTorch, gpt.py) with tangram.torch on a mixed fleet:

    mpirun -np 4 /usr/bin/python3 examples/torch/train_gpt.py   # PYTHONPATH=build/default/python

Each rank measures its own forward + backward; rank 0 plans on the measured fleet with the C++
partitioner and prints the plan as `tangram plan` does; every rank trains its uneven share of each
global batch of the shipped corpus; when a rank drifts (--drift, EMULATION) the shares are
re-planned at the next step. The job (configs/jobs/local-torch-gpt.yaml) names the fleet (the
emulated 1/1/3/6 CPU fleet), the model shape, the global batch, steps and learning rate.
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt  # noqa: E402
import tangram.torch as tt  # noqa: E402
from tangram import _tangram  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--job", default=os.path.join(REPO, "configs/jobs/local-torch-gpt.yaml"))
    ap.add_argument("--steps", type=int, default=0, help="0 = the job's")
    ap.add_argument("--drift", default="15:0:8",
                    help="EMULATION: STEP:RANK:FACTOR, rank RANK slows to FACTOR from STEP "
                         "('' = none)")
    ap.add_argument("--metrics", default="", help="rank 0 writes one JSON line per step here")
    ap.add_argument("--strategy", default="", help="'' = the job's")
    ap.add_argument("--checkpoint-dir", default=os.path.join(REPO, "out/local-torch-gpt/checkpoints"),
                    help="per-layer safetensors checkpoints go here ('' = none)")
    ap.add_argument("--checkpoint-every", type=int, default=10, help="steps between checkpoints")
    ap.add_argument("--resume", action="store_true",
                    help="continue from the latest checkpoint in --checkpoint-dir (any rank count)")
    return ap.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    ctx = tt.init(job=args.job)
    rank, job = tt.rank(), ctx.job
    log = (lambda *a: print(*a, flush=True)) if rank == 0 else (lambda *a: None)
    steps = args.steps or job.steps
    shape = job.model
    torch.manual_seed(job.seed)
    model = gpt.gpt(**shape)
    data = gpt.CorpusBatches(_tangram.MarkovCorpus(seed=job.seed, seq_len=shape["seq_len"]))
    log(f"tangram.torch: {tt.size()} ranks ({ctx.transport}), job {job.name}, model "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, EMULATION "
        f"slowdowns {job.slowdowns}")

    # Measure -> plan: each rank times forward + backward of one micro-batch of its own.
    mb = max(1, job.micro_batch) * 4
    x, y = data.batch(range(10**9, 10**9 + mb))  # far from the training samples
    plan = tt.calibrate_and_plan(lambda: gpt.lm_loss(model(x), y), batch_size=mb, module=model,
                                 strategy=args.strategy or None)
    log("measured seconds per sample: " +
        ", ".join(f"rank {r['rank']} {r['seconds_per_sample'] * 1e3:.2f} ms" for r in plan.reports))
    for line in plan.links:  # measured when the ranks span hosts (calibrate_and_plan's links)
        log("measured " + line)
    log(plan.text)
    log(f"shares of each global batch of {plan.global_batch}: {plan.shares}")

    # Patience 3: on a shared machine single steps are noisy; a drift lasts.
    dp = tt.DataParallel(model, plan, rebalance_patience=3, log=log)
    opt = tt.DistributedOptimizer(torch.optim.AdamW(model.parameters(), lr=job.learning_rate),
                                  dp)
    sampler = tt.ShareSampler(dp)
    drift = [float(v) for v in args.drift.split(":")] if args.drift else None
    metrics = open(args.metrics, "w") if args.metrics and rank == 0 else None
    losses = []
    first = 0
    if args.resume:
        # Every rank loads every layer (weights and AdamW moments); the plan may differ from the
        # run that wrote it. The sampler skips the global batches already trained on.
        first = tt.load_checkpoint(model, opt.optimizer, args.checkpoint_dir, comm=ctx.comm)
        for _ in range(first):
            sampler.next_indices()
        log(f"resumed from step {first} of {args.checkpoint_dir}")
    start = time.perf_counter()
    for step in range(first, steps):
        if drift and step == int(drift[0]) and rank == int(drift[1]):
            tt.set_slowdown(drift[2])
            print(f"rank {rank}: EMULATION drift, compute now {drift[2]:g}x slower", flush=True)
        t0 = time.perf_counter()
        shares = list(dp.shares)
        xb, yb = data.batch(sampler.next_indices())
        opt.zero_grad()
        if dp.local_share > 0:
            loss = gpt.lm_loss(dp(xb), yb)
            loss.backward()
            weighted = torch.tensor([loss.item() * dp.local_share / dp.global_batch])
        else:
            weighted = torch.zeros(1)
        opt.step()
        tt.allreduce(weighted)  # the global batch's mean loss, for the log
        losses.append(weighted.item())
        dt = time.perf_counter() - t0
        log(f"step {step:3d}  loss {losses[-1]:.4f}  {dt * 1e3:7.1f} ms  shares {shares}")
        if metrics:
            metrics.write(json.dumps({"step": step, "loss": losses[-1], "step_s": dt,
                                      "shares": shares}) + "\n")
        done = step + 1
        if args.checkpoint_dir and (done % args.checkpoint_every == 0 or done == steps):
            tt.save_checkpoint(model, opt.optimizer, args.checkpoint_dir, done, comm=ctx.comm)
            log(f"checkpoint: step {done} committed in {args.checkpoint_dir}")
    total = time.perf_counter() - start
    floor = data.corpus.entropy_rate
    if not losses:
        log(f"nothing to train: the checkpoint is at step {first} of {steps}")
        return
    log(f"loss {losses[0]:.3f} -> {losses[-1]:.3f} (corpus entropy floor {floor:.3f}) in {steps - first} "
        f"steps, {total:.1f} s; re-plans {dp.replans}")
    for line in dp.replan_log:
        log("  " + line)
    log(json.dumps({"first_loss": losses[0], "final_loss": losses[-1], "entropy_floor": floor,
                    "replans": dp.replans, "final_shares": dp.shares, "seconds": total}))
    if metrics:
        metrics.close()


if __name__ == "__main__":
    main()
