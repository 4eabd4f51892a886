"""A small GPT in plain PyTorch (token + position embedding, causal self-attention, GELU MLP, LM
head), and the shipped Markov corpus as tensors. Used by train_gpt.py, the tests and the
benchmark; nothing here depends on Tangram's training code.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, x):
        b, t, h = x.shape
        q, k, v = self.qkv(x).split(h, dim=2)
        q = q.view(b, t, self.heads, h // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, h // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, h // self.heads).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(h // self.heads)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
        y = F.softmax(scores, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, h))


class Block(nn.Module):
    def __init__(self, hidden, heads, ffn_hidden):
        super().__init__()
        self.ln1 = nn.LayerNorm(hidden)
        self.attn = CausalSelfAttention(hidden, heads)
        self.ln2 = nn.LayerNorm(hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, ffn_hidden), nn.GELU(),
                                 nn.Linear(ffn_hidden, hidden))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Embedding(nn.Module):
    def __init__(self, vocab, hidden, seq_len):
        super().__init__()
        self.tok = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(seq_len, hidden)

    def forward(self, idx):
        t = idx.shape[1]
        return self.tok(idx) + self.pos(torch.arange(t, device=idx.device))


class Head(nn.Module):
    def __init__(self, hidden, vocab):
        super().__init__()
        self.ln = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, vocab, bias=False)

    def forward(self, x):
        return self.out(self.ln(x))


def gpt(layers=4, hidden=128, heads=4, ffn_hidden=512, vocab=256, seq_len=64, **unused):
    """The GPT as an nn.Sequential (embedding, blocks, head): splittable at block boundaries."""
    return nn.Sequential(Embedding(vocab, hidden, seq_len),
                         *[Block(hidden, heads, ffn_hidden) for _ in range(layers)],
                         Head(hidden, vocab))


def lm_loss(logits, targets):
    """Mean next-token cross-entropy over the batch's tokens."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


class CorpusBatches:
    """Samples of the shipped Markov corpus (orchestrator/model/corpus.h) as int64 tensors:
    sample i is the same on every rank and in the C++ runtime."""

    def __init__(self, corpus):
        self.corpus = corpus
        self.seq_len = corpus.seq_len

    def batch(self, indices):
        n = len(indices)
        inputs = torch.empty(n, self.seq_len, dtype=torch.int32)
        targets = torch.empty(n, self.seq_len, dtype=torch.int32)
        for row, i in enumerate(indices):
            self.corpus.fill(int(i), inputs[row].data_ptr(), targets[row].data_ptr())
        return inputs.long(), targets.long()
