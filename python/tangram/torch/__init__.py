"""tangram.torch: train a PyTorch nn.Module on a mixed fleet with Tangram's plan (docs/torch.md).

    import tangram.torch as tt
    tt.init(job="configs/jobs/local-torch-gpt.yaml")          # under mpirun
    plan = tt.calibrate_and_plan(lambda: loss_of(model, sample), batch_size=n, module=model)
    if tt.rank() == 0: print(plan.text)
    dp = tt.DataParallel(model, plan)
    opt = tt.DistributedOptimizer(torch.optim.AdamW(model.parameters()), dp)
    sampler = tt.ShareSampler(dp)
    for step in range(steps):
        idx = sampler.next_indices()                            # this rank's share
        loss = loss_fn(dp(x[idx]), y[idx]); opt.zero_grad(); loss.backward(); opt.step()
"""

from tangram.errors import ArgumentError, ArgumentTypeError, TangramError
from tangram.torch.context import (Context, current, init, rank, shutdown, sim_world, size)
from tangram.torch.collectives import (Handle, allgather, allgather_object, allgatherv,
                                       allreduce, barrier, broadcast, broadcast_object,
                                       broadcast_parameters, recv, reduce_scatter, send)
from tangram.torch.planning import (Plan, calibrate, calibrate_and_plan, catalog_plan,
                                    measure_links, plan_from_reports)
from tangram.torch.data_parallel import DataParallel, DistributedOptimizer, ShareSampler
from tangram.torch.emulation import Stretch
from tangram.torch.pipeline import Pipeline, PipelineError, PipelinePlan
from tangram.torch.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def set_slowdown(factor):
    """EMULATION: from now on this rank's compute is stretched `factor` times (1 = none)."""
    from tangram.torch.context import check_slowdown
    current().slowdown = check_slowdown(factor, "set_slowdown")


def slowdown():
    """This rank's EMULATION factor."""
    return current().slowdown


__all__ = [
    "TangramError", "ArgumentError", "ArgumentTypeError", "Context", "current", "init", "rank",
    "shutdown", "sim_world", "size",
    "Handle", "allgather", "allgather_object", "allgatherv", "allreduce", "barrier", "broadcast",
    "broadcast_object", "broadcast_parameters", "recv", "reduce_scatter", "send", "Plan",
    "calibrate", "calibrate_and_plan", "catalog_plan", "measure_links", "plan_from_reports",
    "DataParallel",
    "DistributedOptimizer", "ShareSampler", "Stretch", "set_slowdown", "slowdown",
    "Pipeline", "PipelineError", "PipelinePlan", "CheckpointError", "load_checkpoint",
    "save_checkpoint",
]
