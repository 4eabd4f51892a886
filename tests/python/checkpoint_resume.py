"""Checkpoints of tangram.torch: written per layer in safetensors by the C++ code; resumed on
another rank count and plan, they reach the uninterrupted run's parameters; a file read with a
safetensors reader written here (header + offsets, no torch.load) holds the weights and Adam
moments; a corrupted file is refused by name on every rank.

    mpirun -np 2 /usr/bin/python3 tests/python/checkpoint_resume.py save DIR
    mpirun -np 3 /usr/bin/python3 tests/python/checkpoint_resume.py resume DIR   (then corrupt)
(ctest: torch_checkpoint_save_np2, then torch_checkpoint_resume_np3, a fixture)
"""

import json
import os
import shutil
import struct
import sys

from pipeline_common import (ATOL_ADAM, batch, build_model, communicator, compare, loss_fn,
                             make_optimizer, reference, require_torch_package)

require_torch_package()
import torch  # noqa: E402
from tangram.torch.checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa
from tangram.torch.pipeline import Pipeline, PipelinePlan  # noqa: E402

SAVE_AT = 2
TOTAL = 4


def train(pipe, opt, steps):
    for step in steps:
        x, y = batch(step)
        opt.zero_grad(set_to_none=True)
        pipe.train_step(x, y)
        opt.step()


def save(directory):
    """2 ranks, pp 2 (blocks 0-3 | 4-6), Adam; checkpoint after step 2."""
    comm = communicator()
    if comm.rank == 0:  # a previous run's files
        for d in (directory, f"{directory}-flip", f"{directory}-header"):
            shutil.rmtree(d, ignore_errors=True)
    comm.wait(comm.barrier(60.0))
    model = build_model()
    pipe = Pipeline(model, PipelinePlan([0, 4, 7], [[0], [1]], [10], 4), comm, loss_fn)
    opt = make_optimizer("adam", model.parameters())
    train(pipe, opt, range(SAVE_AT))
    save_checkpoint(pipe, opt, directory, SAVE_AT)


def read_safetensors(path):
    """A minimal safetensors reader: 8-byte little-endian header length, JSON header, data at
    the recorded offsets (F32 only: what this model holds)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", entry
        begin, end = entry["data_offsets"]
        count = (end - begin) // 4
        values = struct.unpack(f"<{count}f", data[base + begin:base + end])
        tensors[name] = torch.tensor(values, dtype=torch.float32).reshape(entry["shape"])
    return header.get("__metadata__", {}), tensors


def resume(directory):
    """3 ranks, another plan: pp 3, blocks 0-1 | 2-4 | 5-6, micro-batches 3 + 3 + 3 + 1."""
    comm = communicator()
    model = build_model(seed=123)  # different initial weights: all must come from the checkpoint
    pipe = Pipeline(model, PipelinePlan([0, 2, 5, 7], [[0], [1], [2]], [10], 3), comm, loss_fn)
    opt = make_optimizer("adam", model.parameters())
    step = load_checkpoint(pipe, opt, directory)
    assert step == SAVE_AT, step
    if comm.rank == 0:
        # Block 0 (a Linear) through the reader above: weights equal the loaded ones, the Adam
        # moments sit beside them.
        meta, tensors = read_safetensors(
            os.path.join(directory, f"step-{SAVE_AT:06d}", "layer-0.safetensors"))
        assert meta["layer"] == "0" and meta["optimizer"] == "Adam", meta
        assert torch.equal(tensors["0.weight"], model[0].weight.detach())
        assert torch.equal(tensors["optimizer.exp_avg.0.weight"],
                           opt.state[model[0].weight]["exp_avg"])
        assert "optimizer.exp_avg_sq.0.bias" in tensors
        print("rank 0: layer-0.safetensors read by the test's own reader: weights and Adam "
              "moments match", flush=True)
    train(pipe, opt, range(SAVE_AT, TOTAL))
    compare(pipe, reference(TOTAL, "adam")[0], ATOL_ADAM, "resume 2 -> 3 ranks")

    # A plain module (a replica on every rank, as under data parallelism): rank 0 writes every
    # top-level child; here only rank 0's own (trained) blocks are compared.
    plain_dir = f"{directory}-plain"
    save_checkpoint(model, opt, plain_dir, TOTAL, comm=comm)
    other = build_model(seed=7)
    other_opt = make_optimizer("adam", other.parameters())
    assert load_checkpoint(other, other_opt, plain_dir, comm=comm) == TOTAL
    for block in pipe.owned_layers if comm.rank == 0 else []:
        for a, b in zip(model[block].parameters(), other[block].parameters()):
            assert torch.equal(a, b)
            assert torch.equal(opt.state[a]["exp_avg"], other_opt.state[b]["exp_avg"])
    comm.wait(comm.barrier(60.0))
    if comm.rank == 0:
        shutil.rmtree(plain_dir, ignore_errors=True)
    own_state(f"{directory}-own", comm)


class WithOwnState(torch.nn.Module):
    """A parameter and a buffer on the module itself, beside a child (a learned position
    embedding, a registered mask): no top-level child holds them."""

    def __init__(self, seed):
        torch.manual_seed(seed)
        super().__init__()
        self.body = torch.nn.Linear(4, 4)
        self.pos = torch.nn.Parameter(torch.randn(4))
        self.register_buffer("scale", torch.randn(4))

    def forward(self, x):
        return (self.body(x) + self.pos) * self.scale


def own_state(directory, comm):
    """A plain module's own parameters and buffers are checkpointed with its children's, Adam
    state included (they were dropped, and a resume took them from initialisation)."""
    model = WithOwnState(seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(2, 4)).sum().backward()
    opt.step()
    save_checkpoint(model, opt, directory, 1, comm=comm)
    other = WithOwnState(seed=2)
    other_opt = torch.optim.Adam(other.parameters(), lr=0.1)
    assert load_checkpoint(other, other_opt, directory, comm=comm) == 1
    for key, value in model.state_dict().items():
        assert torch.equal(value, other.state_dict()[key]), key
    assert torch.equal(opt.state[model.pos]["exp_avg"], other_opt.state[other.pos]["exp_avg"])
    comm.wait(comm.barrier(60.0))
    if comm.rank == 0:
        shutil.rmtree(directory, ignore_errors=True)
        print("rank 0: a module's own parameter and buffer resume from the checkpoint", flush=True)


def fnv1a64(data):
    h = 14695981039346656037
    for c in data:
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def corrupt(directory):
    """A flipped data byte (the manifest's checksum catches it) and a malformed header with a
    consistent manifest (the safetensors validation catches it): both refused naming the file,
    on every rank."""
    comm = communicator()
    model = build_model()
    pipe = Pipeline(model, PipelinePlan([0, 2, 5, 7], [[0], [1], [2]], [10], 3), comm, loss_fn)
    opt = make_optimizer("adam", model.parameters())
    step_dir = f"step-{SAVE_AT:06d}"
    for kind in ("flip", "header"):
        copy = f"{directory}-{kind}"
        if comm.rank == 0:
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(directory, copy)
            path = os.path.join(copy, step_dir, "layer-4.safetensors")
            data = bytearray(open(path, "rb").read())
            if kind == "flip":
                data[-5] ^= 0x40
            else:
                (n,) = struct.unpack("<Q", data[:8])
                header = json.loads(data[8:8 + n])
                header["4.weight"]["data_offsets"][1] += 4  # overlaps the next tensor
                text = json.dumps(header).encode()
                data = bytearray(struct.pack("<Q", len(text)) + text + bytes(data[8 + n:]))
                manifest_path = os.path.join(copy, step_dir, "MANIFEST.json")
                manifest = json.load(open(manifest_path))
                for entry in manifest["layers"]:
                    if entry["file"] == "layer-4.safetensors":
                        entry["bytes"] = len(data)
                        entry["fnv1a64"] = f"{fnv1a64(bytes(data)):016x}"
                json.dump(manifest, open(manifest_path, "w"))
            open(path, "wb").write(bytes(data))
        comm.wait(comm.barrier(60.0))
        try:
            load_checkpoint(pipe, opt, copy)
        except CheckpointError as e:
            msg = str(e)
            assert "layer-4.safetensors" in msg and "DATA_LOSS" in msg, msg
            print(f"rank {comm.rank}: {kind}: refused: {msg}", flush=True)
        else:
            print(f"rank {comm.rank}: FAIL {kind}: a corrupted checkpoint loaded", flush=True)
            sys.exit(1)
        comm.wait(comm.barrier(60.0))
        if comm.rank == 0:
            shutil.rmtree(copy, ignore_errors=True)


if __name__ == "__main__":
    phase, directory = sys.argv[1], sys.argv[2]
    if phase == "save":
        save(directory)
    else:
        resume(directory)
        print("PASS resume", flush=True)
        corrupt(directory)
    print(f"PASS {phase}", flush=True)
