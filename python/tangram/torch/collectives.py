"""Collectives on torch tensors over Tangram's C++ Communicator.

Every call works in place on the caller's tensors. Contiguous CPU tensors are handed to C++ by
address (no copy); a non-contiguous tensor goes through a contiguous copy that is written back
when the call completes. CUDA tensors need the "nccl" transport. Each call is queued on the
rank's communication thread in call order; with async_op=True it returns a Handle at once (keep
the tensors unchanged until handle.wait()), otherwise it waits (the GIL is released meanwhile).

All ranks must make the same calls in the same order with matching shapes, as with MPI. A failed
call raises TangramError with the absl::Status code name (DEADLINE_EXCEEDED past the timeout,
UNAVAILABLE for a dead peer, ABORTED once another call failed) and message.
"""

import math
import pickle

import torch

from tangram.errors import TangramError
from tangram.torch import _args
from tangram.torch.context import current

_DTYPES = {
    torch.float32: "f32",
    torch.float64: "f64",
    torch.bfloat16: "bf16",
    torch.float16: "f16",
    torch.int32: "i32",
    torch.int64: "i64",
}
# Broadcast by broadcast_parameters as int32 (no Tangram dtype of their own).
_WIDENED = {torch.bool, torch.uint8, torch.int8, torch.int16}
_OPS = {"sum", "avg", "max", "min"}


class Handle:
    """A pending call: wait() blocks until it completes (raising TangramError if it failed)."""

    def __init__(self, ctx, work, keep, p2p=False, finish=None, result=None):
        self._ctx = ctx
        self._work = work
        self._keep = keep  # the tensors C++ reads or writes stay alive until the call completes
        self._p2p = p2p
        self._finish = finish
        self._result = result
        self._done = False

    def wait(self):
        if not self._done:
            self._done = True
            try:
                self._ctx.comm.wait(self._work, self._p2p)
            except TangramError as e:
                if e.code != "INVALID_ARGUMENT" and self._ctx.failed is None:
                    self._ctx.failed = e  # the communicator is aborted (see Context.shutdown)
                raise
            if self._finish is not None:
                self._finish()
            self._keep = None
        return self._result

    def is_completed(self):
        return self._done or (not self._p2p and self._work.done())


def dtype_name(tensor):
    """Tangram's name of a tensor's dtype; TangramError(INVALID_ARGUMENT) when unsupported."""
    name = _DTYPES.get(tensor.dtype)
    if name is None:
        raise TangramError(
            "INVALID_ARGUMENT",
            f"tensor dtype {tensor.dtype} is not supported by Tangram collectives "
            f"(supported: {', '.join(str(d) for d in _DTYPES)})")
    return name


def _check(ctx, tensor, what):
    if not isinstance(tensor, torch.Tensor):
        raise TangramError("INVALID_ARGUMENT", f"{what}: expected a torch.Tensor, got "
                           f"{type(tensor).__name__}")
    dtype_name(tensor)
    if tensor.is_cuda and ctx.transport != "nccl":
        raise TangramError("INVALID_ARGUMENT",
                           f"{what}: a CUDA tensor needs transport 'nccl' (this rank runs "
                           f"'{ctx.transport}'); move it to the CPU or init(transport='nccl')")
    if not tensor.is_cuda and tensor.device.type != "cpu":
        raise TangramError("INVALID_ARGUMENT", f"{what}: unsupported device {tensor.device}")
    if tensor.is_cuda:
        # NCCL runs on the communicator's own stream: the kernels that produce the tensor on
        # torch's current stream must have finished first.
        torch.cuda.current_stream(tensor.device).synchronize()


def _contiguous(tensor):
    """(buffer, write_back): the tensor itself when contiguous, else a copy and its write-back."""
    if tensor.is_contiguous():
        return tensor, None
    buf = tensor.contiguous()
    return buf, (lambda: tensor.copy_(buf))


def _timeout(ctx, timeout, what):
    """The call's deadline: the context's, or `timeout` seconds (a finite number > 0)."""
    return ctx.timeout if timeout is None else _args.seconds(timeout, "timeout", what)


def _run(ctx, work, keep, async_op, p2p=False, finish=None, result=None):
    handle = Handle(ctx, work, keep, p2p=p2p, finish=finish, result=result)
    if async_op:
        return handle
    return handle.wait()


def allreduce(tensor, op="sum", async_op=False, timeout=None):
    """tensor = op over ranks of tensor, in place. op: "sum", "avg", "max", "min"."""
    ctx = current()
    _check(ctx, tensor, "allreduce")
    if op not in _OPS:
        raise TangramError("INVALID_ARGUMENT", f"allreduce: unknown op '{op}' (known: "
                           f"{', '.join(sorted(_OPS))})")
    buf, write_back = _contiguous(tensor)
    work = ctx.comm.allreduce(buf.data_ptr(), buf.data_ptr(), buf.numel(), dtype_name(buf), op,
                              _timeout(ctx, timeout, "allreduce"))
    return _run(ctx, work, (tensor, buf), async_op, finish=write_back, result=tensor)


def reduce_scatter(output, input, op="sum", async_op=False, timeout=None):
    """output (n elements) = op over ranks of block `rank` of input (size() * n elements)."""
    ctx = current()
    _check(ctx, output, "reduce_scatter")
    _check(ctx, input, "reduce_scatter")
    if input.numel() != output.numel() * ctx.size or input.dtype != output.dtype:
        raise TangramError("INVALID_ARGUMENT",
                           f"reduce_scatter: input has {input.numel()} elements of {input.dtype}, "
                           f"expected size() x output = {ctx.size} x {output.numel()} of "
                           f"{output.dtype}")
    inp = input.contiguous()
    out, write_back = _contiguous(output)
    work = ctx.comm.reduce_scatter(inp.data_ptr(), out.data_ptr(), out.numel(), dtype_name(out),
                                   op, _timeout(ctx, timeout, "reduce_scatter"))
    return _run(ctx, work, (inp, out, output), async_op, finish=write_back, result=output)


def allgather(output, input, async_op=False, timeout=None):
    """output (size() * n elements, rank order) = every rank's input (n elements)."""
    ctx = current()
    _check(ctx, output, "allgather")
    _check(ctx, input, "allgather")
    if output.numel() != input.numel() * ctx.size or input.dtype != output.dtype:
        raise TangramError("INVALID_ARGUMENT",
                           f"allgather: output has {output.numel()} elements, expected size() x "
                           f"input = {ctx.size} x {input.numel()} of {input.dtype}")
    inp = input.contiguous()
    out, write_back = _contiguous(output)
    work = ctx.comm.allgather(inp.data_ptr(), out.data_ptr(), inp.numel(), dtype_name(inp),
                              _timeout(ctx, timeout, "allgather"))
    return _run(ctx, work, (inp, out, output), async_op, finish=write_back, result=output)


def allgatherv(input, counts=None, async_op=False, timeout=None):
    """Uneven allgather along dim 0: returns the concatenation of every rank's input.

    counts: rows per rank (the same list on every rank); None gathers them first. Trailing
    dimensions and dtype must match on every rank.
    """
    ctx = current()
    _check(ctx, input, "allgatherv")
    rows = input.shape[0] if input.dim() > 0 else 1
    if counts is None:
        counts = allgather_object(int(rows))
    counts = [int(c) for c in counts]
    if len(counts) != ctx.size or counts[ctx.rank] != rows:
        raise TangramError("INVALID_ARGUMENT",
                           f"allgatherv: counts {counts} do not give rank {ctx.rank} its "
                           f"{rows} rows over {ctx.size} ranks")
    inp = input.contiguous()
    trailing = tuple(input.shape[1:]) if input.dim() > 0 else ()
    # Elements per row from the trailing shape, not numel / rows: a rank with no rows (a share
    # of 0) counted 1 and the others the true size, and MPI failed with MPI_ERR_TRUNCATE.
    row = math.prod(trailing)
    out = torch.empty((sum(counts),) + trailing, dtype=input.dtype, device=input.device)
    work = ctx.comm.allgatherv(inp.data_ptr(), out.data_ptr(), [c * row for c in counts],
                               dtype_name(inp), _timeout(ctx, timeout, "allgatherv"))
    return _run(ctx, work, (inp, out), async_op, result=out)


def broadcast(tensor, root=0, async_op=False, timeout=None):
    """tensor on every rank = tensor on `root`, in place."""
    ctx = current()
    _check(ctx, tensor, "broadcast")
    buf, write_back = _contiguous(tensor)
    root = _args.rank(root, "root", "broadcast", ctx.size)
    work = ctx.comm.broadcast(buf.data_ptr(), buf.numel(), dtype_name(buf), root,
                              _timeout(ctx, timeout, "broadcast"))
    return _run(ctx, work, (tensor, buf), async_op, finish=write_back, result=tensor)


def send(tensor, dst, tag=0, async_op=False, timeout=None):
    """Sends tensor to rank dst (tags 0..16383; messages with one tag arrive in order)."""
    ctx = current()
    _check(ctx, tensor, "send")
    buf = tensor.contiguous()
    dst, tag = _args.rank(dst, "dst", "send", ctx.size), _args.whole(tag, "tag", "send", 0)
    work = ctx.comm.send(buf.data_ptr(), buf.numel(), dtype_name(buf), dst, tag,
                         _timeout(ctx, timeout, "send"))
    return _run(ctx, work, (tensor, buf), async_op, p2p=True)


def recv(tensor, src, tag=0, async_op=False, timeout=None):
    """Receives into tensor (in place) from rank src; the size must match the send's."""
    ctx = current()
    _check(ctx, tensor, "recv")
    buf, write_back = _contiguous(tensor)
    src, tag = _args.rank(src, "src", "recv", ctx.size), _args.whole(tag, "tag", "recv", 0)
    work = ctx.comm.recv(buf.data_ptr(), buf.numel(), dtype_name(buf), src, tag,
                         _timeout(ctx, timeout, "recv"))
    return _run(ctx, work, (tensor, buf), async_op, p2p=True, finish=write_back, result=tensor)


def barrier(async_op=False, timeout=None):
    ctx = current()
    return _run(ctx, ctx.comm.barrier(_timeout(ctx, timeout, "barrier")), (), async_op)


def broadcast_object(obj, root=0, timeout=None):
    """A picklable object from `root` to every rank (returns it on every rank)."""
    ctx = current()
    data = pickle.dumps(obj) if ctx.rank == root else b""
    length = torch.tensor([len(data)], dtype=torch.int64)
    broadcast(length, root, timeout=timeout)
    buf = torch.zeros(int(length.item()), dtype=torch.uint8)
    if ctx.rank == root:
        buf.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    # uint8 travels as int32 words: Tangram's collectives have no byte type.
    words = torch.zeros((buf.numel() + 3) // 4, dtype=torch.int32)
    words.view(torch.uint8)[:buf.numel()].copy_(buf)
    broadcast(words, root, timeout=timeout)
    return pickle.loads(words.view(torch.uint8)[:buf.numel()].numpy().tobytes())


def allgather_object(obj, timeout=None):
    """Every rank's picklable object, as a list in rank order."""
    ctx = current()
    data = pickle.dumps(obj)
    words = torch.zeros((len(data) + 3) // 4, dtype=torch.int32)
    if data:
        words.view(torch.uint8)[:len(data)].copy_(torch.frombuffer(bytearray(data),
                                                                   dtype=torch.uint8))
    lengths = torch.zeros(ctx.size, dtype=torch.int64)
    allgather(lengths, torch.tensor([len(data)], dtype=torch.int64), timeout=timeout)
    word_counts = [(int(n) + 3) // 4 for n in lengths]
    out = allgatherv(words, counts=word_counts, timeout=timeout)
    result, offset = [], 0
    for n, w in zip(lengths.tolist(), word_counts):
        chunk = out[offset:offset + w].view(torch.uint8)[:n]
        result.append(pickle.loads(chunk.numpy().tobytes()))
        offset += w
    return result


def broadcast_parameters(params, root=0, timeout=None):
    """Broadcasts a module's parameters and buffers (or a state_dict / iterable of tensors) from
    root, in place, so that every rank starts from the same weights. bool and 8/16-bit integer
    buffers travel as int32; another dtype raises TangramError(INVALID_ARGUMENT) on every rank
    before anything is sent."""
    start_broadcast_tensors(params, root, timeout)()


def start_broadcast_tensors(params, root=0, timeout=None):
    """broadcast_parameters without waiting: starts the broadcasts (in the caller's order among
    its other calls) and returns a function that waits for them and writes the narrow dtypes
    back. DataParallel overlaps its per-step buffer broadcast with the gradient reductions."""
    if isinstance(params, torch.nn.Module):
        tensors = list(params.state_dict().values())
    elif isinstance(params, dict):
        tensors = list(params.values())
    else:
        tensors = list(params)
    tensors = [t.data if hasattr(t, "data") else t for t in tensors]
    for t in tensors:  # every rank refuses the same model before anything is sent
        if t.dtype not in _DTYPES and t.dtype not in _WIDENED:
            raise TangramError("INVALID_ARGUMENT",
                               f"broadcast_parameters: cannot broadcast a tensor of {t.dtype}")
    handles, narrow = [], []
    for t in tensors:
        if t.dtype in _DTYPES:
            handles.append(broadcast(t, root, async_op=True, timeout=timeout))
        else:
            # bool and narrow integers (a mask, a step counter) travel as int32 and come back
            wide = t.to(torch.int32)
            handles.append(broadcast(wide, root, async_op=True, timeout=timeout))
            narrow.append((t, wide))

    def finish():
        for h in handles:
            h.wait()
        for t, wide in narrow:
            t.copy_(wide.to(t.dtype))
    return finish
