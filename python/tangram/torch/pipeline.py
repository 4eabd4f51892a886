"""Pipeline parallelism for a model given as a sequence of blocks, combined with uneven data
parallelism (pp x dp), on Tangram's point-to-point (docs/torch-pipeline.md).

    pipe = tangram.torch.Pipeline(model, plan, comm, loss_fn=F.cross_entropy)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)   # all parameters: see "Ownership" below
    for x, y in batches:                                # the global batch, the same on every rank
        opt.zero_grad(set_to_none=True)
        loss = pipe.train_step(x, y)                    # this rank's share, 1F1B, dp reduction
        opt.step()

The plan gives each stage a range of blocks and one rank per replica, and each replica a share of
the global batch (samples) cut into micro-batches (the last one may be smaller). Each rank runs
its stage's blocks for its replica's micro-batches in the 1F1B order; activations go forward and
their gradients back with Tangram send/recv; then the replicas of each stage sum their gradients.
The loss of every micro-batch is scaled by its size / the global batch, so the summed gradients
are exactly the full-batch gradient of a mean loss: the update equals a single process's.

Ownership: every rank builds the whole model (the user's code is unchanged) but computes only its
stage; the other blocks' parameters get no gradient, and torch optimizers skip parameters whose
.grad is None. A re-plan (replan) moves blocks' state between ranks (rebalance.py).
"""

import json

import torch
from torch import nn

from tangram.torch import _agreement, _args
from tangram.torch._p2p import _DTYPES as _P2P_DTYPES
from tangram.torch._p2p import P2P, dtype_name

_TAG_ACT = 21
_TAG_GRAD = 22
_TAG_DP = 23
_TAG_CHECK = 24
_TAG_BUFFERS = 25


class PipelineError(ValueError):
    """The model cannot run under the plan (raised on every rank, before any communication)."""


def _sequence(values, name):
    """A list or tuple (a string "385" would read as [3, 8, 5])."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise _args.ArgumentTypeError(f"PipelinePlan: {name} must be a list of whole numbers, "
                                      f"got {values!r} ({type(values).__name__})")
    return list(values)


def _whole_list(values, name):
    return [_args.whole(v, f"{name}[{i}]", "PipelinePlan")
            for i, v in enumerate(_sequence(values, name))]


class PipelinePlan:
    """Stage boundaries, the rank of every (stage, replica) cell and each replica's share.

    bounds: [0, b1, ..., L]; stage s holds blocks [bounds[s], bounds[s+1]).
    ranks: ranks[s][j] is the rank running stage s of replica j.
    samples: samples[j] sequences of every global batch go to replica j.
    micro_batch_size: sequences per micro-batch, one int or one per replica.
    """

    def __init__(self, bounds, ranks, samples, micro_batch_size, layer_names=None):
        self.bounds = _whole_list(bounds, "bounds")
        self.ranks = [_whole_list(stage, f"ranks[{s}]")
                      for s, stage in enumerate(_sequence(ranks, "ranks"))]
        self.samples = _whole_list(samples, "samples")
        if not isinstance(micro_batch_size, (list, tuple)):
            micro_batch_size = [micro_batch_size] * len(self.samples)
        self.micro_batch_size = _whole_list(micro_batch_size, "micro_batch_size")
        self.layer_names = list(layer_names) if layer_names else None
        self._check()

    @classmethod
    def from_plan(cls, plan):
        """From a Tangram plan: a tangram.torch.Plan (calibrate_and_plan), its JSON text, the
        parsed dict, or a PipelinePlan. A cell's first device is its rank (tp = 1)."""
        if isinstance(plan, PipelinePlan):
            return plan
        if hasattr(plan, "stages") and hasattr(plan, "replicas") and not isinstance(plan, dict):
            if int(getattr(plan, "tp", 1)) != 1:
                raise PipelineError("tangram: Pipeline supports plans with tp = 1 only")
            stages = list(plan.stages)  # [(begin, end, [[ranks of replica j's cell], ...])]
            return cls([int(stages[0][0])] + [int(s[1]) for s in stages],
                       [[int(cell[0]) for cell in s[2]] for s in stages],
                       [int(r[0]) for r in plan.replicas], [int(r[1]) for r in plan.replicas],
                       getattr(plan, "layer_names", None) or
                       getattr(getattr(plan, "native", None), "layer_names", None))
        if isinstance(plan, (str, bytes)):
            plan = json.loads(plan)
        if int(plan.get("tp", 1)) != 1:
            raise PipelineError("tangram: Pipeline supports plans with tp = 1 only")
        stages = sorted(plan["stages"], key=lambda s: s.get("index", 0))
        bounds = [int(stages[0]["layers"][0])] + [int(s["layers"][1]) for s in stages]
        ranks = []
        for s in stages:
            cells = sorted(s["cells"], key=lambda c: c.get("replica", 0))
            ranks.append([int(c["devices"][0]) for c in cells])
        replicas = sorted(plan["replicas"], key=lambda r: r.get("index", 0))
        return cls(bounds, ranks, [r["samples"] for r in replicas],
                   [r["micro_batch_size"] for r in replicas], plan.get("layer_names"))

    def _check(self):
        def bad(why):
            raise PipelineError(f"tangram: invalid pipeline plan: {why}")

        if len(self.bounds) < 2 or self.bounds[0] != 0:
            bad(f"stage bounds {self.bounds} must start at 0 and hold at least one stage")
        if any(b >= e for b, e in zip(self.bounds, self.bounds[1:])):
            bad(f"stage bounds {self.bounds} are not increasing (every stage needs a block)")
        if len(self.ranks) != self.pp:
            bad(f"{self.pp} stages but rank lists for {len(self.ranks)}")
        if any(len(r) != self.dp for r in self.ranks) or self.dp == 0:
            bad(f"every stage needs one rank per replica ({self.dp} replicas)")
        flat = [r for stage in self.ranks for r in stage]
        if len(set(flat)) != len(flat):
            bad(f"a rank appears in two cells: {self.ranks}")
        if len(self.micro_batch_size) != self.dp or min(self.micro_batch_size) < 1:
            bad("one micro-batch size >= 1 per replica")
        if min(self.samples) < 1:
            bad(f"every replica needs samples: {self.samples}")

    @property
    def pp(self):
        return len(self.bounds) - 1

    @property
    def dp(self):
        return len(self.samples)

    @property
    def num_layers(self):
        return self.bounds[-1]

    @property
    def global_batch(self):
        return sum(self.samples)

    def cell_of(self, rank):
        """(stage, replica) of `rank`, or None for a rank the plan leaves idle."""
        for s, stage in enumerate(self.ranks):
            if rank in stage:
                return s, stage.index(rank)
        return None

    def stage_of_layer(self, layer):
        for s in range(self.pp):
            if self.bounds[s] <= layer < self.bounds[s + 1]:
                return s
        raise IndexError(layer)

    def owner(self, layer, replica):
        return self.ranks[self.stage_of_layer(layer)][replica]

    def layer_name(self, index, blocks_names):
        if self.layer_names and len(self.layer_names) == self.num_layers:
            return self.layer_names[index]
        return blocks_names[index]


def split_blocks(model):
    """[(name, block)]: the children of an nn.Sequential, or a list/ModuleList of blocks."""
    if isinstance(model, nn.Sequential):
        return list(model.named_children())
    if isinstance(model, (list, tuple, nn.ModuleList)):
        blocks = list(model)
        for i, b in enumerate(blocks):
            if not isinstance(b, nn.Module):
                raise PipelineError(f"tangram: block {i} is a {type(b).__name__}, not an nn.Module")
        return [(str(i), b) for i, b in enumerate(blocks)]
    raise PipelineError(
        f"tangram: a pipeline needs an nn.Sequential or a list of blocks, got {type(model).__name__}")


_PLAN_PARTS = ("stage bounds", "ranks of the cells", "samples per replica",
               "micro-batch sizes", "layer names")


def _plan_parts(plan):
    return (plan.bounds, plan.ranks, plan.samples, plan.micro_batch_size, plan.layer_names)


def _batch_digest(batch):
    """A cheap fingerprint of a batch tensor: the byte sums of its rows, weighted by row, as an
    integer below 2^31 (exact in float64, so an allreduce carries it unchanged)."""
    t = batch.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    rows = t.shape[0] if t.dim() > 0 else 1
    raw = t.contiguous().reshape(-1).view(torch.uint8).reshape(rows, -1)
    sums = raw.sum(1, dtype=torch.int64) % 1000003
    weights = torch.arange(1, rows + 1, dtype=torch.int64)
    return float(int((sums * weights).sum()) % 2147483647)


class Pipeline:
    """One rank's part of a pp x dp pipeline. Not thread-safe; every rank calls the same methods
    in the same order (train_step, replan, checkpoints) with the same global batch."""

    def __init__(self, model, plan, comm=None, loss_fn=None, timeout_s=None,
                 broadcast_buffers=True):
        self.model = model
        self.broadcast_buffers = _args.flag(broadcast_buffers, "broadcast_buffers", "Pipeline")
        self.p2p = P2P(comm, timeout_s)

        def build():
            if loss_fn is None or not callable(loss_fn):
                raise PipelineError(f"tangram: a Pipeline needs loss_fn(output, target), got "
                                    f"{loss_fn!r}")
            return split_blocks(model), PipelinePlan.from_plan(plan)

        self.named_blocks, first_plan = self._on_every_rank(build)
        self.blocks = [b for _, b in self.named_blocks]
        self.loss_fn = loss_fn
        self._probe = None  # one sample, to check boundaries again at a re-plan
        self.plan = None
        self._check_same_everywhere(first_plan)
        self._set_plan(first_plan)

    # -- the plan ------------------------------------------------------------------------------
    def _set_plan(self, plan, checked=False):
        if not checked:
            self._check_split(plan)
            if self._probe is not None:
                self._check_boundaries(plan, self._probe)
        self.plan = plan
        cell = plan.cell_of(self.p2p.rank)
        self.stage, self.replica = cell if cell else (None, None)
        if self.stage is None:
            self.stage_module = nn.Sequential()
        else:
            begin, end = plan.bounds[self.stage], plan.bounds[self.stage + 1]
            self.stage_module = nn.Sequential(*self.blocks[begin:end])

    @property
    def owned_layers(self):
        """Indices of the blocks this rank computes."""
        if self.stage is None:
            return []
        return list(range(self.plan.bounds[self.stage], self.plan.bounds[self.stage + 1]))

    def layer_name(self, index):
        return self.plan.layer_name(index, [n for n, _ in self.named_blocks])

    def parameters(self):
        """This rank's parameters (its stage's blocks)."""
        return list(self.stage_module.parameters())

    # -- every rank the same -----------------------------------------------------------------
    def _on_every_rank(self, build):
        """build()'s result; when it raises on any rank, every rank raises (collective). A rank
        that failed alone would otherwise leave the others waiting in their next call."""
        error, result = None, None
        try:
            result = build()
        except Exception as e:  # noqa: B902 (any failure must reach the other ranks)
            error, result = f"rank {self.p2p.rank}: {e}", e
        failed = self.p2p.agree(error, _TAG_CHECK)
        if isinstance(result, Exception):
            raise result
        if failed is not None:
            raise PipelineError(f"tangram: the Pipeline could not be built on {failed}")
        return result

    def _block_signature(self, i):
        """What block i's replicas must agree on: its class, its parameters' and buffers' names,
        shapes and dtypes, and which parameters train (the gradient sum sends those only)."""
        block = self.blocks[i]
        frozen = [k for k, p in block.named_parameters() if not p.requires_grad]
        return (f"{type(block).__name__}({_agreement.tensor_signature(block.state_dict().items())})"
                + (f" frozen {frozen}" if frozen else ""))

    def _check_same_everywhere(self, plan):
        """Every rank must hold the same plan and the same model (every rank builds the whole
        model; blocks move between ranks at a re-plan). Collective; on a mismatch every rank
        raises PipelineError naming the first rank that differs from rank 0 and what differs."""
        p2p = self.p2p
        blocks = [_agreement.digest(self._block_signature(i)) for i in range(len(self.blocks))]
        row = [_agreement.digest(part) for part in _plan_parts(plan)]
        row += [len(blocks), _agreement.digest(blocks)]
        rows = _agreement.gather_rows(row, p2p.rank, p2p.size, p2p.allreduce_sum_)
        n = len(_PLAN_PARTS)
        r = _agreement.first_difference(rows, range(n))
        if r is not None:
            parts = [_PLAN_PARTS[k] for k in range(n) if rows[r][k] != rows[0][k]]
            mine = ", ".join(f"{name} {part}" for name, part in zip(_PLAN_PARTS, _plan_parts(plan))
                             if part is not None)
            raise PipelineError(
                f"tangram: rank {r} was given another plan than rank 0 (it differs in its "
                f"{', '.join(parts)}); this rank's (rank {p2p.rank}) plan has {mine}: every rank "
                f"must build its Pipeline with the same plan")
        r = _agreement.first_difference(rows, [n])
        if r is not None:
            raise PipelineError(
                f"tangram: rank {r}'s model has {rows[r][n]} blocks, rank 0's {rows[0][n]}: every "
                f"rank must build the same model")
        if _agreement.first_difference(rows, [n + 1]) is not None:
            self._name_the_different_block(blocks)

    def _name_the_different_block(self, blocks):
        """The models differ: find the first rank and block that differ from rank 0's (the block
        counts agree) and raise, on every rank, with both ranks' descriptions of that block."""
        p2p = self.p2p
        rows = _agreement.gather_rows(blocks, p2p.rank, p2p.size, p2p.allreduce_sum_)
        r = _agreement.first_difference(rows, range(len(blocks)))
        i = next(k for k in range(len(blocks)) if rows[r][k] != rows[0][k])
        described = {}
        for who in (0, r):  # agree() hands the one rank's text to every rank
            described[who] = p2p.agree(self._block_signature(i) if p2p.rank == who else None,
                                       _TAG_CHECK)
        raise PipelineError(
            f"tangram: rank {r}'s model differs from rank 0's in block {i} "
            f"({self.named_blocks[i][0]}): rank 0 has {described[0]}, rank {r} has "
            f"{described[r]}: every rank must build the same model")

    def _check_split(self, plan):
        """Every rank reaches the same verdict: the model and the plan are the same everywhere."""
        if plan.num_layers != len(self.blocks):
            raise PipelineError(
                f"tangram: the plan splits {plan.num_layers} layers but the model has "
                f"{len(self.blocks)} blocks ({', '.join(n for n, _ in self.named_blocks)})")
        if max(r for stage in plan.ranks for r in stage) >= self.p2p.size:
            raise PipelineError(
                f"tangram: the plan places cells on ranks {plan.ranks} but there are "
                f"{self.p2p.size} ranks")
        # A parameter shared by blocks of two stages (tied weights) cannot be split.
        owner = {}
        for i, block in enumerate(self.blocks):
            s = plan.stage_of_layer(i)
            for pname, p in block.named_parameters():
                first = owner.setdefault(id(p), (i, s, pname))
                if first[1] != s:
                    raise PipelineError(
                        f"tangram: the model is not splittable at the planned boundary "
                        f"{plan.bounds[first[1] + 1]}: block {first[0]} "
                        f"({self.named_blocks[first[0]][0]}) and block {i} "
                        f"({self.named_blocks[i][0]}) share parameter {pname} (tied weights) "
                        f"but the plan puts them in stages {first[1]} and {s}")

    def _check_boundaries(self, plan, sample):
        """Runs one sample through every block (no gradients, RNG and modes restored) and checks
        that each planned boundary carries one tensor that can travel."""
        rng = torch.get_rng_state()
        modes = [m.training for m in self.model.modules()] if isinstance(self.model, nn.Module) \
            else None
        for b in self.blocks:
            b.eval()
        try:
            with torch.no_grad():
                x = sample
                for i, block in enumerate(self.blocks):
                    x = block(x)
                    if i + 1 in plan.bounds[1:-1]:
                        if not isinstance(x, torch.Tensor):
                            raise PipelineError(
                                f"tangram: the model is not splittable at the planned boundary "
                                f"{i + 1}: block {i} ({self.named_blocks[i][0]}, "
                                f"{type(block).__name__}) returns {type(x).__name__}, not one "
                                f"tensor, so its output cannot travel to the next stage")
                        try:
                            dtype_name(x.dtype)
                        except TypeError as e:
                            raise PipelineError(
                                f"tangram: the model is not splittable at the planned boundary "
                                f"{i + 1}: {e}") from None
        finally:
            # Eval mode draws no random numbers in the usual blocks (dropout is off); restore
            # only if a block did, so that other threads' draws (ranks as threads) are untouched.
            if not torch.equal(torch.get_rng_state(), rng):
                torch.set_rng_state(rng)
            if modes is not None:
                for m, t in zip(self.model.modules(), modes):
                    m.training = t
            else:
                for b in self.blocks:
                    b.train()

    # -- a training step -------------------------------------------------------------------------
    def _micro_batches(self):
        """[(begin, end)] into the global batch: this replica's share in micro-batches."""
        j = self.replica
        begin = sum(self.plan.samples[:j])
        n, mbs = self.plan.samples[j], self.plan.micro_batch_size[j]
        return [(begin + k, begin + min(k + mbs, n)) for k in range(0, n, mbs)]

    def train_step(self, inputs, targets):
        """Forward and backward of this rank's share of the global batch (`inputs`, `targets`:
        the whole batch, first dimension = plan.global_batch, the same on every rank), then the
        data-parallel gradient sum. Leaves the full-batch gradient in .grad of this rank's
        parameters; returns the global batch's mean loss (a float, on every rank)."""
        plan = self.plan
        if inputs.shape[0] != plan.global_batch:
            raise PipelineError(f"tangram: the batch has {inputs.shape[0]} samples, the plan's "
                                f"global batch is {plan.global_batch}")
        if self._probe is None:
            self._probe = inputs[:1]
            self._check_boundaries(plan, self._probe)
        # The loss and, at 1 + 2r and 2 + 2r, rank r's fingerprints of the batch it was given: the
        # step's one allreduce also finds a rank given another batch (a data loader shuffled with
        # another seed), which trained silently on a mixture of the ranks' batches.
        total = torch.zeros(1 + 2 * self.p2p.size, dtype=torch.float64)
        total[1 + 2 * self.p2p.rank] = _batch_digest(inputs)
        total[2 + 2 * self.p2p.rank] = _batch_digest(targets)
        if self.stage is not None:
            total[0] += self._run_1f1b(inputs, targets)
            self._reduce_gradients()
            if self.broadcast_buffers:
                self._broadcast_buffers()
        self.p2p.allreduce_sum_(total)
        prints = total[1:].view(-1, 2)
        other = next((r for r in range(1, self.p2p.size) if not torch.equal(prints[r], prints[0])),
                     None)
        if other is not None:
            what = " and ".join(name for name, k in (("inputs", 0), ("targets", 1))
                                if prints[other, k] != prints[0, k])
            raise PipelineError(
                f"tangram: rank {other} was given another global batch than rank 0 (its "
                f"{what} differ): every rank must pass the same global batch to train_step (the "
                f"plan gives each its part); the step's gradients mix the ranks' batches, do not "
                f"apply them")
        return float(total[0])

    def _run_1f1b(self, inputs, targets):
        plan, s = self.plan, self.stage
        last = s == plan.pp - 1
        prev_rank = plan.ranks[s - 1][self.replica] if s > 0 else None
        next_rank = plan.ranks[s + 1][self.replica] if not last else None
        micro = self._micro_batches()
        m = len(micro)
        scale = 1.0 / plan.global_batch
        stash = {}
        sends = []
        loss_sum = 0.0

        def forward(i):
            nonlocal loss_sum
            b, e = micro[i]
            if s == 0:
                x = inputs[b:e]
            else:
                x = self.p2p.recv_with_header(prev_rank, _TAG_ACT)
                if x.is_floating_point():
                    x.requires_grad_(True)
            out = self.stage_module(x)
            if last:
                loss = self.loss_fn(out, targets[b:e]) * ((e - b) * scale)
                loss_sum += float(loss.detach())
                stash[i] = (x, loss)
            else:
                if not isinstance(out, torch.Tensor):
                    raise PipelineError(f"tangram: stage {s} returned {type(out).__name__}")
                sends.append(self.p2p.isend_with_header(out, next_rank, _TAG_ACT))
                stash[i] = (x, out)

        def backward(i):
            x, out = stash.pop(i)
            if last:
                out.backward()
            elif out.is_floating_point():
                grad = self.p2p.recv_with_header(next_rank, _TAG_GRAD)
                if out.requires_grad:
                    torch.autograd.backward(out, grad)
            if s > 0 and x.is_floating_point():
                g = x.grad if x.grad is not None else torch.zeros_like(x)
                sends.append(self.p2p.isend_with_header(g, prev_rank, _TAG_GRAD))

        warmup = min(plan.pp - s - 1, m)
        for i in range(warmup):
            forward(i)
        for k in range(m - warmup):
            forward(warmup + k)
            backward(k)
        for k in range(m - warmup, m):
            backward(k)
        self.p2p.wait_all(sends)
        return loss_sum

    def _reduce_gradients(self):
        """Sums this stage's gradients over its replicas (each already scaled by its share)."""
        group = self.plan.ranks[self.stage]
        if len(group) <= 1:
            return
        # Frozen parameters take no part; a parameter no replica used keeps grad None (a flag per
        # parameter rides with the sum), so the optimizer skips it as it would in one process.
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            return
        used = torch.tensor([0.0 if p.grad is None else 1.0 for p in params],
                            dtype=params[0].dtype)
        grads = [p.grad.reshape(-1) if p.grad is not None
                 else torch.zeros(p.numel(), dtype=p.dtype) for p in params]
        flat = torch.cat(grads + [used])
        self.p2p.group_sum_(flat, group, _TAG_DP)
        at = 0
        flags = flat[flat.numel() - len(params):].tolist()
        for k, p in enumerate(params):
            n = p.numel()
            if flags[k] != 0:
                value = flat[at:at + n].view_as(p)
                if p.grad is None:
                    p.grad = value.clone()
                else:
                    p.grad.copy_(value)
            at += n

    def clip_grad_norm_(self, max_norm, norm_type=2.0):
        """Clips the gradients of the whole model as torch.nn.utils.clip_grad_norm_ does in one
        process, and returns the total norm (a float, on every rank). Collective: every rank
        calls it after train_step, idle ranks too. torch's own function on a rank's parameters
        would take the norm of that rank's stage only, so each stage would clip by another
        factor than the single-process run. Replicas of a stage hold the same gradients after
        train_step; the norm counts each stage once."""
        where = "Pipeline.clip_grad_norm_"
        max_norm = _args.number(max_norm, "max_norm", where, minimum=0)
        if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)) or \
                not norm_type > 0:
            raise _args.ArgumentError(f"{where}: norm_type must be a number > 0 or inf, got "
                                      f"{norm_type!r}")
        norm_type = float(norm_type)
        grads = [p.grad.detach() for p in self.parameters() if p.grad is not None]
        total = torch.zeros(1, dtype=torch.float64)
        if norm_type == float("inf"):
            if grads:
                total[0] = max(float(g.abs().max()) for g in grads)
            self.p2p.allreduce_sum_(total, "max")
            norm = float(total[0])
        else:
            for g in grads:
                total += torch.linalg.vector_norm(g.double(), norm_type) ** norm_type
            self.p2p.allreduce_sum_(total)
            # Every replica of a stage counted the same gradients.
            norm = (float(total[0]) / self.plan.dp) ** (1.0 / norm_type)
        coef = max_norm / (norm + 1e-6)  # torch's epsilon and rule
        if coef < 1.0:
            for g in grads:
                g.mul_(coef)
        return norm

    def _broadcast_buffers(self):
        """Copies replica 0's buffers of this stage (BatchNorm's running statistics, ...) to the
        stage's other replicas, as DataParallel's broadcast_buffers does: each replica updated
        them on its own micro-batches, so they drifted apart (and a checkpoint kept replica 0's).
        bool and narrow integer buffers travel as int32."""
        group = self.plan.ranks[self.stage]
        buffers = list(self.stage_module.buffers())
        if len(group) <= 1 or not buffers:
            return
        root = group[0]
        wire = [b.contiguous() if b.dtype in _P2P_DTYPES else b.to(torch.int32)
                for b in buffers]
        if self.p2p.rank == root:
            self.p2p.wait_all([self.p2p.isend(t, peer, _TAG_BUFFERS)
                               for peer in group[1:] for t in wire])
            return
        for b, t in zip(buffers, wire):
            got = self.p2p.recv_into(torch.empty_like(t), root, _TAG_BUFFERS)
            b.copy_(got.to(b.dtype))

    # -- re-planning -----------------------------------------------------------------------------
    def replan(self, plan, optimizer=None):
        """Switches to `plan` without a restart: blocks whose rank changes move with their
        module and optimizer state (rebalance.move_layers). Call on every rank between steps."""
        from tangram.torch.rebalance import move_layers

        new = self._on_every_rank(lambda: PipelinePlan.from_plan(plan))
        self._check_same_everywhere(new)  # every rank moves layers by the same plan
        self._check_split(new)  # on every rank, before anything moves
        if self._probe is not None:
            self._check_boundaries(new, self._probe)
        old_owned = set(self.owned_layers)
        move_layers(self, self.plan, new, optimizer)
        self._set_plan(new, checked=True)
        for i in old_owned - set(self.owned_layers):
            for p in self.blocks[i].parameters():
                p.grad = None
                if optimizer is not None:
                    optimizer.state.pop(p, None)
