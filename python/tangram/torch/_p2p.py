"""Point-to-point helpers for the pipeline, layer moves and checkpoints.

Everything here goes through the C++ communicator (`_tangram.Communicator`): a send starts a
non-blocking request and returns a handle to complete later; a receive completes before it
returns. Tensors must be contiguous CPU tensors of a dtype the communicator knows (f32, f64, bf16,
f16, i32, i64); bytes travel as i32 words.
"""

import json

import torch

from tangram.torch import _args

_DTYPES = {
    torch.float32: "f32",
    torch.float64: "f64",
    torch.bfloat16: "bf16",
    torch.float16: "f16",
    torch.int32: "i32",
    torch.int64: "i64",
}
_CODES = list(_DTYPES)  # dtype <-> small integer, for tensor headers
_MAX_DIMS = 8


def raw_communicator(comm):
    """The `_tangram.Communicator` behind `comm` (a tangram.torch handle or the raw object)."""
    for attr in ("_comm", "comm", "communicator"):
        inner = getattr(comm, attr, None)
        if inner is not None and hasattr(inner, "send") and hasattr(inner, "wait"):
            return raw_communicator(inner) if inner is not comm else inner
    return comm


def dtype_name(dtype):
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise TypeError(
            f"tangram: tensors of dtype {dtype} cannot travel between ranks "
            f"(supported: {', '.join(str(d) for d in _DTYPES)})"
        ) from None


class P2P:
    """Sends and receives of tensors and bytes on one rank's communicator."""

    def __init__(self, comm=None, timeout_s=None):
        if comm is None:  # this rank's tangram.torch.init() context
            from tangram.torch import context
            comm = context.current()
        if timeout_s is None:
            # The context's deadline, read at each call: adopting a plan can raise it (a
            # Context's adopt_plan); a raw communicator has none (0: its own default).
            self._deadline = lambda: float(getattr(comm, "timeout", 0.0))
        else:
            fixed = _args.seconds(timeout_s, "timeout_s", "Pipeline / P2P")
            self._deadline = lambda: fixed
        self.comm = raw_communicator(comm)
        self.rank = self.comm.rank
        self.size = self.comm.size

    @property
    def timeout_s(self):
        """The deadline of this rank's next send or receive, in seconds (0: the communicator's)."""
        return self._deadline()

    # -- tensors ---------------------------------------------------------------------------
    def isend(self, tensor, peer, tag):
        """Starts sending `tensor` (kept alive by the handle); complete with wait()."""
        t = tensor.detach().contiguous()
        work = self.comm.send(t.data_ptr(), t.numel(), dtype_name(t.dtype), peer, tag,
                              self.timeout_s)
        return (work, t)

    def wait(self, handle):
        self.comm.wait(handle[0], True)

    def recv_into(self, tensor, peer, tag):
        assert tensor.is_contiguous()
        work = self.comm.recv(tensor.data_ptr(), tensor.numel(), dtype_name(tensor.dtype), peer,
                              tag, self.timeout_s)
        self.comm.wait(work, True)
        return tensor

    # -- tensors of a shape the receiver does not know ------------------------------------------
    def isend_with_header(self, tensor, peer, tag):
        """Sends a small header (dtype, shape) then the tensor; returns both handles."""
        t = tensor.detach().contiguous()
        dtype_name(t.dtype)
        if t.dim() > _MAX_DIMS:
            raise ValueError(f"tangram: a tensor of {t.dim()} dimensions cannot travel")
        header = torch.zeros(2 + _MAX_DIMS, dtype=torch.int64)
        header[0] = _CODES.index(t.dtype)
        header[1] = t.dim()
        header[2:2 + t.dim()] = torch.tensor(t.shape, dtype=torch.int64)
        return [self.isend(header, peer, tag), self.isend(t, peer, tag)]

    def recv_with_header(self, peer, tag):
        header = self.recv_into(torch.empty(2 + _MAX_DIMS, dtype=torch.int64), peer, tag)
        dtype = _CODES[int(header[0])]
        shape = [int(d) for d in header[2:2 + int(header[1])]]
        return self.recv_into(torch.empty(shape, dtype=dtype), peer, tag)

    # -- bytes -----------------------------------------------------------------------------
    def isend_bytes(self, data, peer, tag):
        n = len(data)
        padded = bytes(data) + b"\0" * ((4 - n % 4) % 4)
        words = torch.frombuffer(bytearray(padded), dtype=torch.int32).clone() if padded else \
            torch.zeros(0, dtype=torch.int32)
        return [self.isend(torch.tensor([n], dtype=torch.int64), peer, tag),
                self.isend(words, peer, tag)]

    def recv_bytes(self, peer, tag):
        n = int(self.recv_into(torch.zeros(1, dtype=torch.int64), peer, tag)[0])
        words = self.recv_into(torch.zeros((n + 3) // 4, dtype=torch.int32), peer, tag)
        return words.numpy().tobytes()[:n]

    def wait_all(self, handles):
        for h in handles:
            if isinstance(h, list):
                self.wait_all(h)
            else:
                self.wait(h)

    # -- small collectives -----------------------------------------------------------------
    def allreduce_sum_(self, tensor, op="sum"):
        """In-place sum (or `op`: "max", "min") over every rank of the communicator."""
        t = tensor if tensor.is_contiguous() else tensor.contiguous()
        work = self.comm.allreduce(t.data_ptr(), t.data_ptr(), t.numel(), dtype_name(t.dtype),
                                   op, self.timeout_s)
        self.comm.wait(work, False)
        if t is not tensor:
            tensor.copy_(t)
        return tensor

    def group_sum_(self, tensor, ranks, tag):
        """Sums `tensor` in place over `ranks` (this rank among them), in rank order on the
        group's first rank, then sends the sum back: every member gets bit-identical values."""
        ranks = sorted(ranks)
        if len(ranks) <= 1:
            return tensor
        root = ranks[0]
        if self.rank == root:
            buf = torch.empty_like(tensor)
            for peer in ranks[1:]:
                tensor += self.recv_into(buf, peer, tag)
            self.wait_all([self.isend(tensor, peer, tag) for peer in ranks[1:]])
        else:
            self.wait(self.isend(tensor, root, tag))
            self.recv_into(tensor, root, tag)
        return tensor

    def agree(self, error, tag):
        """Every rank learns whether any rank failed: returns the first failing rank's message
        (or None). `error` is this rank's message or None."""
        flag = torch.tensor([0 if error is None else self.rank + 1], dtype=torch.int64)
        flags = torch.zeros(self.size, dtype=torch.int64)
        flags[self.rank] = flag[0]
        self.allreduce_sum_(flags)
        failed = [r for r in range(self.size) if flags[r] != 0]
        if not failed:
            return None
        first = failed[0]
        if self.rank == first:
            data = json.dumps(error).encode()
            self.wait_all([self.isend_bytes(data, p, tag) for p in range(self.size) if p != first])
            return error
        return json.loads(self.recv_bytes(first, tag).decode())
