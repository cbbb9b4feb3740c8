"""What a choice of scope and candidates costs, before anything is built for real: the facts
``presnet inspect`` and the setup screen show."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.space import SearchSpace
from core.space.network import NetSpec, SearchNet, build_plain, count_params


@dataclass(frozen=True)
class SupernetFacts:
    """What a choice of scope and candidates costs: the facts ``presnet inspect`` and the setup screen show."""

    block_ids: tuple[int, ...]
    stages: list[int]
    kernels: tuple[int, ...]
    activations: tuple[str, ...]
    choices_per_block: int
    architectures: int
    supernet_params: int
    baseline_params: int


def supernet_facts(space: SearchSpace, spec: NetSpec | None = None) -> SupernetFacts:
    """Sizes of the super-network and the plain network, built on the meta device (no memory, no time)."""
    spec = spec or NetSpec()
    with torch.device("meta"):
        supernet = sum(p.numel() for p in SearchNet(spec, space).weight_parameters())
        baseline = count_params(build_plain(spec))
    return SupernetFacts(
        block_ids=space.block_ids,
        stages=space.stages_covered(),
        kernels=space.kernels,
        activations=space.activations,
        choices_per_block=len(space.kernels) * len(space.activations),
        architectures=space.size,
        supernet_params=supernet,
        baseline_params=baseline,
    )
