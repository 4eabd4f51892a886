"""Data parallelism with uneven per-rank batch shares (the plan's), Horovod/DDP-shaped.

Every rank holds the whole model and trains on its share n_r of each global batch of B samples;
its loss is the mean over its own samples. The gradients are reduced so that the update equals
the full-batch one: each rank weights its gradient by n_r / B and the weighted gradients are
summed. The reduction runs in buckets (about bucket_cap_mb each, in reverse parameter order) that
start as soon as autograd has produced all of a bucket's gradients, so communication overlaps the
rest of the backward pass; buckets start in the same order on every rank (a bucket waits for the
ones before it), because Tangram's collectives are matched by order.

Buffers (BatchNorm's running statistics, ...): as DDP's default broadcast_buffers=True, every
rank's buffers are overwritten with the first rank's that trains a share (rank 0 unless its share
is 0) once per step, on the tail of the gradient reduction, so that every forward starts from the
same buffers and a checkpoint holds what every rank holds. Batch statistics stay per rank (each
rank normalises over its own share), as under DDP.

Re-balancing: each rank times its compute (forward start to its last gradient, on the compute
clock of clock.py) per sample, as a moving average; every step the ranks exchange these figures
(on the tail of the last gradient bucket, no collective of their own), and when shares
proportional to them would make the step `rebalance_threshold` faster for `rebalance_patience`
steps in a row, rank 0 plans with the C++ partitioner on the newly measured fleet, and every rank
takes the planned shares from the next step on if they pay off on the last steps' figures (the
hysteresis of _pays_off; the same shares are no re-plan). Layer moves (pipelines) are not done
here.
"""

import weakref

import torch

from tangram.errors import TangramError
from tangram.torch import _agreement, _args, collectives
from tangram.torch.context import current
from tangram.torch.clock import for_module
from tangram.torch.emulation import Stretch


# synchronize()'s verdict codes (see DataParallel._changed_gradients).
_CHANGED = 1
_UNFROZEN = 2

# module -> the DataParallel that wraps it now (weakly: neither keeps the other alive).
_WRAPPERS = weakref.WeakKeyDictionary()


def _whole_shares(shares):
    """`shares` as a list of ints; TangramError(INVALID_ARGUMENT) for anything but a sequence of
    whole numbers (a string "385" would read as [3, 8, 5], 2.9 as 2)."""
    if isinstance(shares, (str, bytes)) or not hasattr(shares, "__iter__"):
        raise TangramError("INVALID_ARGUMENT",
                           f"shares must be a list of whole numbers, one per rank (got {shares!r})")
    out = []
    for s in shares:
        value = s.item() if isinstance(s, torch.Tensor) and s.numel() == 1 else s
        if isinstance(value, bool) or not float(value).is_integer():
            raise TangramError("INVALID_ARGUMENT",
                               f"shares must be whole numbers of samples (got {s!r} in {shares!r})")
        out.append(int(value))
    return out


def _step_seconds(shares, times):
    """A step's predicted compute: the slowest rank's share x its seconds per sample."""
    return max(n * t for n, t in zip(shares, times))


def _check_arguments(bucket_cap_mb, rebalance_threshold, rebalance_patience, ema_alpha, log,
                     **flags):
    """DataParallel's tuning arguments (a patience of 0 re-planned at every step, an alpha
    above 1 made the moving average diverge, a bucket size of 0 or less went unnoticed)."""
    where = "DataParallel"
    _args.number(bucket_cap_mb, "bucket_cap_mb", where, above=0)
    _args.number(rebalance_threshold, "rebalance_threshold", where, minimum=0, below=1)
    _args.whole(rebalance_patience, "rebalance_patience", where, minimum=1)
    _args.number(ema_alpha, "ema_alpha", where, above=0, at_most=1)
    for name, value in flags.items():
        _args.flag(value, name, where)
    if log is not None and not callable(log):
        raise _args.ArgumentTypeError(f"{where}: log must be a function of one string or None, "
                                      f"got {log!r} ({type(log).__name__})")


def _check_devices(module, transport):
    """Parameters and buffers must be where the transport reduces: CPU tensors, or CUDA tensors
    on "nccl" (a model on "meta" failed in the first broadcast, naming only the broadcast)."""
    wanted = ("cuda", "cpu") if transport == "nccl" else ("cpu",)
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        if t.device.type not in wanted:
            raise TangramError(
                "INVALID_ARGUMENT",
                f"DataParallel: {name} is on device {t.device}, but transport '{transport}' "
                f"reduces {' or '.join(w.upper() for w in wanted)} tensors: move the model with "
                f".to('{wanted[0]}') first")


class DataParallel(torch.nn.Module):
    """Wraps `module` for uneven data parallelism.

    Args:
        module: the model; every rank must build the same one (checked: parameter count, shapes).
        plan: a tangram.torch Plan (shares from it); or
        shares: samples per rank of each global batch (list of size() ints), instead of a plan.
        bucket_cap_mb: gradient bucket size.
        broadcast: start from rank 0's parameters and buffers.
        broadcast_buffers: after every step, copy the buffers of the first rank with a share (rank
            0 unless its share is 0) to every rank, as DDP's broadcast_buffers=True does; False
            keeps each rank's own buffers (e.g. BatchNorm statistics of its own samples only).
        rebalance: re-plan when measured throughput drifts (needs a plan from a job).
        emulate: apply this rank's EMULATION slowdown (the fleet file's emulate_slowdown).

    Use: out = dp(x); loss = mean loss over this rank's samples; loss.backward();
    dp.synchronize() (or a DistributedOptimizer's step()); optimizer.step().
    """

    def __init__(self, module, plan=None, shares=None, bucket_cap_mb=2.0, broadcast=True,
                 rebalance=True, rebalance_threshold=0.10, rebalance_patience=2, ema_alpha=0.5,
                 emulate=True, log=None, broadcast_buffers=True):
        super().__init__()
        ctx = current()
        if not isinstance(module, torch.nn.Module):
            raise _args.ArgumentTypeError(f"DataParallel: module must be a torch.nn.Module, got "
                                          f"{module!r} ({type(module).__name__})")
        if plan is not None and not (hasattr(plan, "pp") and hasattr(plan, "shares")):
            raise _args.ArgumentTypeError(
                f"DataParallel: plan must be a tangram.torch Plan (calibrate_and_plan(), "
                f"catalog_plan()) or None, got {plan!r} ({type(plan).__name__})")
        _check_arguments(bucket_cap_mb=bucket_cap_mb, broadcast=broadcast, rebalance=rebalance,
                         rebalance_threshold=rebalance_threshold,
                         rebalance_patience=rebalance_patience, ema_alpha=ema_alpha,
                         emulate=emulate, log=log, broadcast_buffers=broadcast_buffers)
        self.module = module
        self._ctx = ctx
        self.plan = plan
        if plan is not None:
            if plan.pp != 1:
                raise TangramError(
                    "FAILED_PRECONDITION",
                    f"the plan has pp {plan.pp}: DataParallel runs pp 1 plans only (pin "
                    f"`layout: {{pp: 1}}` in the job, or use a pipeline front end)")
            shares = plan.shares
        if shares is None:
            shares = [1] * ctx.size
        shares = _whole_shares(shares)
        if len(shares) != ctx.size or min(shares) < 0 or sum(shares) <= 0:
            raise TangramError("INVALID_ARGUMENT",
                               f"shares {shares} must give each of {ctx.size} ranks >= 0 samples, "
                               f"> 0 in all")
        self.shares = shares
        self.steps = 0
        self.replans = 0
        self.replan_log = []
        self._log = log
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._tracked = {id(p) for p in self._params}
        _check_devices(module, ctx.transport)
        self._buffers_to_sync = list(module.buffers()) if broadcast_buffers else []
        self._check_same_model()
        if broadcast:
            collectives.broadcast_parameters(module, root=0)
        self._make_buckets(bucket_cap_mb)
        self._retire_previous(module)
        self._hooks, self._hook_handles = [], []
        for i, p in enumerate(self._params):
            acc = p.expand_as(p).grad_fn.next_functions[0][0]
            self._hook_handles.append(acc.register_hook(self._make_hook(i)))
            self._hooks.append(acc)  # the node must outlive the hook
        self._retired = False
        self._sync = True
        self._synchronized = False  # synchronize() ran since the last forward or backward
        self._stretch = Stretch(module, lambda: ctx.slowdown) if emulate else None
        # Re-planning starts from the calibration reports of a measured plan (calibrate_and_plan);
        # a catalog plan has none, so its shares stay as planned.
        self._rebalance = (rebalance and plan is not None and ctx.job is not None and
                           bool(getattr(plan, "reports", None)))
        self._threshold = rebalance_threshold
        self._patience = rebalance_patience
        self._alpha = ema_alpha
        self._clock = for_module(module)
        self._ema = None  # seconds per sample of this rank (moving average)
        self._streak = 0
        # Every rank's figures of the last steps, for the hysteresis of _pays_off.
        self._window = max(2, self._patience)
        self._recent = []
        self.last_times = None  # every rank's moving average after the last step
        self._reset_step()

    def _retire_previous(self, module):
        """A DataParallel built again over the same module (after unfreezing parameters, say)
        replaces the earlier one: the earlier one's hooks would otherwise still launch
        reductions at every backward that nobody waits for."""
        previous = _WRAPPERS.get(module)
        previous = previous() if previous is not None else None
        if previous is not None:
            for handle in previous._hook_handles:
                handle.remove()
            previous._retired = True
        _WRAPPERS[module] = weakref.ref(self)

    # -- shares ---------------------------------------------------------------------------------

    @property
    def global_batch(self):
        return sum(self.shares)

    @property
    def local_share(self):
        return self.shares[self._ctx.rank]

    @property
    def offset(self):
        """Where this rank's share starts inside each global batch."""
        return sum(self.shares[:self._ctx.rank])

    # -- the step -------------------------------------------------------------------------------

    def forward(self, *args, **kwargs):
        if not torch.is_grad_enabled():
            # Evaluation (validation between steps): no gradient, so no part of a training step;
            # starting the step's clock here would charge it to the next step's seconds per
            # sample, and re-balancing would take this rank for slow.
            return self.module(*args, **kwargs)
        self._synchronized = False
        if self._step_start is None:
            self._step_start = self._clock.now()
        return self.module(*args, **kwargs)

    class _NoSync:
        def __init__(self, dp):
            self._dp = dp

        def __enter__(self):
            self._dp._sync = False

        def __exit__(self, *exc):
            self._dp._sync = True

    def no_sync(self):
        """Backward passes inside accumulate gradients without reducing them (micro-batches);
        the backward pass after the block reduces the sum."""
        return DataParallel._NoSync(self)

    def _make_buckets(self, cap_mb):
        cap = int(cap_mb * 1024 * 1024)
        self._buckets, current_bucket, size = [], [], 0
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            if current_bucket and (p.dtype != self._params[current_bucket[-1]].dtype or
                                   p.device != self._params[current_bucket[-1]].device):
                self._buckets.append(current_bucket)  # a bucket holds one dtype on one device
                current_bucket, size = [], 0
            current_bucket.append(i)
            size += p.numel() * p.element_size()
            if size >= cap:
                self._buckets.append(current_bucket)
                current_bucket, size = [], 0
        if current_bucket:
            self._buckets.append(current_bucket)
        self._bucket_of = {}
        for b, members in enumerate(self._buckets):
            for i in members:
                self._bucket_of[i] = b

    def _reset_step(self):
        self._pending = [len(b) for b in self._buckets]
        self._reduced = set()  # parameters whose gradient this step's reduction holds
        self._grad_seen = {}  # parameter -> (its .grad, that tensor's version) after backward
        self._launched = 0  # buckets [0, _launched) have started
        self._handles = []
        self._verdict = (0, 0)  # set by synchronize() before the last bucket leaves
        self._step_start = None
        self._last_grad = None

    def _make_hook(self, i):
        def hook(*unused):
            self._last_grad = self._clock.now()
            self._synchronized = False
            if not self._sync:
                return
            if i in self._reduced:
                # Its bucket may be on the wire already: this backward's gradient would be left
                # out of the update (PyTorch's DDP refuses the same). Said here, so synchronize()
                # does not report the gradient it changed a second time.
                self._grad_seen = {}
                raise TangramError(
                    "FAILED_PRECONDITION",
                    "a second backward() in one step outside no_sync(): run every backward but "
                    "the last of a step inside `with dp.no_sync():`, then synchronize()")
            self._reduced.add(i)
            g = self._params[i].grad
            if g is not None:
                self._grad_seen[i] = (g, g._version)
            b = self._bucket_of[i]
            self._pending[b] -= 1
            self._launch_ready()
        return hook

    def _launch_ready(self, force=False):
        # The last bucket waits for synchronize() (force): it carries the step's verdict (see
        # _launch), which only synchronize() knows. It is the last to fill in backward anyway, so
        # holding it back costs the time between the end of backward and synchronize().
        last = len(self._buckets) if force else len(self._buckets) - 1
        while self._launched < last and (force or self._pending[self._launched] <= 0):
            self._launch(self._launched)
            self._launched += 1

    def _launch(self, b):
        members = self._buckets[b]
        parts = []
        for i in members:
            p = self._params[i]
            g = p.grad
            parts.append(g.reshape(-1) if g is not None else torch.zeros(p.numel(), dtype=p.dtype,
                                                                         device=p.device))
        flat = torch.cat(parts)
        flat.mul_(self.local_share / self.global_batch)
        # Which parameters got a gradient on this rank (one flag each, summed over the ranks): a
        # parameter no rank used keeps grad None, as in one process, so the optimizer skips it
        # (a zero gradient would still move it under weight decay or momentum).
        used = torch.tensor([0.0 if self._params[i].grad is None else 1.0 for i in members],
                            dtype=flat.dtype, device=flat.device)
        flat = torch.cat([flat, used])
        if self._rebalance and b == len(self._buckets) - 1:
            # Re-balancing's figures ride on the last bucket (no collective of their own): rank r
            # adds its moving-average seconds per sample at position r of a zero tail.
            self._update_ema()
            tail = torch.zeros(self._ctx.size, dtype=flat.dtype, device=flat.device)
            tail[self._ctx.rank] = self._ema if self._ema is not None else 0.0
            flat = torch.cat([flat, tail])
        if b == len(self._buckets) - 1:
            # The verdict of synchronize()'s check rides on the last bucket too: rank r adds its
            # code (0: fine; _CHANGED, _UNFROZEN: see _verdict_error) at position r of a zero
            # tail, so every rank learns which ranks failed the check and raises with them. A
            # rank with share 0 has no gradient to change and could not tell on its own; before,
            # only the failing ranks raised, and a share-0 rank went on (stepped its optimizer)
            # alone. Small whole numbers, one non-zero per position: exact in any float dtype.
            tail = torch.zeros(self._ctx.size, dtype=flat.dtype, device=flat.device)
            tail[self._ctx.rank] = self._verdict[0]
            flat = torch.cat([flat, tail])
        self._handles.append((b, flat, collectives.allreduce(flat, "sum", async_op=True)))

    def _update_ema(self):
        """Folds this step's compute per sample (first forward to now) into the moving average."""
        if self._step_start is None or self.local_share <= 0:
            return
        end = self._last_grad if self._last_grad is not None else self._clock.now()
        t = self._clock.seconds(self._step_start, end, self._ctx.slowdown) / self.local_share
        if t > 0:
            self._ema = t if self._ema is None else self._alpha * t + (1 - self._alpha) * self._ema

    def synchronize(self):
        """Waits for the gradient reductions of this step and leaves the full-batch gradient in
        every parameter's .grad; then re-balances if throughput drifted. Call once per step,
        after backward (a rank with share 0 calls it without a backward pass).

        Change gradients (clip_grad_norm_, scaling) after synchronize(), never between backward
        and synchronize(): the reduction takes each gradient as backward leaves it, and writes the
        reduced one over it here. A gradient changed in between raises FAILED_PRECONDITION, as
        does a parameter that started to train after DataParallel was built (its gradient is not
        reduced): on every rank, the same error, after the step's communication (so the ranks stay
        matched), also on ranks with share 0, which have no gradient to change."""
        if self._retired:
            raise TangramError("FAILED_PRECONDITION",
                               "this DataParallel was replaced by a newer one over the same "
                               "module: use the newer one (and a DistributedOptimizer over it)")
        self._verdict = verdict = self._changed_gradients()
        self._launch_ready(force=True)
        finish_buffers = self._start_buffer_broadcast()
        times = None
        verdicts = [0] * self._ctx.size
        for b, flat, handle in self._handles:
            handle.wait()
            members = self._buckets[b]
            offset = sum(self._params[i].numel() for i in members)
            used = flat[offset:offset + len(members)].tolist()
            start = 0
            for k, i in enumerate(members):
                p = self._params[i]
                n = p.numel()
                view = flat[start:start + n].view_as(p)
                start += n
                if used[k] == 0:
                    continue  # no rank used it: its grad stays as it is (None)
                if p.grad is None:
                    p.grad = view.clone()
                else:
                    p.grad.copy_(view)
            offset += len(members)
            if b == len(self._buckets) - 1:
                end = flat.numel() - self._ctx.size
                verdicts = [int(round(v)) for v in flat[end:].double().tolist()]
                if offset < end:
                    times = flat[offset:end].double().tolist()
        if not self._buckets:
            # No trainable parameter, so no bucket to carry the verdict: a collective of its own.
            verdicts = [row[0] for row in self._gather_verdicts(verdict)]
        if finish_buffers is not None:
            finish_buffers()
        self._reset_step()
        self.steps += 1
        if times is not None:
            self._after_step(times)
        if any(verdicts):
            raise TangramError("FAILED_PRECONDITION", self._verdict_error(verdicts, verdict))
        self._synchronized = True

    def _gather_verdicts(self, verdict):
        """Every rank's `verdict` (code, index), exactly (int64), in rank order: one collective."""
        return _agreement.gather_rows(list(verdict), self._ctx.rank, self._ctx.size,
                                      lambda t: collectives.allreduce(t, "sum"))

    def _verdict_error(self, verdicts, verdict):
        """The same message on every rank, from the first failing rank's verdict: the codes came
        with the gradients, which parameter is asked for here (one more collective, taken by every
        rank because every rank saw the same codes). The ranks build the same model (checked at
        construction), so an index names the same parameter everywhere."""
        failing = [r for r, v in enumerate(verdicts) if v]
        code, index = self._gather_verdicts(verdict)[failing[0]]
        where = (f"on rank {failing[0]}" if len(failing) == 1 else
                 f"on ranks {', '.join(map(str, failing))}")
        if code == _CHANGED:
            p = self._params[index]
            names = {id(q): n for n, q in self.module.named_parameters()}
            name = names.get(id(p), f"parameter {index}")
            return (f"the gradient of {name} was changed between backward() and synchronize() "
                    f"{where} (gradient clipping or scaling?): the reduction sums the gradients "
                    f"as backward left them, so the change would be lost; call dp.synchronize() "
                    f"first, then change the gradients (e.g. clip_grad_norm_), then opt.step() "
                    f"(it does not synchronize again). Every rank raises this error")
        name = [n for n, _ in self.module.named_parameters()][index]
        return (f"parameter {name} trains (requires_grad=True) {where} but was frozen when "
                f"DataParallel was built, so its gradient is not reduced and the ranks would "
                f"drift apart: after changing requires_grad, build a new DataParallel (and "
                f"DistributedOptimizer) over the module; it replaces this one. Every rank raises "
                f"this error")

    def _changed_gradients(self):
        """This rank's verdict (code, index) on why this step's reduction would not be the
        full-batch gradient of what the user trains; (0, 0) when it would. _CHANGED, i into
        self._params: a gradient changed between backward and synchronize() (clipped or scaled
        locally: the reduction already took it as backward left it, and its result would be
        written over the change, silently undoing it). _UNFROZEN, j into named_parameters(): a
        parameter trains that this DataParallel does not reduce (unfrozen after it was built)."""
        for i, (g, version) in sorted(self._grad_seen.items()):
            p = self._params[i]
            if p.grad is not g or g._version != version:
                return (_CHANGED, i)
        for j, (_, p) in enumerate(self.module.named_parameters()):
            if p.requires_grad and id(p) not in self._tracked:
                return (_UNFROZEN, j)
        return (0, 0)

    def _start_buffer_broadcast(self):
        """Starts the step's buffer broadcast after the gradient buckets (the same order on every
        rank); returns its finisher, or None without buffers. At the end of synchronize(), not at
        the next forward as DDP does: a rank with share 0 runs no forward but calls synchronize()
        every step, and the buffers every forward sees are the same either way. The source is the
        first rank with a share: a rank with share 0 ran no forward, its buffers did not move."""
        if not self._buffers_to_sync or self._ctx.size == 1:
            return None
        root = next(r for r, n in enumerate(self.shares) if n > 0)
        return collectives.start_broadcast_tensors(self._buffers_to_sync, root=root)

    # -- re-balancing ---------------------------------------------------------------------------

    def _after_step(self, times):
        self.last_times = times
        # A rank with share 0 computes nothing and so measures nothing: keep the figure it was
        # planned on (its calibration, or the last re-plan's), so that it can be taken back in.
        reports = self.plan.reports or []
        times = [t if t > 0 or i >= len(reports) else float(reports[i].get("seconds_per_sample", 0))
                 for i, t in enumerate(times)]
        if min(times) <= 0:
            return  # a rank has no figure yet
        self._recent = (self._recent + [times])[-self._window:]
        current_s = _step_seconds(self.shares, times)
        balanced_s = self.global_batch / sum(1.0 / t for t in times)
        # Shares proportional to speed (fractions allowed) bound what any plan can gain: when even
        # they are not `threshold` faster, no plan is, and the planner is not asked.
        gain = 1.0 - balanced_s / current_s if current_s > 0 else 0.0
        self._streak = self._streak + 1 if gain > self._threshold else 0
        if self._streak >= self._patience and len(self._recent) == self._window:
            self._streak = 0
            self._replan(times, current_s)

    def _pays_off(self, shares):
        """Whether to move to `shares` (hysteresis): they must make the predicted step more than
        rebalance_threshold faster on the newest figures, and at most rebalance_threshold slower
        on each earlier figure of the window (the last max(2, patience) steps). The planner's
        whole-sample shares are compared, not the proportional ideal: an ideal the planner cannot
        reach re-planned to the same (or no better) shares step after step. The window is what
        stops flip-flops when the figures swing (a tiny model's timings, a noisy host): a move
        X -> Y taken on figures B costs at most the threshold on the earlier figures A, so moving
        back Y -> X on figures A, which needs more than the threshold, cannot follow at once. Same
        shares are never a re-plan."""
        if shares == self.shares:
            return False
        *earlier, newest = self._recent
        if _step_seconds(shares, newest) >= (1 - self._threshold) * \
                _step_seconds(self.shares, newest):
            return False
        return all(_step_seconds(shares, t) <= (1 + self._threshold) * _step_seconds(self.shares, t)
                   for t in earlier)

    def _replan(self, times, current_s):
        from tangram.torch import planning  # here: planning imports this module's peers

        ctx = self._ctx
        reports = [dict(r) for r in self.plan.reports]
        flops = ctx.job.flops_per_sample
        for r, t in zip(reports, times):
            r["seconds_per_sample"] = t
            r["measured_tflops"] = flops / t / 1e12
        old = list(self.shares)
        plan = planning.plan_from_reports(reports, self.plan.strategy, adopt=False)
        if plan.pp != 1 or not self._pays_off(list(plan.shares)):
            return  # keep the shares (this front end does not move layers): not a re-plan
        self.plan = plan
        ctx.adopt_plan(plan)
        self.shares = list(plan.shares)
        self.replans += 1
        line = (f"step {self.steps}: re-plan (measured s/sample per rank "
                f"{[round(t, 5) for t in times]}; predicted step {current_s:.3f} s -> "
                f"{_step_seconds(self.shares, times):.3f} s): shares {old} -> {self.shares}")
        self.replan_log.append(line)
        if self._log is not None and ctx.rank == 0:
            self._log(line)

    def _check_same_model(self):
        """Every rank reaches the same verdict: the same trainable parameters, the same whole
        state (frozen parameters and buffers too: the broadcast copies rank 0's into them), and
        the same shares (each rank computes its offset and weight from its own list)."""
        ctx = self._ctx
        shapes = ";".join(f"{tuple(p.shape)}:{p.dtype}" for p in self._params)
        mine = [len(self._params), sum(p.numel() for p in self._params),
                _agreement.digest(shapes),
                _agreement.digest(_agreement.tensor_signature(self.module.state_dict().items())),
                _agreement.digest(self.shares)]
        rows = _agreement.gather_rows(mine, ctx.rank, ctx.size,
                                      lambda t: collectives.allreduce(t, "sum"))
        r = _agreement.first_difference(rows, [4])
        if r is not None:
            raise TangramError(
                "FAILED_PRECONDITION",
                f"rank {r} was given other shares than rank 0 (this rank's: {self.shares}): "
                f"every rank must pass the same list")
        r = _agreement.first_difference(rows, [0, 1, 2])
        if r is not None:
            row = rows[r]
            raise TangramError(
                "FAILED_PRECONDITION",
                f"rank {r}'s model differs from rank 0's ({row[0]} parameter tensors, "
                f"{row[1]} values vs {rows[0][0]}, {rows[0][1]}; shape digest "
                f"{row[2]:#x} vs {rows[0][2]:#x}): every rank must build the same model")
        r = _agreement.first_difference(rows, [3])
        if r is not None:
            raise TangramError(
                "FAILED_PRECONDITION",
                f"rank {r}'s model differs from rank 0's in its frozen parameters or buffers "
                f"(names, shapes or dtypes; state digest {rows[r][3]:#x} vs {rows[0][3]:#x}): "
                f"every rank must build the same model")


class DistributedOptimizer(torch.optim.Optimizer):
    """An optimizer whose step() first completes the gradient reduction (Horovod's shape).

    A torch.optim.Optimizer itself, sharing the wrapped optimizer's `state`, `param_groups` and
    `defaults`, so that learning-rate schedulers (which refuse anything else), checkpoints and
    code that reads `opt.state` take it as they take the optimizer it wraps. step() calls
    dp.synchronize() unless the user already did since the last backward (to clip or otherwise
    change the reduced gradients first); it never reduces twice.
    """

    def __init__(self, optimizer, dp):  # pylint: disable=super-init-not-called
        # No Optimizer.__init__: the wrapped optimizer holds the parameters and the state.
        if not isinstance(optimizer, torch.optim.Optimizer) or \
                isinstance(optimizer, DistributedOptimizer):
            raise _args.ArgumentTypeError(
                f"DistributedOptimizer: optimizer must be a torch.optim.Optimizer, got "
                f"{optimizer!r} ({type(optimizer).__name__})")
        if not isinstance(dp, DataParallel):
            raise _args.ArgumentTypeError(
                f"DistributedOptimizer: dp must be the tangram.torch.DataParallel that wraps "
                f"the model, got {dp!r} ({type(dp).__name__})")
        self.optimizer = optimizer
        self.dp = dp

    # The wrapped optimizer's containers, shared (also after its load_state_dict replaces them).
    state = property(lambda self: self.optimizer.state,
                     lambda self, value: setattr(self.optimizer, "state", value))
    param_groups = property(lambda self: self.optimizer.param_groups,
                            lambda self, value: setattr(self.optimizer, "param_groups", value))
    defaults = property(lambda self: self.optimizer.defaults,
                        lambda self, value: setattr(self.optimizer, "defaults", value))

    def zero_grad(self, set_to_none=False):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        if not self.dp._synchronized:  # not already by the user (clipping between)
            self.dp.synchronize()
        self.dp._synchronized = False
        return self.optimizer.step(closure)

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict):
        self.optimizer.load_state_dict(state_dict)

    def add_param_group(self, param_group):
        self.optimizer.add_param_group(param_group)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        return f"DistributedOptimizer({self.optimizer!r})"


class ShareSampler:
    """This rank's share of every global batch.

    Global batch `step` is B = dp.global_batch sample indices, the same on every rank (a seeded
    permutation of range(num_samples) per epoch, or consecutive indices with shuffle=False, or
    the sample ids step*B .. step*B+B-1 when num_samples is None — an endless stream like the
    shipped corpus). Rank r takes its slice [offset_r, offset_r + n_r), with the shares dp holds at
    that step (they change after a re-plan).
    """

    def __init__(self, dp, num_samples=None, seed=0, shuffle=True):
        if not isinstance(dp, DataParallel):
            raise _args.ArgumentTypeError(
                f"ShareSampler: dp must be a tangram.torch.DataParallel (its shares say which "
                f"samples are this rank's), got {dp!r} ({type(dp).__name__})")
        if num_samples is not None:
            num_samples = _args.whole(num_samples, "num_samples", "ShareSampler")
            if num_samples < 1:
                raise _args.ArgumentError(
                    f"ShareSampler: num_samples must be the dataset's size, >= 1 (got "
                    f"{num_samples}: an empty dataset has no batch to give), or None for an "
                    f"endless stream")
        self.dp = dp
        self.num_samples = num_samples
        self.seed = _args.whole(seed, "seed", "ShareSampler")
        self.shuffle = _args.flag(shuffle, "shuffle", "ShareSampler")
        self._perms = {}
        self._position = 0  # samples consumed by earlier global batches

    def global_indices(self, first, count):
        pos = torch.arange(first, first + count, dtype=torch.int64)
        if self.num_samples is None:
            return pos
        n = self.num_samples
        if not self.shuffle:
            return pos % n
        out = torch.empty(count, dtype=torch.int64)
        epochs = pos // n
        for e in torch.unique(epochs).tolist():
            perm = self._perms.get(e)
            if perm is None:
                g = torch.Generator().manual_seed(self.seed * 1000003 + e)
                perm = torch.randperm(n, generator=g)
                self._perms = {e: perm}
            mask = epochs == e
            out[mask] = perm[pos[mask] % n]
        return out

    def next_indices(self):
        """This rank's indices of the next global batch (advances the stream)."""
        first = self._position + self.dp.offset
        self._position += self.dp.global_batch
        return self.global_indices(first, self.dp.local_share)
