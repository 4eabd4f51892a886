"""Tangram: training on mixed accelerator fleets.

The C++ core (planner, collectives) is the `_tangram` extension; `tangram.torch` is the PyTorch
front end (docs/torch.md).
"""

from tangram.errors import TangramError
from tangram import _tangram

__all__ = ["TangramError"]
