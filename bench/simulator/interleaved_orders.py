#!/usr/bin/env python3
"""Checks orchestrator/simulator/schedule.cc's interleaved 1F1B order for deadlocks.

Each rank runs its ops in order; an op waits for its dependencies (a forward for the previous
virtual stage's forward of the same micro-batch, a backward for its own forward and the next
virtual stage's backward). Played out with unlimited patience, an order is deadlock-free when
every rank finishes. Prints the (pp, v, m) that deadlock under Megatron-LM's order (warm-up
counts that assume whole groups of pp micro-batches) and under the padded order the simulator
uses (built for m rounded up to a multiple of pp, the missing micro-batches' ops dropped).

    /usr/bin/python3 bench/simulator/interleaved_orders.py [max_pp max_v max_m]
"""
import sys


def order(rank, pp, m, v, padded):
    """One rank's ops (micro_batch, chunk, backward), as schedule.cc builds them."""
    mm = -(-m // pp) * pp if padded else m
    seq = []
    for g in range(0, mm, pp):
        for c in range(v):
            seq += [(mb, c, False) for mb in range(g, min(mm, g + pp))]
    total = mm * v
    warm = min(total, (pp - rank - 1) * 2 + (v - 1) * pp)
    back = lambda k: (seq[k][0], v - 1 - seq[k][1], True)
    out = seq[:warm]
    for k in range(total - warm):
        out += [seq[warm + k], back(k)]
    out += [back(k) for k in range(total - warm, total)]
    return [op for op in out if op[0] < m]


def deps(op, rank, pp, v):
    mb, c, backward = op
    vs = c * pp + rank
    if not backward:
        return [] if vs == 0 else [((mb, (vs - 1) // pp, False), (vs - 1) % pp)]
    out = [((mb, c, False), rank)]
    if vs + 1 < pp * v:
        out.append(((mb, (vs + 1) // pp, True), (vs + 1) % pp))
    return out


def deadlock_free(pp, m, v, padded):
    orders = [order(r, pp, m, v, padded) for r in range(pp)]
    done, pos, progress = set(), [0] * pp, True
    while progress:
        progress = False
        for r in range(pp):
            while pos[r] < len(orders[r]):
                op = orders[r][pos[r]]
                if not all(d in done for d in deps(op, r, pp, v)):
                    break
                done.add((op, r))
                pos[r] += 1
                progress = True
    return all(pos[r] == len(orders[r]) == 2 * m * v for r in range(pp))


def main():
    max_pp, max_v, max_m = (int(a) for a in (sys.argv[1:4] if len(sys.argv) == 4 else (9, 5, 49)))
    for padded in (False, True):
        bad = [(pp, v, m) for pp in range(2, max_pp + 1) for v in range(2, max_v + 1)
               for m in range(1, max_m + 1) if not deadlock_free(pp, m, v, padded)]
        name = "padded (the simulator's)" if padded else "Megatron-LM's warm-up"
        print(f"{name}: {len(bad)} of pp 2-{max_pp}, v 2-{max_v}, m 1-{max_m} deadlock"
              + (f", e.g. {bad[:4]}" if bad else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
