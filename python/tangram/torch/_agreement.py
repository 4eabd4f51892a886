"""Do all ranks hold the same thing? DataParallel's model and shares, a Pipeline's model and plan.

Each rank reduces what it holds to a row of integers (counts and CRC-32 digests of descriptions)
of the same length on every rank; one int64 sum over the ranks, in which each rank fills only its
own row, gives every rank every row (exactly: the other rows are zeros). Every rank then reaches
the same verdict and names the same rank, so a mismatch raises the same error on every rank
instead of a hang in the first collective whose sizes differ.
"""

import zlib

import torch


def digest(value):
    """CRC-32 of a value's text (a list, a description): equal values give equal digests."""
    return zlib.crc32(str(value).encode())


def tensor_signature(named_tensors):
    """"name:shape:dtype;..." of (name, tensor) pairs: what must match across ranks (values may
    differ until a broadcast)."""
    return ";".join(f"{k}:{tuple(v.shape)}:{v.dtype}" for k, v in named_tensors)


def gather_rows(row, rank, size, allreduce_sum_):
    """Every rank's `row` (ints; the same length on every rank), as a list of rows in rank order.
    `allreduce_sum_(tensor)` sums a contiguous int64 tensor in place over the ranks."""
    table = torch.zeros(size, len(row), dtype=torch.int64)
    table[rank] = torch.tensor(row, dtype=torch.int64)
    allreduce_sum_(table.view(-1))
    return table.tolist()


def first_difference(rows, columns):
    """The first rank whose row differs from rank 0's in any of `columns`, or None."""
    columns = list(columns)
    for r, row in enumerate(rows):
        if any(row[c] != rows[0][c] for c in columns):
            return r
    return None
