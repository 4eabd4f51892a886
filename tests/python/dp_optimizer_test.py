"""DataParallel with what a training team brings besides its model: gradient clipping, a
learning-rate scheduler, AdamW's weight decay, checkpoints of a DistributedOptimizer, parameters
unfrozen during training, and wrong arguments (session 12's audit).

    mpirun -np 3 /usr/bin/python3 tests/python/dp_optimizer_test.py

Every case compares against one process training the whole global batch (same seed, same data):
parameters within ATOL, bit-identical on every rank.
"""

import copy
import os
import shutil
import tempfile

import torch
import torch.nn.functional as F
from torch import nn

import tangram.torch as tt
from tangram.errors import TangramError
from tangram.torch.checkpoint import CheckpointError

ATOL = 1e-5
STEPS = 4
MAX_NORM = 0.05


def build(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 3))


def data():
    g = torch.Generator().manual_seed(5)
    return torch.randn(48, 5, generator=g), torch.randint(0, 3, (48,), generator=g)


def adamw(params):
    return torch.optim.AdamW(params, lr=0.02, weight_decay=0.1)


def shares_for(size):
    return [2 + 3 * r for r in range(size)]  # uneven: 2, 5, 8, ...


class Serial:
    """The single-process run: the whole global batch of every step."""

    def __init__(self, model, dp, clip=False):
        self.model = copy.deepcopy(model)
        self.opt = adamw(self.model.parameters())
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, 2, 0.5)
        self.sampler = tt.ShareSampler(dp, num_samples=48, seed=1)
        self.clip = clip
        self.steps = 0

    def step(self, x, y):
        idx = self.sampler.global_indices(self.steps * self.sampler.dp.global_batch,
                                          self.sampler.dp.global_batch)
        self.steps += 1
        self.opt.zero_grad()
        F.cross_entropy(self.model(x[idx]), y[idx]).backward()
        if self.clip:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), MAX_NORM)
            assert norm > 2 * MAX_NORM, f"the test wants clipping to act (norm {norm})"
        self.opt.step()
        self.sched.step()


def check_against(model, serial, what):
    diff = max((a - b).abs().max().item()
               for a, b in zip(model.parameters(), serial.model.parameters()))
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    first = flat.clone()
    tt.broadcast(first, root=0)
    assert torch.equal(flat, first), f"rank {tt.rank()}: {what}: parameters differ from rank 0's"
    print(f"rank {tt.rank()}: {what}: max |parameter - single process| {diff:.2e}", flush=True)
    assert diff <= ATOL, f"rank {tt.rank()}: {what}: {diff} above {ATOL}"


def clipping():
    """backward, clip, step (the single-process order) clipped the local gradients, which the
    reduction then overwrote: the clip was lost without a word (1.3e-3 off after 6 steps). It now
    raises on every rank, after the step's communication (dp_share_zero_test.py: share-0 ranks
    too); synchronize(),
    clip, step() matches the single process and reduces once (step() used to reduce again)."""
    x, y = data()
    model = build()
    dp = tt.DataParallel(model, shares=shares_for(tt.size()), bucket_cap_mb=0.0005,
                         emulate=False)
    opt = tt.DistributedOptimizer(adamw(model.parameters()), dp)
    sampler = tt.ShareSampler(dp, num_samples=48, seed=1)
    idx = sampler.next_indices()
    opt.zero_grad()
    F.cross_entropy(dp(x[idx]), y[idx]).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    try:
        opt.step()
        raise AssertionError("clipping between backward and synchronize() went through")
    except TangramError as e:
        assert e.code == "FAILED_PRECONDITION" and "synchronize() first" in e.message, e

    model = build()
    dp = tt.DataParallel(model, shares=shares_for(tt.size()), bucket_cap_mb=0.0005,
                         emulate=False)
    opt = tt.DistributedOptimizer(adamw(model.parameters()), dp)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    sampler = tt.ShareSampler(dp, num_samples=48, seed=1)
    serial = Serial(model, dp, clip=True)
    for _ in range(STEPS):
        idx = sampler.next_indices()
        opt.zero_grad()
        F.cross_entropy(dp(x[idx]), y[idx]).backward()
        dp.synchronize()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        opt.step()
        sched.step()
        serial.step(x, y)
    assert dp.steps == STEPS, f"{dp.steps} reductions for {STEPS} steps (step() reduced again)"
    check_against(model, serial, "synchronize, clip_grad_norm_, step")


def train(dp, opt, sched, sampler, serial, x, y, steps):
    """`steps` steps of dp and the serial reference on the same samples, the scheduler after each."""
    for _ in range(steps):
        idx = sampler.next_indices()
        opt.zero_grad()
        F.cross_entropy(dp(x[idx]), y[idx]).backward()
        opt.step()
        sched.step()
        serial.step(x, y)


def scheduler_and_checkpoint():
    """DistributedOptimizer is a torch Optimizer: StepLR takes it (it raised "DistributedOptimizer
    is not an Optimizer") and save_checkpoint/load_checkpoint take it (they raised "'Distributed
    Optimizer' object has no attribute 'state'"). Saved after 2 steps, loaded into a fresh model
    and optimizer, 2 more steps: the uninterrupted single-process run."""
    x, y = data()
    directory = tempfile.mkdtemp(prefix="tangram-dp-opt-") if tt.rank() == 0 else None
    directory = tt.broadcast_object(directory)
    model = build()
    dp = tt.DataParallel(model, shares=shares_for(tt.size()), emulate=False)
    opt = tt.DistributedOptimizer(adamw(model.parameters()), dp)
    assert isinstance(opt, torch.optim.Optimizer)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    sampler = tt.ShareSampler(dp, num_samples=48, seed=1)
    serial = Serial(model, dp)
    train(dp, opt, sched, sampler, serial, x, y, 2)
    tt.save_checkpoint(model, opt, directory, 2, comm=tt.current().comm)

    model = build(seed=9)  # other initial weights: everything comes from the checkpoint
    dp = tt.DataParallel(model, shares=shares_for(tt.size()), emulate=False)
    opt = tt.DistributedOptimizer(adamw(model.parameters()), dp)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    step = tt.load_checkpoint(model, opt, directory, comm=tt.current().comm)
    assert step == 2 and len(opt.state) == 3 * 2, (step, len(opt.state))
    # The checkpoint restores the learning rate in opt.param_groups; the scheduler's own count
    # is the caller's to restore (or sched.state_dict() to save beside the checkpoint).
    sched.last_epoch = step
    sampler = tt.ShareSampler(dp, num_samples=48, seed=1)
    sampler.next_indices(), sampler.next_indices()
    train(dp, opt, sched, sampler, serial, x, y, 2)
    check_against(model, serial, "StepLR + checkpoint of a DistributedOptimizer")
    tt.barrier()
    if tt.rank() == 0:
        shutil.rmtree(directory)


def unfreezing():
    """A layer unfrozen after DataParallel was built trained on each rank's own gradient, and the
    ranks drifted apart without a word. The step now raises on every rank; a DataParallel built
    again over the module replaces the first one and trains it as one process does."""
    x, y = data()
    model = build()
    model[0].requires_grad_(False)
    dp = tt.DataParallel(model, shares=shares_for(tt.size()), emulate=False)
    opt = tt.DistributedOptimizer(adamw(model.parameters()), dp)
    sampler = tt.ShareSampler(dp, num_samples=48, seed=1)
    serial = Serial(model, dp)
    model[0].requires_grad_(True)
    serial.model[0].requires_grad_(True)
    idx = sampler.next_indices()
    opt.zero_grad()
    F.cross_entropy(dp(x[idx]), y[idx]).backward()
    try:
        opt.step()
        raise AssertionError("a parameter unfrozen after DataParallel was built went unreduced")
    except TangramError as e:
        assert e.code == "FAILED_PRECONDITION" and "0.weight" in e.message, e
    old = dp
    dp = tt.DataParallel(model, shares=shares_for(tt.size()), emulate=False)
    opt = tt.DistributedOptimizer(opt.optimizer, dp)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    sampler = tt.ShareSampler(dp, num_samples=48, seed=1)
    train(dp, opt, sched, sampler, serial, x, y, STEPS)
    try:
        old.synchronize()
        raise AssertionError("the replaced DataParallel still reduced")
    except TangramError as e:
        assert e.code == "FAILED_PRECONDITION" and "replaced" in e.message, e
    check_against(model, serial, "unfrozen, DataParallel built again")


def wrong_arguments():
    """These raised AttributeError or TypeError from deep inside (or at a later call)."""
    model = build()
    dp = tt.DataParallel(model, shares=shares_for(tt.size()), emulate=False)
    cases = [
        ("module", lambda: tt.DataParallel("model"), tt.ArgumentTypeError),
        ("plan", lambda: tt.DataParallel(model, plan="plan.json"), tt.ArgumentTypeError),
        ("optimizer", lambda: tt.DistributedOptimizer("adamw", dp), tt.ArgumentTypeError),
        ("dp", lambda: tt.DistributedOptimizer(adamw(model.parameters()), None),
         tt.ArgumentTypeError),
        ("dp", lambda: tt.ShareSampler(None), tt.ArgumentTypeError),
        ("loss_fn", lambda: tt.calibrate(None, 4), tt.ArgumentTypeError),
        ("meta", lambda: tt.DataParallel(nn.Linear(2, 2, device="meta")), TangramError),
    ]
    for name, call, kind in cases:
        try:
            call()
            raise AssertionError(f"{name}: accepted")
        except kind as e:
            assert e.code == "INVALID_ARGUMENT" and name in e.message, e


def second_init():
    """A second init() under mpirun returned the first context unchanged: its job was dropped
    (calibrate_and_plan then said "planning needs init(job=...)"), its timeout too. It now adds
    them; another job or transport than the process started with is refused."""
    source = os.environ.get("TANGRAM_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    job = os.path.join(source, "tests", "python", "torch-test-job.yaml")
    ctx = tt.init(job=job, timeout=25, slowdown=1)
    assert ctx is tt.current() and ctx.job is not None and ctx.job.name == "torch-test", ctx.job
    assert ctx.timeout == 25 and ctx.slowdown == 1, (ctx.timeout, ctx.slowdown)
    assert tt.init() is ctx and ctx.timeout == 25  # nothing given: nothing changes
    for call, words in ((lambda: tt.init(job=os.path.join(source, "configs", "jobs",
                                                         "local-torch-gpt.yaml")), "job"),
                        (lambda: tt.init(transport="nccl"), "transport")):
        try:
            call()
            raise AssertionError(f"a second init() with another {words} was accepted")
        except TangramError as e:
            assert e.code == "FAILED_PRECONDITION" and "already started" in e.message, e


class FakeClock:
    """A compute clock the test advances by hand (seconds)."""

    def __init__(self):
        self.t = 0.0

    def now(self):
        return self.t

    def seconds(self, start, end, slowdown):
        return end - start


def links_on_one_host():
    """calibrate_and_plan(links=True) on one host: the link probe runs over the communicator and
    measures the ranks' shared link (same_node); the plan lists it and the context keeps it for
    re-plans. The default ("auto") measures nothing on one host: nothing crosses a network."""
    x, y = data()
    model = build()
    loss = lambda: nn.functional.cross_entropy(model(x[:4]), y[:4])  # noqa: E731
    plan = tt.calibrate_and_plan(loss, batch_size=4, module=model, links=True)
    assert any(line.startswith("link same_node") for line in plan.links), plan.links
    assert tt.current().links is not None
    tt.current().links = None
    plan = tt.calibrate_and_plan(loss, batch_size=4, module=model)
    assert plan.links == [] and tt.current().links is None, plan.links


def validation_is_not_timed():
    """A forward under torch.no_grad() through dp (validation between steps) started the step's
    clock: its compute was charged to the next training step's seconds per sample, which
    re-balancing exchanges. Validation taking 100 s, then a step of 1 s: 1 s per share."""
    x, y = data()
    model = build()
    dp = tt.DataParallel(model, shares=shares_for(tt.size()), emulate=False)
    opt = tt.DistributedOptimizer(adamw(model.parameters()), dp)
    clock = FakeClock()
    dp._clock = clock
    sampler = tt.ShareSampler(dp, num_samples=48, seed=1)
    idx = sampler.next_indices()
    with torch.no_grad():
        dp(x[idx])
    clock.t = 100.0
    opt.zero_grad()
    loss = F.cross_entropy(dp(x[idx]), y[idx])
    clock.t = 101.0
    loss.backward()
    dp._update_ema()
    assert abs(dp._ema - 1.0 / dp.local_share) < 1e-9, (dp._ema, dp.local_share)
    opt.step()


def lbfgs_is_refused_by_name():
    """LBFGS keeps lists of tensors (its history) that a layer file cannot hold; saving one said
    only "Object of type Tensor is not JSON serializable". It now names the optimizer and the
    state, on every rank, and writes nothing."""
    x, y = data()
    model = build()
    opt = torch.optim.LBFGS(model.parameters(), lr=0.1, history_size=3)
    for _ in range(2):
        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss
        opt.step(closure)
    directory = tempfile.mkdtemp(prefix="tangram-lbfgs-") if tt.rank() == 0 else None
    directory = tt.broadcast_object(directory)
    try:
        tt.save_checkpoint(model, opt, directory, 2, comm=tt.current().comm)
        raise AssertionError("an LBFGS checkpoint was written")
    except CheckpointError as e:
        assert "LBFGS's state '" in str(e) and "LBFGS's history lists are not" in str(e), e
    tt.barrier()
    if tt.rank() == 0:
        assert not os.path.exists(os.path.join(directory, "LATEST")), os.listdir(directory)
        shutil.rmtree(directory)


def main():
    torch.set_num_threads(1)
    tt.init(timeout=30)
    wrong_arguments()
    clipping()
    scheduler_and_checkpoint()
    unfreezing()
    second_init()
    links_on_one_host()
    validation_is_not_timed()
    lbfgs_is_refused_by_name()
    tt.barrier()
    print(f"rank {tt.rank()}: dp_optimizer OK", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
