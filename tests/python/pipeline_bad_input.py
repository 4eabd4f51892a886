"""A model that cannot be split where the plan says: a clear PipelineError on every rank, before
any communication, never a hang (each case then shows the ranks still agree: a barrier).

    mpirun -np 2 /usr/bin/python3 tests/python/pipeline_bad_input.py
"""

import sys

from pipeline_common import batch, communicator, loss_fn, require_torch_package

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


if __name__ == "__main__":
    main()
