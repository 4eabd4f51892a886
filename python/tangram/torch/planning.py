"""Measure → plan: every rank times its own forward + backward of the user's module, the
coordinator (rank 0) gathers the reports, plans with the C++ partitioner on the *measured* fleet
with the job's strategy, and broadcasts the plan (its JSON) to every rank.
"""

import json
import statistics
import time

import torch

from tangram import _tangram
from tangram.errors import TangramError
from tangram.torch import _args, collectives
from tangram.torch.clock import for_module
from tangram.torch.context import current


class Plan:
    """The plan this job trains with.

    Attributes:
        text: the plan as `tangram plan` prints it (on rank 0; "" elsewhere).
        json: the plan JSON (docs/plan-format.md), the same on every rank.
        pp, dp, strategy, global_batch, predicted_step_time_s: from the plan.
        shares: samples of every global batch per rank (0 for a rank the plan leaves idle).
        stages: [(layer_begin, layer_end, [ranks of each replica's cell]), ...].
        reports: the ranks' calibration reports (dicts), in rank order.
        links: what measure_links measured, one line per figure ([] when the plan used the job
            fleet's network figures).
    """

    def __init__(self, native, reports, size):
        self.native = native
        self.text = native.text
        self.json = native.json
        self.pp = native.pp
        self.dp = native.dp
        self.tp = native.tp
        self.strategy = native.strategy
        self.global_batch = native.global_batch
        self.predicted_step_time_s = native.predicted_step_time_s
        self.stages = native.stages
        self.replicas = native.replicas
        self.reports = reports
        links = current().links
        self.links = list(links.lines) if links is not None and reports else []
        self.shares = [0] * size
        if self.pp == 1:
            for replica, (samples, _, _) in enumerate(self.replicas):
                for r in self.stages[0][2][replica]:
                    self.shares[r] = int(samples)

    def __str__(self):
        return self.text or self.json


def calibrate(loss_fn, batch_size, module=None, warmup=2, iterations=4, probes=3):
    """Measures this rank: seconds per sample of forward + backward of `loss_fn()` (which runs the
    user's model on a sample micro-batch of `batch_size` samples and returns the loss): after
    `warmup` passes, `probes` probes of `iterations` passes each; a probe's figure is its fastest
    pass, and the median probe counts. Time is the compute clock of clock.py (thread CPU time x
    EMULATION factor for a CPU module, wall time for a CUDA one). Gradients the passes
    leave on `module`'s parameters are cleared. With an EMULATION slowdown k the rank idles (k-1)
    times each probe, as it will in training, and the figure is k times the measured one.

    Returns this rank's node report (a dict; see orchestrator/runtime/node_report.h).
    """
    ctx = current()
    if not callable(loss_fn):
        raise _args.ArgumentTypeError(
            f"calibrate: loss_fn must be a function of no arguments that runs the model on a "
            f"sample batch and returns the loss, got {loss_fn!r} ({type(loss_fn).__name__})")
    if module is not None and not isinstance(module, torch.nn.Module):
        raise _args.ArgumentTypeError(f"calibrate: module must be a torch.nn.Module or None, "
                                      f"got {module!r} ({type(module).__name__})")
    batch_size = _args.whole(batch_size, "batch_size", "calibrate", minimum=1)
    for name, value, least in (("warmup", warmup, 0), ("iterations", iterations, 1),
                               ("probes", probes, 1)):
        _args.whole(value, name, "calibrate", minimum=least)

    def one():
        loss = loss_fn()
        loss.backward()

    clock = for_module(module)
    for _ in range(warmup):
        one()
    fastest = []
    for _ in range(probes):
        start = time.perf_counter()
        passes = []
        for _ in range(iterations):
            t0 = clock.now()
            one()
            passes.append(clock.seconds(t0, clock.now(), ctx.slowdown))
        if ctx.slowdown > 1:  # EMULATION: idle as in training (see emulation.py)
            time.sleep((time.perf_counter() - start) * (ctx.slowdown - 1))
        fastest.append(min(passes))
    if module is not None:
        for p in module.parameters():
            p.grad = None
    seconds = statistics.median(fastest)
    report = json.loads(_tangram.describe_host(ctx.rank))
    job = ctx.job
    kinds = job.device_kinds if job is not None else []
    report["device_kind"] = kinds[ctx.rank] if ctx.rank < len(kinds) else "cpu"
    report["seconds_per_sample"] = seconds / batch_size
    flops = job.flops_per_sample if job is not None else 1.0
    report["measured_tflops"] = flops / report["seconds_per_sample"] / 1e12
    report["emulate_slowdown"] = ctx.slowdown
    return report


def plan_from_reports(reports, strategy=None, adopt=True):
    """Rank 0 plans on the measured fleet of `reports` and every rank receives the plan. Collective.
    A planning failure raises the same TangramError on every rank. With `adopt` the context
    trains with it from now on (Context.adopt_plan: its calls' deadline follows the plan's
    predicted step); DataParallel's re-planning passes False and adopts only a plan it takes."""
    ctx = current()
    if ctx.job is None:
        raise TangramError("FAILED_PRECONDITION", "planning needs init(job=...)")
    outcome = None
    native = None
    if ctx.rank == 0:
        try:
            native = _tangram.plan_measured(ctx.job, [json.dumps(r) for r in reports],
                                            strategy or "", ctx.links)
            outcome = ("ok", native.json)
        except TangramError as e:
            outcome = ("error", e.code, e.message)
    outcome = collectives.broadcast_object(outcome, root=0)
    if outcome[0] == "error":
        raise TangramError(outcome[1], f"planning on rank 0 failed: {outcome[2]}")
    if native is None:
        native = _tangram.plan_from_json(outcome[1])
    plan = Plan(native, reports, ctx.size)
    if adopt:
        ctx.adopt_plan(plan)
    return plan


def measure_links(reports, gradient_bytes=0):
    """The link probe `tangram train` runs at its start (docs/probe.md), over every rank placed as
    `reports` say: latency and bandwidth per link class, NIC sharing, every pair of hosts, the
    allreduce training runs at `gradient_bytes`. Collective. Keeps the measurements on the context
    (plan_from_reports plans with them from then on, re-plans included) and returns their lines,
    as `tangram train` prints them."""
    ctx = current()
    if ctx.job is None:
        raise TangramError("FAILED_PRECONDITION", "measure_links needs init(job=...)")
    places = _tangram.measured_places(ctx.job, [json.dumps(r) for r in reports])
    ctx.links = ctx.comm.probe_links([h for h, _ in places], [i for _, i in places],
                                     int(gradient_bytes))
    return list(ctx.links.lines)


def _check_links(links):
    if not (links is True or links is False or links == "auto"):
        raise TangramError("INVALID_ARGUMENT",
                           f"calibrate_and_plan: links must be 'auto', True or False, not {links!r}")


def _wants_links(links, reports):
    if links == "auto":
        return len({r.get("host", "") for r in reports}) > 1
    return links


def calibrate_and_plan(loss_fn, batch_size, module=None, strategy=None, links="auto",
                       **calibrate_args):
    """calibrate() on every rank, then plan_from_reports(). Collective. Returns the Plan; print
    plan.text on rank 0 to see it as `tangram plan` shows it. `links`: measure the network first
    (measure_links; the plan's `links` lists what was measured) — "auto" when the ranks run on
    more than one host, True always, False never (the job fleet's network figures)."""
    _check_links(links)
    report = calibrate(loss_fn, batch_size, module=module, **calibrate_args)
    reports = collectives.allgather_object(report)
    if _wants_links(links, reports):
        # fp32 gradients: what DataParallel reduces (its buckets are the parameters' dtype).
        grads = 4 * sum(p.numel() for p in module.parameters()) if module is not None else 0
        measure_links(reports, grads)
    return plan_from_reports(reports, strategy)


def catalog_plan(strategy=None):
    """The plan on the fleet file's stated figures (catalog or measured_tflops), no measuring."""
    ctx = current()
    if ctx.job is None:
        raise TangramError("FAILED_PRECONDITION", "catalog_plan() needs init(job=...)")
    native = _tangram.plan_catalog(ctx.job, strategy or "")
    used = {r for stage in native.stages for cell in stage[2] for r in cell}
    if used and max(used) >= ctx.size:
        raise TangramError(
            "FAILED_PRECONDITION",
            f"catalog_plan(): the plan uses {max(used) + 1} ranks (one per device of the job's "
            f"fleet) but {ctx.size} are running: start as many ranks as the fleet has devices")
    plan = Plan(native, [], ctx.size)
    ctx.adopt_plan(plan)
    return plan
