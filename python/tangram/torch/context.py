"""Start-up: which rank this process is, its communicator, and the job it trains.

One Context per rank. Under mpirun (transport "mpi" or "nccl") there is one per process; with the
"sim" transport every rank is a thread of one process and each thread has its own (see
`tangram.torch.sim_world`), so the module-level functions (rank(), allreduce(), ...) act on the
calling thread's context.
"""

import atexit
import os
import threading

from tangram import _tangram
from tangram.errors import ArgumentError, TangramError
from tangram.torch import _args

_local = threading.local()
_process_context = None
_lock = threading.Lock()


class Context:
    """This rank's view of the job.

    Attributes:
        comm: the `_tangram.Communicator` (worker thread over the C++ Communicator).
        rank, size: this rank and the number of ranks.
        transport: "mpi", "nccl" or "sim".
        job: the `_tangram.Job` (job file, its fleet and model), or None.
        slowdown: this rank's EMULATION factor (the fleet file's emulate_slowdown of device
            `rank`, or the override given to init); 1.0 means none.
        timeout: default deadline of each communication call, in seconds: init's timeout, or
            STEPS_PER_DEADLINE (3) predicted steps of the plan this rank trains with when that
            is longer (adopt_plan; the rule of `tangram train`).
        user_timeout: init's timeout (the deadline without a plan, and its floor).
        plan: the plan this rank trains with (the last one adopted), or None.
        deadline_log: each move of `timeout` by a plan, as rank 0 prints it.
    """

    def __init__(self, comm, job, slowdown, timeout):
        self.comm = comm
        self.rank = comm.rank
        self.size = comm.size
        self.transport = comm.transport
        self.job = job
        self.slowdown = float(slowdown)
        self.user_timeout = float(timeout)
        self.timeout = self.user_timeout
        self.plan = None
        self.links = None  # measure_links's measurements (a LinkMeasurements), planned with
        self.deadline_log = []  # each move of the deadline, as rank 0 prints it
        self.failed = None  # the first communication failure (TangramError), if any

    def adopt_plan(self, plan):
        """This rank now trains with `plan`: its calls' deadline becomes the plan's (below). The
        planning functions call it; DataParallel calls it when it takes a re-plan."""
        self.plan = plan
        self.set_deadline()

    def set_deadline(self):
        """The calls' deadline for the adopted plan: init's timeout, or STEPS_PER_DEADLINE times
        the plan's predicted step when longer. A gradient allreduce waits for the slowest replica's
        whole step, so over slow links a healthy step can outlast a timeout meant to catch a dead
        peer. Said on rank 0 when it moves."""
        predicted = self.plan.predicted_step_time_s if self.plan is not None else 0.0
        deadline = _tangram.step_deadline(self.user_timeout, predicted)
        if deadline == self.timeout:
            return
        self.timeout = deadline
        if deadline > self.user_timeout:
            line = (f"calls' deadline {deadline:.0f} s: {_tangram.STEPS_PER_DEADLINE:.0f} x the "
                    f"plan's predicted {predicted:.3f} s step, longer than "
                    f"init(timeout={self.user_timeout:g}) (a healthy step on these links would "
                    f"outlast it)")
        else:
            line = f"calls' deadline back to init(timeout={self.user_timeout:g})"
        self.deadline_log.append(line)
        if self.rank == 0:
            print(f"tangram: {line}", flush=True)

    def shutdown(self):
        if self.failed is not None and self.transport in ("mpi", "nccl"):
            # A timed-out or aborted MPI call may still be in flight inside the MPI library (a
            # native collective cannot be cancelled); finalising would progress it on freed
            # buffers or wait for a dead peer. The job has failed: leave without MPI_Finalize.
            import sys
            print(f"tangram: rank {self.rank}: communication failed ({self.failed}); exiting "
                  f"with status 1 without MPI_Finalize", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(1)
        self.comm.shutdown()


def _default_transport(job):
    if job is not None and job.transport in ("mpi", "nccl"):
        return job.transport
    return "mpi"


def _slowdown_for(job, rank, override):
    if override is not None:
        return float(override)
    env = os.environ.get("TANGRAM_EMULATE_SLOWDOWN")
    if env:
        return _slowdown_from_env(env, rank)
    if job is not None:
        slowdowns = job.slowdowns
        if rank < len(slowdowns):
            return float(slowdowns[rank])
    return 1.0


def _slowdown_from_env(env, rank):
    """Rank `rank`'s factor from TANGRAM_EMULATE_SLOWDOWN ("3" for every rank, or "1,1,3,6" one
    per rank): a clear ArgumentError naming the variable, not a bare ValueError or IndexError."""
    parts = [p.strip() for p in env.split(",")]
    where = "TANGRAM_EMULATE_SLOWDOWN"
    if len(parts) > 1 and rank >= len(parts):
        raise ArgumentError(f"{where}={env!r}: {len(parts)} factors, none for rank {rank} "
                            "(give one factor for every rank, or one for all)")
    text = parts[rank] if len(parts) > 1 else parts[0]
    try:
        value = float(text)
    except ValueError:
        raise ArgumentError(f"{where}={env!r}: {text!r} is not a number") from None
    return _args.number(value, f"rank {rank}'s factor", where, minimum=1)


_DEFAULT_TIMEOUT = 120.0


def init(job=None, transport=None, timeout=None, slowdown=None, sim_world=None, rank=None,
         cuda_device=-1):
    """Starts this rank and returns its Context.

    Args:
        job: path of a job file (configs/jobs/*.yaml) or a loaded `_tangram.Job`; None for
            collectives only (no planning, no emulation).
        transport: "mpi" (one process per rank under mpirun), "nccl" (CUDA tensors; needs a build
            with NCCL), or "sim" (ranks as threads, with sim_world and rank). None: the job's
            transport when it is mpi or nccl, else "mpi".
        timeout: deadline of each communication call in seconds (default 120); past it the call
            raises TangramError with code DEADLINE_EXCEEDED.
        slowdown: EMULATION factor for this rank, overriding the fleet file's emulate_slowdown
            (also settable with TANGRAM_EMULATE_SLOWDOWN="1,1,3,6").
        sim_world, rank: for transport "sim", the world (`sim_world(n)`) and this thread's rank.
        cuda_device: for "nccl", the CUDA device (-1: the local rank on its host).

    Under mpirun a process has one context: a later init() returns it, after taking the job,
    timeout and slowdown that call gives (a job only when the context has none or the same).

    Raises:
        TangramError: the job file is invalid (INVALID_ARGUMENT, naming file, line and field),
            the transport is not built (UNIMPLEMENTED) or cannot start (FAILED_PRECONDITION).
    """
    global _process_context
    _check_init_arguments(job, timeout, slowdown, cuda_device)
    given_timeout, timeout = timeout, _DEFAULT_TIMEOUT if timeout is None else timeout
    if isinstance(job, (str, os.PathLike)):
        job = _tangram.load_job(os.fspath(job))
    if transport is None:
        transport = "sim" if sim_world is not None else _default_transport(job)
    if transport == "sim":
        if sim_world is None or rank is None:
            raise TangramError("INVALID_ARGUMENT",
                               "init(transport='sim') needs sim_world=... and rank=...")
        comm = sim_world.communicator(_args.whole(rank, "rank", "init", minimum=0), timeout)
    elif transport in ("mpi", "nccl"):
        with _lock:
            if _process_context is not None:
                return _refine(_process_context, job, transport, given_timeout, slowdown)
            comm = _tangram.Communicator.create(transport, timeout, cuda_device)
    else:
        raise TangramError("INVALID_ARGUMENT",
                           f"init: unknown transport '{transport}' (known: mpi, nccl, sim)")
    ctx = Context(comm, job, _slowdown_for(job, comm.rank, slowdown), timeout)
    if transport == "sim":
        _local.context = ctx
    else:
        _process_context = ctx
        atexit.register(shutdown)
        _exit_on_uncaught(ctx)
    return ctx


def _refine(ctx, job, transport, timeout, slowdown):
    """A second init() in a process: the context it already has, with what this call adds. It
    used to return the first context unchanged, dropping this call's job (planning then said
    "planning needs init(job=...)"), timeout and slowdown without a word."""
    if transport is not None and transport != ctx.transport:
        raise TangramError("FAILED_PRECONDITION",
                           f"init(transport='{transport}'): this process was already started "
                           f"with transport '{ctx.transport}' (a process has one context)")
    if job is not None:
        if ctx.job is not None and os.path.abspath(ctx.job.path) != os.path.abspath(job.path):
            raise TangramError(
                "FAILED_PRECONDITION",
                f"init(job='{job.path}'): this process was already started with job "
                f"'{ctx.job.path}' (a process has one context and one job)")
        if ctx.job is None:
            ctx.job = job
            if slowdown is None:
                ctx.slowdown = _slowdown_for(job, ctx.rank, None)
    if timeout is not None:
        ctx.user_timeout = float(timeout)
        ctx.set_deadline()
    if slowdown is not None:
        ctx.slowdown = float(slowdown)
    return ctx


def _check_init_arguments(job, timeout, slowdown, cuda_device):
    """init()'s arguments, before anything starts (a timeout of another type failed inside pybind
    with a list of C++ signatures)."""
    if job is not None and not isinstance(job, (str, os.PathLike, _tangram.Job)):
        raise _args.ArgumentTypeError(
            f"init: job must be a job file's path or a loaded tangram._tangram.Job, got "
            f"{job!r} ({type(job).__name__})")
    if timeout is not None:
        _args.seconds(timeout, "timeout", "init")
    if slowdown is not None:
        check_slowdown(slowdown, "init")
    _args.whole(cuda_device, "cuda_device", "init", minimum=-1)


def check_slowdown(factor, where):
    """An EMULATION factor: a number >= 1 (1 = none; a rank cannot be emulated faster, and a
    factor below 1 would be reported while the clock counted 1)."""
    return _args.number(factor, "slowdown", where, minimum=1)


def _exit_on_uncaught(ctx):
    """An uncaught exception on an mpirun rank ends the process at once, without MPI_Finalize:
    mpirun then ends the whole job. Finalising instead waits for the other ranks, which wait in
    their next collective for this one until their timeout (two minutes by default)."""
    import sys
    previous = sys.excepthook

    def hook(kind, value, traceback):
        previous(kind, value, traceback)
        if ctx is _process_context:  # not after shutdown(): MPI is finalised
            print(f"tangram: rank {ctx.rank}: uncaught {kind.__name__}; exiting with status 1 "
                  f"without MPI_Finalize, so that mpirun ends the other ranks now",
                  file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(1)

    sys.excepthook = hook


def sim_world(ranks, timeout=30.0):
    """A world of `ranks` ranks as threads of this process (for tests): start one thread per rank
    and call init(transport="sim", sim_world=world, rank=r) in each."""
    return _tangram.SimWorld(_args.whole(ranks, "ranks", "sim_world", minimum=1),
                             _args.seconds(timeout, "timeout", "sim_world"))


def current():
    """The calling rank's Context; raises TangramError(FAILED_PRECONDITION) before init()."""
    ctx = getattr(_local, "context", None) or _process_context
    if ctx is None:
        raise TangramError("FAILED_PRECONDITION", "tangram.torch.init() was not called")
    return ctx


def shutdown():
    """Finishes queued calls and releases the communicator (also run at exit)."""
    global _process_context
    ctx = getattr(_local, "context", None)
    if ctx is not None:
        _local.context = None
        ctx.shutdown()
        return
    with _lock:
        ctx, _process_context = _process_context, None
    if ctx is not None:
        ctx.shutdown()


def rank():
    return current().rank


def size():
    return current().size
