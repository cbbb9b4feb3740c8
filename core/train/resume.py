"""A resume's first step: the run's checkpoints read (as typed sections, core.train.checkpoints) and
checked against this run's network, space, architecture and world size; only then is the event file
cut back to what the newest checkpoint knew, and the writes the last owner died in are removed."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Config
from core.errors import PresnetError
from core.run.checkpoint import load_checkpoint
from core.run.events import repair_events
from core.run.rundir import RunDir
from core.space.arch import Architecture, load_arch
from core.space.network import net_spec
from core.train.checkpoints import RetrainCheckpoint, SearchCheckpoint
from core.train.collectives import Collectives
from core.train.retrain_loop import retrain_fingerprint
from core.train.search_loop import search_fingerprint


@dataclass(frozen=True)
class ResumePoint:
    """The checkpoints a resumed job continues from (either may be missing)."""

    search: SearchCheckpoint | None = None
    retrain: RetrainCheckpoint | None = None


def resume_point(
    run: RunDir, config: Config, arch: Architecture | None, num_classes: int, coll: Collectives
) -> ResumePoint:
    """The run's checkpoints, each checked against this run; a checkpoint of another world size is refused
    (the data shards and the global batch depend on it).  Rank 0 then repairs the run directory (we hold its lock)."""
    search = retrain = None
    if run.search_ckpt.exists():
        stages = config.progressive_stages()
        fingerprint = search_fingerprint(net_spec(config, num_classes), config.search_space(), stages)
        search = SearchCheckpoint.of(load_checkpoint(run.search_ckpt, "search", fingerprint))
    if run.retrain_ckpt.exists():
        fingerprint = retrain_fingerprint(arch or load_arch(run.retrain_arch_file))
        retrain = RetrainCheckpoint.of(load_checkpoint(run.retrain_ckpt, "retrain", fingerprint))
    newest = retrain or search
    head = newest.head.header if newest is not None else None
    world = coll.world_size
    if head is not None and head.world_size != world:
        was = head.world_size
        raise PresnetError(
            f"the checkpoint was written by {was} process(es), this resume runs {world}",
            where=str(run.path),
            hint=f"resume with --nproc {was} (the data shards and the global batch depend on it)",
        )
    if coll.is_main:
        repair_events(run.events_file, head.events_offset if head else 0)
        for folder in (run.checkpoints, run.weights):  # writes the last owner died in
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
    return ResumePoint(search, retrain)
