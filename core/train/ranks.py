"""Where this process sits in a torchrun job, read from the environment (RANK / WORLD_SIZE /
LOCAL_RANK) -- the one place that reads them.

Torch-free on purpose: the front ends ask "am I one rank of several?" before they import the
engine, so that a bad option or a live run directory is refused in well under a second.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class RankInfo:
    """Where this process sits in the job: its rank, how many ranks, its GPU on the node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = RankInfo()


def env_rank() -> RankInfo:
    """The rank torchrun gave this process (RANK / WORLD_SIZE / LOCAL_RANK), or a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    return RankInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def under_torchrun() -> bool:
    """Started by torchrun (or another launcher that sets the same variables) with more than one rank."""
    return env_rank().distributed
