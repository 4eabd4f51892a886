"""The clock compute is measured with (calibration and re-balancing).

CPU modules: the calling thread's CPU time (time.thread_time), times the rank's EMULATION factor.
Ranks that share cores (with each other or with other jobs) are descheduled at random; wall time
would charge that to whichever rank it hit, CPU time charges each rank only its own work, and the
slowdown then stretches it exactly as training's Stretch does. Forward and backward of a CPU
module run on the calling thread (autograd runs CPU graphs on it), and the communication worker
thread's polling is not counted. CUDA modules: wall time (the work is on the device), and the
EMULATION sleeps are then part of what it measures, so no factor is applied.
"""

import time


class ComputeClock:
    def __init__(self, on_cuda):
        self.on_cuda = on_cuda

    def now(self):
        return time.perf_counter() if self.on_cuda else time.thread_time()

    def seconds(self, start, end, slowdown):
        """Compute seconds between two now() readings, as a device `slowdown` times slower."""
        elapsed = max(0.0, end - start)
        return elapsed if self.on_cuda else elapsed * max(1.0, float(slowdown))


def for_module(module):
    on_cuda = module is not None and any(p.is_cuda for p in module.parameters())
    return ComputeClock(on_cuda)
