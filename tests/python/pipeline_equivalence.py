"""Uneven pipelines (pp 2, pp 3, pp 2 x dp 2) with partial micro-batches reach the parameters of a
single-process full-batch run; a re-plan mid-run moves blocks (module + Adam state) between
ranks and the run still matches.

    mpirun -np 2 /usr/bin/python3 tests/python/pipeline_equivalence.py pp2 bad_input
    mpirun -np 3 ... pp3 pp3_clip replan not_same | mpirun -np 4 ... pp2dp2 pp2dp2_frozen
        pp2dp2_clip pp2dp2_buffers not_same
    /usr/bin/python3 tests/python/pipeline_equivalence.py --sim pp2 pp3 pp2dp2 pp2dp2_clip
        pp2dp2_buffers replan bad_input not_same
(CASE_clip: the case's plan with gradient clipping by the whole model's norm)
(several cases per run: one interpreter start-up, which dominates the time, for all of them;
--sim runs each case's ranks as threads of this process on the simulated transport)
"""

import sys
from types import SimpleNamespace

from pipeline_common import (ATOL_ADAM, ATOL_SGD, batch, build_model, communicator, compare,
                             loss_fn, make_optimizer, reference, require_torch_package)

require_torch_package()
import torch  # noqa: E402
from tangram.torch.pipeline import Pipeline, PipelinePlan  # noqa: E402

# name: (ranks, plan, optimizer, steps)
CASES = {
    # Blocks 0-4 | 5-6; one replica, micro-batches 4 + 4 + 2.
    "pp2": (2, PipelinePlan([0, 5, 7], [[0], [1]], [10], 4), "sgd", 3),
    # Uneven stages 0-1 | 2-5 | 6; micro-batches 3 + 3 + 3 + 1. Given as a Tangram plan's JSON
    # (the fields `tangram plan` writes that a pipeline reads).
    "pp3": (3, {"tp": 1,
                "stages": [{"index": s, "layers": b, "cells": [{"replica": 0, "devices": [s]}]}
                           for s, b in enumerate([[0, 2], [2, 6], [6, 7]])],
                "replicas": [{"index": 0, "samples": 10, "micro_batch_size": 3}]}, "sgd", 3),
    # pp 2 x dp 2: replica 0 (ranks 0, 2) trains 7 samples (3 + 3 + 1), replica 1 (ranks 1, 3)
    # trains 3 (2 + 1). Given in the shape of a tangram.torch.Plan (calibrate_and_plan's result):
    # stages [(begin, end, [ranks of each replica's cell])], replicas [(samples, mbs, count)].
    "pp2dp2": (4, SimpleNamespace(tp=1, stages=[(0, 3, [[0], [1]]), (3, 7, [[2], [3]])],
                                  replicas=[(7, 3, 3), (3, 2, 2)]), "sgd", 3),
}


def run_case(name):
    ranks, plan, kind, steps = CASES[name]
    comm = communicator()
    assert comm.size == ranks, f"{name} needs {ranks} ranks, got {comm.size}"
    model = build_model()
    pipe = Pipeline(model, plan, comm, loss_fn)
    opt = make_optimizer(kind, model.parameters())
    losses = []
    for step in range(steps):
        x, y = batch(step)
        opt.zero_grad(set_to_none=True)
        losses.append(pipe.train_step(x, y))
        opt.step()
    ref_model, ref_losses = reference(steps, kind)
    for a, b in zip(losses, ref_losses):
        assert abs(a - b) < 1e-5, f"loss {a} vs reference {b}"
    compare(pipe, ref_model, ATOL_SGD if kind == "sgd" else ATOL_ADAM, name)


def run_replan():
    """3 ranks, Adam. Steps 0-1 on stages 0-2 | 3-6 (pp 2, rank 2 idle), then a re-plan to
    pp 3 (0-1 | 2-4 | 5-6): blocks 2, 5, 6 move with their Adam moments; steps 2-3; then a
    re-plan to pp 1 x dp 3 with uneven shares (every block moves to ranks that lack it); step 4."""
    comm = communicator()
    model = build_model()
    pipe = Pipeline(model, PipelinePlan([0, 3, 7], [[0], [1]], [10], 4), comm, loss_fn)
    opt = make_optimizer("adam", model.parameters())
    plans = {2: PipelinePlan([0, 2, 5, 7], [[0], [1], [2]], [10], 3),
             4: PipelinePlan([0, 7], [[0, 1, 2]], [5, 3, 2], 2)}
    for step in range(5):
        if step in plans:
            pipe.replan(plans[step], opt)
        x, y = batch(step)
        opt.zero_grad(set_to_none=True)
        pipe.train_step(x, y)
        opt.step()
    compare(pipe, reference(5, "adam")[0], ATOL_ADAM, "replan")


def run_frozen():
    """pp 2 x dp 2 with the first layer frozen and AdamW's weight decay: the replicas' gradient
    sum must leave a frozen parameter alone (it gave it a zero gradient, and the decay moved it)
    and match one process's run."""
    comm = communicator()

    def frozen_model():
        model = build_model()
        model[0].requires_grad_(False)
        return model, torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.1)

    model, opt = frozen_model()
    before = model[0].weight.detach().clone()
    pipe = Pipeline(model, CASES["pp2dp2"][1], comm, loss_fn)
    ref_model, ref_opt = frozen_model()
    for step in range(3):
        x, y = batch(step)
        opt.zero_grad(set_to_none=True)
        pipe.train_step(x, y)
        opt.step()
        ref_opt.zero_grad(set_to_none=True)
        loss_fn(ref_model(x), y).backward()
        ref_opt.step()
    assert torch.equal(model[0].weight.detach(), before), f"rank {comm.rank}: frozen layer moved"
    compare(pipe, ref_model, ATOL_ADAM, "pp2dp2 frozen")


def run_clip(name):
    """Gradient clipping by the whole model's norm (Pipeline.clip_grad_norm_): the same total
    norm and, after 3 AdamW steps, the same parameters as torch.nn.utils.clip_grad_norm_ in one
    process. torch's function on a rank's own parameters takes its stage's norm only (each stage
    clipped by another factor: 1.7e-4 off after 4 steps in the audit)."""
    comm = communicator()
    plan = CASES[name][1]
    model = build_model()
    pipe = Pipeline(model, plan, comm, loss_fn)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.1)
    ref_model = build_model()
    ref_opt = torch.optim.AdamW(ref_model.parameters(), lr=0.01, weight_decay=0.1)
    max_norm = 0.05
    for step in range(3):
        x, y = batch(step)
        opt.zero_grad(set_to_none=True)
        pipe.train_step(x, y)
        norm = pipe.clip_grad_norm_(max_norm)
        opt.step()
        ref_opt.zero_grad(set_to_none=True)
        loss_fn(ref_model(x), y).backward()
        ref_norm = float(torch.nn.utils.clip_grad_norm_(ref_model.parameters(), max_norm))
        ref_opt.step()
        assert ref_norm > 2 * max_norm, f"the test wants clipping to act (norm {ref_norm})"
        assert abs(norm - ref_norm) <= 1e-5 * ref_norm, \
            f"rank {comm.rank}: step {step}: total norm {norm} vs one process's {ref_norm}"
    compare(pipe, ref_model, ATOL_ADAM, f"{name} clip_grad_norm_")


def run_buffers():
    """pp 2 x dp 2 with a BatchNorm1d in each stage: after every step the replicas of a stage
    hold replica 0's running statistics bit for bit (each replica updated them on its own
    micro-batches, so they drifted apart: num_batches_tracked 12 vs 8 after 4 steps in the
    session 12 audit); broadcast_buffers=False keeps each replica's own."""
    import tangram.torch as tt
    from torch import nn

    comm = communicator()
    for broadcast in (True, False):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 12), nn.BatchNorm1d(12), nn.Tanh(), nn.Linear(12, 12),
                              nn.BatchNorm1d(12), nn.Tanh(), nn.Linear(12, 3))
        # Micro-batches 3 + 3 and 2 + 2: BatchNorm needs 2 samples or more.
        plan = PipelinePlan([0, 3, 7], [[0, 1], [2, 3]], [6, 4], [3, 2])
        pipe = Pipeline(model, plan, comm, loss_fn, broadcast_buffers=broadcast)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(3):
            x, y = batch(step)
            opt.zero_grad(set_to_none=True)
            pipe.train_step(x, y)
            opt.step()
            mine = [b.tolist() for b in pipe.stage_module.buffers()]
            every = tt.allgather_object((pipe.stage, pipe.replica, mine))
            first = {s: bufs for s, j, bufs in every if j == 0}
            same = all(bufs == first[s] for s, _, bufs in every)
            assert same == broadcast, \
                f"rank {comm.rank}: step {step}: replicas' buffers equal: {same} (broadcast " \
                f"{broadcast}): {[(s, j, bufs[-1]) for s, j, bufs in every]}"
    print(f"rank {comm.rank}: pp2dp2 buffers: replica 0's on every replica after every step",
          flush=True)


def run(case):
    if case.endswith("_clip"):
        run_clip(case[:-len("_clip")])
    elif case == "pp2dp2_buffers":
        run_buffers()
    elif case == "replan":
        run_replan()
    elif case == "pp2dp2_frozen":
        run_frozen()
    elif case == "bad_input":
        import pipeline_bad_input
        pipeline_bad_input.main()
    elif case == "not_same":
        import pipeline_bad_input
        pipeline_bad_input.not_the_same()
    else:
        run_case(case)
    print(f"PASS {case}", flush=True)


def run_sim(case):
    """The case's ranks as threads on the simulated transport; exits 1 if any rank failed."""
    import tangram.torch as tt
    from pipeline_common import use_thread_communicator
    from torch_test_util import run_sim_ranks

    base = case.rsplit("_", 1)[0] if case.endswith(("_clip", "_buffers")) else case
    ranks = CASES[base][0] if base in CASES else \
        {"replan": 3, "bad_input": 2, "not_same": 3}[case]
    world = tt.sim_world(ranks, timeout=30)

    def rank_main(r):  # SystemExit from compare() is reported as a failure too
        use_thread_communicator(tt.init(transport="sim", sim_world=world, rank=r,
                                        timeout=30).comm)
        run(case)

    run_sim_ranks(ranks, rank_main, f"pipeline_equivalence {case}")

if __name__ == "__main__":
    if sys.argv[1] == "--sim":
        for case in sys.argv[2:]:
            run_sim(case)
    else:
        for case in sys.argv[1:]:
            run(case)
