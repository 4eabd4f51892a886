"""EMULATION of a slower device on an ordinary CPU rank, for one-machine demos and benchmarks.

A rank with slowdown k stretches its compute k times: after each piece of forward or backward
work it sleeps (k - 1) times that piece's duration, so its gradient reductions start as late as
they would on a device k times slower. The factor comes from the fleet file's emulate_slowdown
(configs/fleets/local-cpu.yaml) or from tangram.torch.set_slowdown; it is emulation, not a
property of any device, and is reported as such. The same Stretch is applied to the
DistributedDataParallel ranks of bench/torch_vs_ddp.sh, so the comparison is fair.
"""

import time

import torch


class Stretch:
    """Stretches `module`'s forward and backward by factor() (read at every piece of work).

    Forward: one piece (pre-hook to hook). Backward: the pieces between consecutive parameter
    gradients, starting when the gradient of the module's output arrives.
    """

    def __init__(self, module, factor):
        self._factor = factor
        self._forward_start = None
        self._mark = None
        self.stretched_s = 0.0  # seconds slept so far (EMULATION)
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)
        for p in module.parameters():
            if p.requires_grad:
                p.register_hook(self._grad)

    def _sleep_since(self, start):
        k = float(self._factor())
        if k > 1.0 and start is not None:
            extra = (time.perf_counter() - start) * (k - 1.0)
            time.sleep(extra)
            self.stretched_s += extra

    def _pre(self, module, inputs):
        self._forward_start = time.perf_counter()

    def _post(self, module, inputs, output):
        self._sleep_since(self._forward_start)
        self._mark = None
        first = _first_grad_tensor(output)
        if first is not None:
            first.register_hook(self._backward_start)
        return None

    def _backward_start(self, grad):
        self._mark = time.perf_counter()

    def _grad(self, grad):
        if self._mark is None:  # output gradient hook missed (output not a tensor): start now
            self._mark = time.perf_counter()
            return None
        self._sleep_since(self._mark)
        self._mark = time.perf_counter()
        return None


def _first_grad_tensor(output):
    if isinstance(output, torch.Tensor):
        return output if output.requires_grad else None
    if isinstance(output, (list, tuple)):
        for o in output:
            t = _first_grad_tensor(o)
            if t is not None:
                return t
    if isinstance(output, dict):
        for o in output.values():
            t = _first_grad_tensor(o)
            if t is not None:
                return t
    return None
