"""Checkpoints per layer in the safetensors layout, written and read by the C++ code
(orchestrator/model/checkpoint.h; docs/checkpoints.md, docs/torch-pipeline.md).

    tangram.torch.save_checkpoint(pipe, optimizer, "ckpt", step)     # every rank
    step = tangram.torch.load_checkpoint(pipe, optimizer, "ckpt")   # every rank, any plan

A layer is one block of the pipeline (or one top-level child of a plain module, and the module's
own parameters and buffers outside its children as one more layer, "_module"). Its file holds
the block's state_dict under the model's own keys ("3.weight" for block 3 of an nn.Sequential),
so `safetensors` / Hugging Face tools load the weights directly, and the optimizer's per-parameter
state beside them ("optimizer.exp_avg.3.weight", ...). Non-tensor optimizer state and the
optimizer's hyperparameters are JSON in the metadata. The manifest is committed last by rank 0
(temp + fsync + rename), after every writer has succeeded; a failure on any rank raises on every
rank. Because files are per layer, a checkpoint resumes under any plan or rank count.
"""

import json

import torch

from tangram import _tangram
from tangram.torch import _args
from tangram.torch._p2p import P2P

_TAG_INFO = 31
_TAG_AGREE = 32

_ST_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}
_TORCH_DTYPES = {v: k for k, v in _ST_DTYPES.items()}
_LAYER_FORMAT = "tangram-torch-layer"


def tensor_entry(name, tensor):
    """(name, dtype, shape, bytes) of a CPU copy of `tensor` (little-endian, row-major)."""
    t = tensor.detach().to("cpu").contiguous()
    if t.dtype not in _ST_DTYPES:
        raise TypeError(f"tangram: cannot checkpoint {name}: unsupported dtype {t.dtype}")
    raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
    return (name, _ST_DTYPES[t.dtype], list(t.shape), raw.numpy().tobytes())


def entry_tensor(entry):
    name, dtype, shape, data = entry
    torch_dtype = _TORCH_DTYPES[dtype]
    if len(data) == 0:
        return torch.empty(shape, dtype=torch_dtype)
    if torch_dtype == torch.bfloat16:
        return torch.frombuffer(bytearray(data), dtype=torch.int16).view(torch.bfloat16) \
            .reshape(shape).clone()
    return torch.frombuffer(bytearray(data), dtype=torch_dtype).reshape(shape).clone()


def export_layer(block, prefix, layer, optimizer=None):
    """A layer's (tensors, metadata): module state under `prefix`, optimizer state beside it."""
    tensors = [tensor_entry(prefix + k, v) for k, v in block.state_dict().items()]
    scalars = {}
    if optimizer is not None:
        for pname, p in block.named_parameters():
            for key, value in optimizer.state.get(p, {}).items():
                if isinstance(value, torch.Tensor):
                    tensors.append(tensor_entry(f"optimizer.{key}.{prefix}{pname}", value))
                else:
                    _check_scalar(optimizer, key, prefix + pname, value)
                    scalars.setdefault(prefix + pname, {})[key] = value
    metadata = {"format": _LAYER_FORMAT, "layer": layer, "prefix": prefix,
                "optimizer_scalars": json.dumps(scalars)}
    if optimizer is not None:
        metadata["optimizer"] = type(optimizer).__name__
        metadata["param_groups"] = json.dumps(
            [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups],
            default=str)
    return tensors, metadata


def _check_scalar(optimizer, key, param, value):
    """A per-parameter optimizer state that is not a tensor goes into the layer file's JSON: say
    which optimizer, state and parameter cannot, rather than JSON's bare "Object of type Tensor is
    not JSON serializable" (LBFGS keeps lists of tensors over the whole flat parameter vector)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"cannot checkpoint {type(optimizer).__name__}'s state {key!r} of parameter {param}: "
            f"a {type(value).__name__} that is neither a tensor nor a JSON value (optimizers "
            f"whose state is per-parameter tensors and numbers are supported; LBFGS's history "
            f"lists are not)") from None


def import_layer(block, prefix, metadata, tensors, optimizer=None, source="checkpoint"):
    """Loads a layer exported by export_layer into `block` (and `optimizer`, when given)."""
    if metadata.get("format") != _LAYER_FORMAT:
        raise ValueError(f"tangram: {source}: not a tangram.torch layer "
                         f"(format {metadata.get('format')!r})")
    by_name = {e[0]: e for e in tensors}
    state = {}
    for key in block.state_dict():
        entry = by_name.get(prefix + key)
        if entry is None:
            raise ValueError(f"tangram: {source}: no tensor {prefix + key}")
        state[key] = entry_tensor(entry)
    block.load_state_dict(state)
    if optimizer is None:
        return
    scalars = json.loads(metadata.get("optimizer_scalars", "{}"))
    for pname, p in block.named_parameters():
        full = prefix + pname
        st = dict(scalars.get(full, {}))
        head = "optimizer."
        for name, entry in by_name.items():
            if name.startswith(head) and name.endswith("." + full):
                key = name[len(head):-len(full) - 1]
                st[key] = entry_tensor(entry).to(p.device)
        if st:
            optimizer.state[p] = st
        else:
            optimizer.state.pop(p, None)


def _layers_of(target):
    """[(index, name, prefix, block)] and the writer of each layer (a rank), for a Pipeline or a
    plain module (each top-level child a layer, written by rank 0)."""
    from tangram.torch.pipeline import Pipeline

    if isinstance(target, Pipeline):
        layers = [(i, target.layer_name(i), f"{n}.", b)
                  for i, (n, b) in enumerate(target.named_blocks)]
        writers = [target.plan.owner(i, 0) for i in range(len(layers))]
        return layers, writers, target.owned_layers
    children = list(target.named_children())
    layers = [(i, n, f"{n}.", b) for i, (n, b) in enumerate(children)]
    own = _OwnState(target)
    if own.state_dict():  # parameters or buffers on the module itself, outside every child
        layers.append((len(layers), _OWN_LAYER, "", own))
    return layers, [0] * len(layers), list(range(len(layers)))


_OWN_LAYER = "_module"


class _OwnState:
    """A plain module's own parameters and persistent buffers (a learned position embedding, an
    attention mask registered on the root), as one more layer: the top-level children do not
    hold them, and a checkpoint of the children alone would resume them from initialisation."""

    def __init__(self, module):
        self.module = module
        self.children = {name for name, _ in module.named_children()}

    def state_dict(self):
        return {k: v for k, v in self.module.state_dict().items()
                if k.split(".", 1)[0] not in self.children}

    def load_state_dict(self, state):
        missing, unexpected = self.module.load_state_dict(state, strict=False)
        missing = [k for k in missing if k.split(".", 1)[0] not in self.children]
        if missing or unexpected:
            raise ValueError(f"tangram: the module's own state does not match the checkpoint "
                             f"(missing {missing}, unexpected {unexpected})")

    def named_parameters(self):
        return self.module.named_parameters(recurse=False)


def save_checkpoint(target, optimizer, directory, step, comm=None, keep=2):
    """Writes step `step` of `target` (a Pipeline, or a module replicated on every rank with
    `comm`) under `directory`. Collective: every rank calls it."""
    step = _args.whole(step, "step", "save_checkpoint", minimum=0)
    optimizer = _unwrapped(optimizer)
    keep = _args.whole(keep, "keep", "save_checkpoint", minimum=1)
    p2p = target.p2p if comm is None else P2P(comm)
    layers, writers, _ = _layers_of(target)
    infos, error = [], None
    try:
        for (i, name, prefix, block), writer in zip(layers, writers):
            if writer == p2p.rank:
                tensors, metadata = export_layer(block, prefix, name, optimizer)
                infos.append(_tangram.write_layer_file(directory, step, name, tensors, metadata))
    except Exception as e:  # reported to every rank below
        error = f"checkpoint on rank {p2p.rank}: {e}"
    _raise_if(p2p.agree(error, _TAG_AGREE))
    if p2p.rank == 0:
        for peer in range(1, p2p.size):
            infos += json.loads(p2p.recv_bytes(peer, _TAG_INFO).decode())
        order = {name: i for i, name, _, _ in layers}
        infos.sort(key=lambda info: order[info["layer"]])
        try:
            _tangram.commit_checkpoint(directory, step, infos, keep)
        except Exception as e:
            error = f"checkpoint commit on rank 0: {e}"
    else:
        p2p.wait_all(p2p.isend_bytes(json.dumps(infos).encode(), 0, _TAG_INFO))
    _raise_if(p2p.agree(error, _TAG_AGREE))


def load_checkpoint(target, optimizer, directory, step=None, comm=None):
    """Loads the latest (or `step`) checkpoint into `target`: every block's weights, and the
    optimizer state of the blocks this rank computes. Returns the checkpoint's step. Every rank
    calls it; a missing or damaged checkpoint raises on every rank, naming the file."""
    if step is not None:
        step = _args.whole(step, "step", "load_checkpoint", minimum=0)
    optimizer = _unwrapped(optimizer)
    p2p = target.p2p if comm is None else P2P(comm)
    error, files = None, None
    try:
        files = _tangram.load_checkpoint_files(directory, -1 if step is None else step)
    except Exception as e:
        error = str(e)
    _raise_if(p2p.agree(error, _TAG_AGREE))
    loaded_step, entries = files
    by_layer = {layer: content for layer, content in entries}
    layers, _, owned = _layers_of(target)
    groups = None
    for i, name, prefix, block in layers:
        if name not in by_layer:
            _raise_if(f"checkpoint {directory} step {loaded_step} has no layer {name}")
        metadata, tensors = by_layer[name]
        import_layer(block, prefix, metadata, tensors, optimizer if i in owned else None,
                     f"{directory} layer {name}")
        groups = groups or metadata.get("param_groups")
    if optimizer is not None and groups:
        saved = json.loads(groups)
        if len(saved) == len(optimizer.param_groups):
            for g, s in zip(optimizer.param_groups, saved):
                for k, v in s.items():
                    if k in g and isinstance(v, (int, float, bool, list)):
                        g[k] = tuple(v) if isinstance(g[k], tuple) else v
    return loaded_step


def _unwrapped(optimizer):
    """The torch optimizer behind a tangram.torch.DistributedOptimizer (its state and class name
    go into the checkpoint), or `optimizer` itself."""
    from tangram.torch.data_parallel import DistributedOptimizer

    return optimizer.optimizer if isinstance(optimizer, DistributedOptimizer) else optimizer


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or read (raised on every rank)."""


def _raise_if(message):
    if message is not None:
        raise CheckpointError(message)
