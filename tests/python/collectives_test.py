"""tangram.torch collectives against a reference computed locally from every rank's input.

Under mpirun (one process per rank), or with --sim N: N ranks as threads of one process on the
simulated transport. Every rank checks every result; the script exits non-zero on any mismatch.
"""

import sys

import torch

import tangram.torch as tt
from tangram import TangramError
from torch_test_util import run_sim_ranks


def rank_input(r, n, dtype):
    """Rank r's deterministic input: small integers, exact in every dtype."""
    return ((torch.arange(n, dtype=torch.int64) * (r + 3) + r * 7) % 13 - 6).to(dtype)


def check(cond, what):
    if not cond:
        raise AssertionError(f"rank {tt.rank()}: {what}")


def body():
    r, p = tt.rank(), tt.size()
    n = 37
    # allreduce: every op and dtype, in place, sync.
    for dtype in (torch.float32, torch.float64, torch.int32, torch.int64, torch.bfloat16,
                  torch.float16):
        ins = [rank_input(q, n, dtype) for q in range(p)]
        stacked = torch.stack([t.double() for t in ins])
        for op, ref in (("sum", stacked.sum(0)), ("max", stacked.max(0).values),
                        ("min", stacked.min(0).values)):
            t = ins[r].clone()
            out = tt.allreduce(t, op)
            check(out is t, "allreduce returns its tensor")
            check(torch.equal(t.double(), ref), f"allreduce {op} {dtype}: {t} vs {ref}")
    t = rank_input(r, n, torch.float64)
    tt.allreduce(t, "avg")
    ref = torch.stack([rank_input(q, n, torch.float64) for q in range(p)]).mean(0)
    check(torch.allclose(t, ref), "allreduce avg")
    # async: several in flight, then wait in any order.
    tensors = [rank_input(r, 1000 + k, torch.float32) for k in range(4)]
    handles = [tt.allreduce(t, async_op=True) for t in tensors]
    for k in reversed(range(4)):
        handles[k].wait()
        ref = sum(rank_input(q, 1000 + k, torch.float32) for q in range(p))
        check(torch.equal(tensors[k], ref), f"async allreduce {k}")
    # non-contiguous tensor: reduced in place through a copy.
    base = torch.stack([rank_input(r, 8, torch.float32)] * 3, dim=1)  # 8 x 3
    column = base[:, 1]
    check(not column.is_contiguous(), "test setup: column is non-contiguous")
    tt.allreduce(column)
    check(torch.equal(base[:, 1], sum(rank_input(q, 8, torch.float32) for q in range(p))),
          "non-contiguous allreduce")
    check(torch.equal(base[:, 0], rank_input(r, 8, torch.float32)), "neighbours untouched")
    # reduce_scatter
    inp = rank_input(r, 5 * p, torch.float32)
    out = torch.empty(5)
    tt.reduce_scatter(out, inp)
    full = sum(rank_input(q, 5 * p, torch.float32) for q in range(p))
    check(torch.equal(out, full[5 * r:5 * r + 5]), "reduce_scatter")
    # allgather
    out = torch.empty(p * 6, dtype=torch.int64)
    tt.allgather(out, rank_input(r, 6, torch.int64))
    check(torch.equal(out, torch.cat([rank_input(q, 6, torch.int64) for q in range(p)])),
          "allgather")
    # allgatherv: rank q contributes q + 1 rows of 3.
    mine = torch.full((r + 1, 3), float(r))
    out = tt.allgatherv(mine)
    ref = torch.cat([torch.full((q + 1, 3), float(q)) for q in range(p)])
    check(torch.equal(out, ref), "allgatherv (counts gathered)")
    out = tt.allgatherv(mine, counts=[q + 1 for q in range(p)], async_op=True).wait()
    check(torch.equal(out, ref), "allgatherv (counts given, async)")
    # allgatherv with no rows on rank 0 (a rank whose share is 0 gathers its predictions): it
    # counted 1 element per row there, 3 elsewhere, and MPI failed with MPI_ERR_TRUNCATE.
    mine = torch.full((r, 3), float(r))
    out = tt.allgatherv(mine)
    check(torch.equal(out, torch.cat([torch.full((q, 3), float(q)) for q in range(p)])),
          "allgatherv (no rows on rank 0)")
    # broadcast from the last rank
    t = rank_input(r, 11, torch.float64)
    tt.broadcast(t, root=p - 1)
    check(torch.equal(t, rank_input(p - 1, 11, torch.float64)), "broadcast")
    # send / recv around a ring, receive posted first (async), then send, then wait both.
    nxt, prv = (r + 1) % p, (r - 1) % p
    got = torch.empty(9, dtype=torch.float32)
    h_recv = tt.recv(got, prv, tag=5, async_op=True)
    h_send = tt.send(rank_input(r, 9, torch.float32), nxt, tag=5, async_op=True)
    h_send.wait()
    h_recv.wait()
    check(torch.equal(got, rank_input(prv, 9, torch.float32)), "ring send/recv")
    tt.barrier()
    # objects
    check(tt.broadcast_object({"plan": "x" * r}, root=0) == {"plan": ""}, "broadcast_object")
    check(tt.allgather_object(("r", r)) == [("r", q) for q in range(p)], "allgather_object")
    # unsupported dtype: a clear TangramError before anything is sent (so no rank hangs).
    for bad in (torch.zeros(4, dtype=torch.uint8), torch.zeros(4, dtype=torch.bool),
                torch.zeros(4, dtype=torch.complex64)):
        try:
            tt.allreduce(bad)
            check(False, f"allreduce of {bad.dtype} must raise")
        except TangramError as e:
            check(e.code == "INVALID_ARGUMENT" and str(bad.dtype) in e.message,
                  f"unsupported dtype error: {e}")
    # a bad op is refused by name
    try:
        tt.allreduce(torch.zeros(2), "prod")
        check(False, "op prod must raise")
    except TangramError as e:
        check(e.code == "INVALID_ARGUMENT" and "prod" in e.message, f"bad op: {e}")
    tt.barrier()


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--sim":
        ranks = int(sys.argv[2])
        world = tt.sim_world(ranks, timeout=30)

        def rank_main(r):
            tt.init(transport="sim", sim_world=world, rank=r, timeout=30)
            try:
                body()
            finally:
                tt.shutdown()

        run_sim_ranks(ranks, rank_main, "collectives_test")
        return
    tt.init(timeout=60)
    body()
    print(f"collectives_test: rank {tt.rank()} of {tt.size()} OK")


if __name__ == "__main__":
    main()
