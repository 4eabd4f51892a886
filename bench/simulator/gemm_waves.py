#!/usr/bin/env python3
"""Wave quantization of a transformer layer's GEMMs, per run (docs/simulator.md, fidelity).

Question it answers: could GEMM-shape-dependent matmul efficiency (the tiles of an output
matrix spread over a device's compute units in whole waves) explain why ModelLink's Llama 3 8B
at tp 8 runs slower than the cost model predicts, without moving the well-fit runs?

Per rank, the four linear layers of a block (QKV, attention out, MLP up [+gate], MLP down) in
the forward (M x N output), data-gradient (M x K) and weight-gradient (K x N) GEMMs, M = the
micro-batch's tokens. Efficiency of one GEMM = tiles / (waves x units), tiles of TILE_M x TILE_N.
Printed: the FLOP-weighted mean. --mc2: the GEMMs that Ascend's MC2 fuses with a collective
(column forward, row forward, row data-gradient; MindSpeed mc2_linears_seq_parallel.py) run in
tp chunks of M / tp rows each.

ASSUMED, not sourced per shape: 256 x 128 output tiles (cuBLAS and CANN choose per shape, which
lowers quantization below these figures); 108 SMs on the A100 (whitepaper), 20 or 24 AI cores on
the 910B (910B3- and 910B2-class parts; the tables do not say which).
"""
import math
import sys

TILE_M, TILE_N = 256, 128

# name, tokens per micro-batch M, hidden h, K/V width hk, ffn f, gated MLP, tp, units
RUNS = [
    ("Ascend cal: MindFormers Llama 2 7B tp 1", 4096, 4096, 4096, 11008, True, 1),
    ("ModelLink Llama 2 13B tp 8 mb 4", 16384, 5120, 5120, 13824, True, 8),
    ("ModelLink CodeLlama 34B tp 8 mb 2", 8192, 8192, 1024, 22016, True, 8),
    ("ModelLink Llama 2 70B tp 8 mb 1", 4096, 8192, 1024, 28672, True, 8),
    ("ModelLink Llama 3 8B tp 8 mb 2 (8K)", 16384, 4096, 1024, 14336, True, 8),
]
A100_RUNS = [
    ("Ampere cal: Korthikanti 22B tp 8 mb 4", 8192, 6144, 6144, 24576, False, 8),
    ("SC'21 1.7B tp 1 mb 16", 32768, 2304, 2304, 9216, False, 1),
    ("SC'21 530B / MT-NLG tp 8 mb 1", 2048, 20480, 20480, 81920, False, 8),
]


def efficiency(rows, cols, units):
    tiles = math.ceil(rows / TILE_M) * math.ceil(cols / TILE_N)
    return tiles / (math.ceil(tiles / units) * units)


def mean_efficiency(m, h, hk, f, gated, tp, units, mc2):
    gemms = [  # (K, N, column-parallel?)
        (h, (h + 2 * hk) // tp, True), (h // tp, h, False),
        (h, (2 if gated else 1) * f // tp, True), (f // tp, h, False)]
    flops = time = 0.0
    for k, n, column in gemms:
        chunk = m // tp if mc2 else m
        shapes = [(chunk, n), (chunk if (mc2 and not column) else m, k), (k, n)]
        for rows, cols in shapes:
            flops += m * n * k
            time += m * n * k / efficiency(rows, cols, units)
    return flops / time


def main():
    mc2 = "--mc2" in sys.argv
    for units in (20, 24):
        for name, m, h, hk, f, gated, tp in RUNS:
            e = mean_efficiency(m, h, hk, f, gated, tp, units, mc2 and tp > 1)
            print(f"910B, {units} units{' (MC2 chunks)' if mc2 else ''}: {name:40s} {e:.3f}")
    for name, m, h, hk, f, gated, tp in A100_RUNS:
        print(f"A100, 108 SMs: {name:40s} {mean_efficiency(m, h, hk, f, gated, tp, 108, False):.3f}")


if __name__ == "__main__":
    main()
