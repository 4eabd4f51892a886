"""Shared by the pipeline / checkpoint tests (run under mpirun with /usr/bin/python3).

A small deterministic model (nn.Sequential of 7 blocks), seeded global batches, and a
single-process reference trained on the full batch, against which every rank checks the
parameters of the blocks it computes.
"""

import sys
import threading

import torch
from torch import nn

# Tolerances (fp32): the runs agree to ~3e-8 (summation order of micro-batches and replicas);
# Adam divides by sqrt(v), which can amplify that, so both get the same generous 1e-5.
ATOL_SGD = 1e-5
ATOL_ADAM = 1e-5
GLOBAL_BATCH = 10
SKIP = 77


_COMM = []
_THREAD = threading.local()


def use_thread_communicator(comm):
    """Ranks as threads (--sim): this thread's rank uses `comm`."""
    _THREAD.comm = comm


def communicator(timeout_s=60.0):
    """This rank's communicator: the thread's (sim) or this process's MPI one (one per process:
    the cases of one run share it)."""
    if getattr(_THREAD, "comm", None) is not None:
        return _THREAD.comm
    if not _COMM:
        import tangram.torch
        _COMM.append(tangram.torch.init(timeout=timeout_s).comm)
    return _COMM[0]


def build_model(seed=0, hidden=12):
    """Initialised from its own generator, not torch's global RNG: ranks as threads (--sim)
    build models concurrently."""
    model = nn.Sequential(
        nn.Linear(6, hidden), nn.Tanh(), nn.Linear(hidden, 12), nn.Tanh(),
        nn.Linear(12, 12), nn.Tanh(), nn.Linear(12, 3))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if p.dim() > 1 else 0.1))
    return model


def batch(step):
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(GLOBAL_BATCH, 6, generator=g)
    y = torch.randint(0, 3, (GLOBAL_BATCH,), generator=g)
    return x, y


def loss_fn(out, y):
    return nn.functional.cross_entropy(out, y)


def make_optimizer(kind, params):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.1, momentum=0.9)
    return torch.optim.Adam(params, lr=0.01)


def reference(steps, kind, seed=0):
    """The single-process full-batch run: (model, [loss per step])."""
    model = build_model(seed)
    opt = make_optimizer(kind, model.parameters())
    losses = []
    for step in range(steps):
        x, y = batch(step)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return model, losses


def compare(pipe, ref_model, atol, what):
    """Max |difference| over the blocks this rank computes; exits 1 beyond `atol`."""
    worst = 0.0
    ref = dict(ref_model.named_parameters())
    for name, p in pipe.model.named_parameters():
        block = int(name.split(".")[0])
        if block in pipe.owned_layers:
            worst = max(worst, float((p.detach() - ref[name].detach()).abs().max()))
    rank = pipe.p2p.rank
    print(f"rank {rank}: {what}: owns blocks {pipe.owned_layers}, max |param - reference| = "
          f"{worst:.3g} (tolerance {atol})", flush=True)
    if worst > atol:
        print(f"rank {rank}: FAIL {what}", flush=True)
        sys.exit(1)


def require_torch_package():
    try:
        import tangram.torch  # noqa: F401
    except ImportError as e:
        print(f"SKIP: tangram.torch not importable ({e})", flush=True)
        sys.exit(SKIP)
