"""One search over several processes: the launcher (torchrun, ``torch.distributed.run``).

The collective primitives the loops use live beneath the training layer, in
:mod:`core.train.dist_ops` (through the :mod:`core.train.collectives` strategy); the service
layer (:mod:`core.api.runs`) joins and leaves the process group through them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from core.errors import PresnetError


# -- launch ---------------------------------------------------------------------------------------
def launch(nproc: int, entry: Sequence[str]) -> int:
    """Run ``python *entry`` (e.g. ``["-m", "a.module", "arg"]``: the caller names its own entry point)
    as ``nproc`` ranks on this node through torchrun's launcher (``torch.distributed.run``, standalone
    rendezvous on a free port); returns rank 0's exit code (or the first failed rank's).
    Several nodes: run ``torchrun`` yourself (README)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    try:
        torchrun(["--standalone", "--nproc-per-node", str(nproc), *entry])
    except ChildFailedError as err:
        failure = err.failures.get(0) or next(iter(err.failures.values()))
        return failure.exitcode if failure.exitcode > 0 else 1
    except SignalException:  # Ctrl+C: torchrun passed it to the workers, which checkpointed and said so
        return 130
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
