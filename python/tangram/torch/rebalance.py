"""Layer moves at a re-plan: when new stage boundaries give a block to another rank, its module
state and optimizer state travel there, without a restart (docs/torch-pipeline.md).

The protocol is the C++ runtime's (orchestrator/runtime/layer_mover.h): every move is (layer,
from, to), computed identically on every rank from the old and the new plan; a sender encodes the
layer once and starts its sends (non-blocking), then every rank receives its layers in (layer,
replica) order, then the sends complete. The encoding is the checkpoint's (a safetensors file,
the C++ encoder), so what moves and what a checkpoint stores can never disagree.

Replica j's new owner receives from replica j's old owner, or from replica 0's when the new plan
has more replicas than the old (every replica holds the same weights after a step).
"""

from tangram import _tangram
from tangram.torch.checkpoint import export_layer, import_layer

_TAG_MOVE = 41


def plan_moves(old, new):
    """[(layer, src rank, dst rank)] for every block whose rank changes, in (layer, replica)
    order. `old`, `new`: PipelinePlan with the same number of layers."""
    moves = []
    for layer in range(new.num_layers):
        for j in range(new.dp):
            src = old.owner(layer, j if j < old.dp else 0)
            dst = new.owner(layer, j)
            if src != dst:
                moves.append((layer, src, dst))
    return moves


def move_layers(pipe, old, new, optimizer=None):
    """Moves every block `pipe`'s rank sends or receives from `old` to `new`. Collective."""
    p2p = pipe.p2p
    moves = plan_moves(old, new)
    encoded = {}
    sends = []
    for layer, src, dst in moves:
        if src != p2p.rank:
            continue
        if layer not in encoded:
            name, block = pipe.named_blocks[layer]
            tensors, metadata = export_layer(block, f"{name}.", pipe.layer_name(layer), optimizer)
            encoded[layer] = _tangram.encode_safetensors(tensors, metadata)
        sends.append(p2p.isend_bytes(encoded[layer], dst, _TAG_MOVE))
    for layer, src, dst in moves:
        if dst != p2p.rank:
            continue
        data = p2p.recv_bytes(src, _TAG_MOVE)
        metadata, tensors = _tangram.decode_safetensors(data, f"rank {src} (layer {layer})")
        name, block = pipe.named_blocks[layer]
        import_layer(block, f"{name}.", metadata, tensors, optimizer, f"rank {src}")
    p2p.wait_all(sends)
    return moves
