"""One search over several processes: the launcher (torchrun, ``torch.distributed.run``).

The collective primitives the loops use live beneath the training layer, in
:mod:`core.train.dist_ops` (through the :mod:`core.train.collectives` strategy); the service
layer (:mod:`core.api.runs`) joins and leaves the process group through them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

import torch

from core.errors import PresnetError


# -- launch ---------------------------------------------------------------------------------------
def launch(nproc: int, entry: Sequence[str]) -> int:
    """Run ``python *entry`` (e.g. ``["-m", "a.module", "arg"]``: the caller names its own entry point)
    as ``nproc`` ranks on this node through torchrun's launcher (``torch.distributed.run``, standalone
    rendezvous on a free port); returns rank 0's exit code (or the first failed rank's).
    Several nodes: run ``torchrun`` yourself (README).

    A signal to the launcher (Ctrl+C; SIGTERM, SIGUSR1 or SIGHUP from a scheduler) is passed on to every
    rank by torchrun; the ranks checkpoint at one agreed step and the launcher exits as a single worker
    would: 130 for Ctrl+C, 143 for a preemption (the code a job script's requeue line tests).  torchrun
    handles SIGUSR1 -- SLURM's ``--signal=USR1@...`` -- only if told: otherwise it would kill the launcher
    and leave the ranks to its SIGKILL."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    os.environ.setdefault("TORCHELASTIC_SIGNALS_TO_HANDLE", "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1")
    try:
        torchrun(["--standalone", "--nproc-per-node", str(nproc), *entry])
    except ChildFailedError as err:
        failure = err.failures.get(0) or next(iter(err.failures.values()))
        return failure.exitcode if failure.exitcode > 0 else 1
    except SignalException as err:  # passed on to the workers, which checkpointed and said so
        return 130 if err.sigval == signal.SIGINT else 143
    return 0


def check_nproc(nproc: int, device: str) -> None:
    """Before launching: a CUDA run needs one GPU per process on this node."""
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda and nproc > torch.cuda.device_count():
        raise PresnetError(
            f"{nproc} processes need {nproc} GPUs, this node has {torch.cuda.device_count()}",
            where="--nproc",
            hint=f"use --nproc {max(torch.cuda.device_count(), 1)} or --device cpu",
        )
