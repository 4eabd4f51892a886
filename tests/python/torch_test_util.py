"""Shared by the tangram.torch test scripts: the example GPT and the shipped corpus."""

import os
import sys
import threading

_source = os.environ.get("TANGRAM_SOURCE_DIR",
                         os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(_source, "examples", "torch"))

import gpt  # noqa: E402  (examples/torch/gpt.py)
from tangram import _tangram  # noqa: E402

SOURCE_DIR = _source
SMALL = dict(layers=2, hidden=32, heads=2, ffn_hidden=64, vocab=64, seq_len=16)


def small_gpt(seed=0, **overrides):
    import torch
    torch.manual_seed(seed)
    return gpt.gpt(**{**SMALL, **overrides})


def corpus_batches(seq_len=16):
    return gpt.CorpusBatches(_tangram.MarkovCorpus(seed=3, alphabet=32, branching=4,
                                                   seq_len=seq_len))


def max_param_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a.parameters(), b.parameters()))


def run_sim_ranks(ranks, rank_main, name):
    """Runs rank_main(r) for r in [0, ranks) as threads (the "sim" transport's ranks); prints
    "NAME: N sim ranks OK", or every rank's error and exits 1."""
    errors = []

    def run(r):
        try:
            rank_main(r)
        except BaseException as e:  # noqa: B902 (reported below, with its rank)
            errors.append(f"rank {r}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=run, args=(r,)) for r in range(ranks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("\n".join(sorted(errors)), flush=True)
        sys.exit(1)
    print(f"{name}: {ranks} sim ranks OK", flush=True)
