"""One search over several processes: the launcher (torchrun, ``torch.distributed.run``).

The collective primitives the loops use live beneath the training layer, in
:mod:`core.train.dist_ops` (through the :mod:`core.train.collectives` strategy); they are
re-exported here for the callers that knew them in this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from core.errors import PresnetError
from core.train.dist_ops import (  # noqa: F401  (re-exported: the primitives' old home)
    BUCKET_BYTES,
    SINGLE,
    RankDrift,
    RankInfo,
    SyncedControl,
    average_,
    average_gate_gradients,
    average_gradients,
    broadcast_buffers,
    broadcast_object,
    check_agreement,
    check_sync_bn,
    checksum,
    control_every,
    current,
    env_rank,
    fold_meter,
    gather_digests,
    gather_objects,
    gradient_hook,
    init,
    max_,
    mean_over_ranks,
    on_main,
    state_digest,
    sync_batchnorm,
    teardown,
    under_torchrun,
)


# -- launch ---------------------------------------------------------------------------------------
def launch(nproc: int, args: Sequence[str], module: str = "presnet_tui.cli") -> int:
    """Run ``python -m module *args`` as ``nproc`` ranks on this node through torchrun's launcher
    (``torch.distributed.run``, standalone rendezvous on a free port); returns rank 0's exit code
    (or the first failed rank's).  Several nodes: run ``torchrun`` yourself (README)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    try:
        torchrun(["--standalone", "--nproc-per-node", str(nproc), "-m", module, *args])
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
