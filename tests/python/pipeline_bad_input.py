"""A model that cannot be split where the plan says: a clear PipelineError on every rank, before
any communication, never a hang (each case then shows the ranks still agree: a barrier).
not_the_same(): ranks that build different models or get different plans: every rank raises a
PipelineError naming the rank that differs from rank 0 and what differs, at construction; a rank
given another global batch: every rank raises at the end of that train_step.

    mpirun -np 2 /usr/bin/python3 tests/python/pipeline_bad_input.py
"""

import sys
import time

from pipeline_common import batch, build_model, communicator, loss_fn, require_torch_package

require_torch_package()
import torch  # noqa: E402
from torch import nn  # noqa: E402
from tangram.torch.pipeline import Pipeline, PipelineError, PipelinePlan  # noqa: E402


class Pair(nn.Module):
    """Returns a tuple: no single activation can cross a stage boundary after it."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 6)

    def forward(self, x):
        return self.lin(x), x


class First(nn.Module):
    def forward(self, pair):
        return pair[0] + pair[1]


def tied():
    emb = nn.Linear(6, 6)
    head = nn.Linear(6, 6)
    head.weight = emb.weight  # tied weights across the boundary
    return nn.Sequential(emb, nn.Tanh(), head, nn.Linear(6, 3))


CASES = [
    ("tied weights across stages", tied, [0, 2, 4], "share parameter weight (tied weights)"),
    ("tuple at the boundary", lambda: nn.Sequential(Pair(), First(), nn.Linear(6, 3)), [0, 1, 3],
     "returns tuple, not one tensor"),
    ("layer count", lambda: nn.Sequential(nn.Linear(6, 3)), [0, 1, 2],
     "the plan splits 2 layers but the model has 1 blocks"),
    ("not a sequence", lambda: nn.Linear(6, 3), [0, 1, 2], "needs an nn.Sequential"),
]


def main():
    comm = communicator(timeout_s=30.0)
    x, y = batch(0)
    for name, build, bounds, expected in CASES:
        try:
            pipe = Pipeline(build(), PipelinePlan(bounds, [[0], [1]], [10], 5), comm, loss_fn)
            pipe.train_step(x, y)
        except PipelineError as e:
            assert expected in str(e), f"{name}: {e}"
            print(f"rank {comm.rank}: {name}: {e}", flush=True)
        else:
            print(f"rank {comm.rank}: FAIL {name}: no error", flush=True)
            sys.exit(1)
        comm.wait(comm.barrier(30.0))
    # The tuple case is a boundary problem only: the same model splits fine where a tensor flows.
    pipe = Pipeline(nn.Sequential(Pair(), First(), nn.Linear(6, 3)),
                    PipelinePlan([0, 2, 3], [[0], [1]], [10], 5), comm, loss_fn)
    assert torch.isfinite(torch.tensor(pipe.train_step(x, y)))
    print("PASS bad input", flush=True)


# A plan per rank count: pp 2 (2 ranks), pp 3 (3), pp 2 x dp 2 (4), and another stage split.
PLANS = {2: ([0, 5, 7], [[0], [1]], [10], 4), 3: ([0, 2, 6, 7], [[0], [1], [2]], [10], 3),
         4: ([0, 3, 7], [[0, 1], [2, 3]], [7, 3], [3, 2])}


def frozen_first(model):
    model[0].requires_grad_(False)
    return model


def not_the_same():
    """Each case: one rank builds something else; every rank must raise within seconds."""
    comm = communicator(timeout_s=30.0)
    r, p = comm.rank, comm.size
    last = p - 1
    bounds, ranks, samples, mbs = PLANS[p]
    plan = PipelinePlan(bounds, ranks, samples, mbs)
    other = PipelinePlan([0, 1] + bounds[2:], ranks, samples, mbs)
    more_samples = PipelinePlan(bounds, ranks, [s + 1 for s in samples], mbs)
    cases = [
        # a replica (the last rank) with another hidden size: block 0 is Linear(6, 16)
        ("hidden size", lambda: build_model(hidden=16 if r == last else 12), plan,
         [f"rank {last}'s model differs from rank 0's in block 0", "(16, 6)", "(12, 6)"]),
        ("stage bounds", build_model, other if r == 1 else plan,
         ["rank 1 was given another plan than rank 0", "stage bounds"]),
        ("shares", build_model, more_samples if r == last else plan,
         [f"rank {last} was given another plan", "samples per replica"]),
        ("block count", lambda: nn.Sequential(*build_model(), *([nn.Tanh()] if r == last else [])),
         plan, [f"rank {last}'s model has 8 blocks, rank 0's 7"]),
        ("frozen layer", lambda: frozen_first(build_model()) if r == 1 else build_model(), plan,
         ["rank 1's model differs from rank 0's in block 0", "frozen ['weight', 'bias']"]),
        # rank 1 raises its own error, the others name rank 1
        ("not a sequence on one rank", lambda: nn.Linear(6, 3) if r == 1 else build_model(), plan,
         ["needs an nn.Sequential"] + (["built on rank 1"] if r != 1 else [])),
    ]
    for name, build, rank_plan, expected in cases:
        start = time.monotonic()
        try:
            Pipeline(build(), rank_plan, comm, loss_fn)
        except PipelineError as e:
            missing = [w for w in expected if w not in str(e)]
            assert not missing, f"rank {r}: {name}: {missing} not in: {e}"
            print(f"rank {r}: {name}: {e}", flush=True)
        else:
            print(f"rank {r}: FAIL {name}: no error", flush=True)
            sys.exit(1)
        elapsed = time.monotonic() - start
        assert elapsed < 10, f"rank {r}: {name}: the error took {elapsed:.1f} s"
        comm.wait(comm.barrier(30.0))
    # The same model and plan everywhere still builds and trains.
    pipe = Pipeline(build_model(), plan, comm, loss_fn)
    x, y = batch(0)
    assert torch.isfinite(torch.tensor(pipe.train_step(x, y)))
    # A re-plan given differently on one rank is refused on every rank, before anything moves.
    try:
        pipe.replan(more_samples if r == last else plan)
    except PipelineError as e:
        assert f"rank {last} was given another plan" in str(e), f"rank {r}: replan: {e}"
    else:
        print(f"rank {r}: FAIL replan to other plans: no error", flush=True)
        sys.exit(1)
    assert pipe.plan.samples == samples, f"rank {r}: the refused plan was taken"
    assert torch.isfinite(torch.tensor(pipe.train_step(x, y)))
    # The last rank given another global batch (its loader shuffled with another seed: the
    # samples of rank 0's batch in another order, then other targets): every rank raises naming
    # it (it trained silently on a mixture of the ranks' batches).
    for what, (bx, by) in (("inputs and targets", (x.flip(0), y.flip(0))),
                           ("targets", (x, (y + 1) % 3))):
        try:
            pipe.train_step(*((bx, by) if r == last else (x, y)))
        except PipelineError as e:
            words = [f"rank {last} was given another global batch", f"its {what} differ"]
            assert all(w in str(e) for w in words), f"rank {r}: {what}: {e}"
        else:
            print(f"rank {r}: FAIL another batch ({what}) on rank {last}: no error", flush=True)
            sys.exit(1)
    print(f"PASS not the same ({p} ranks)", flush=True)


if __name__ == "__main__":
    main()
