"""What a search space is before anything trains: its blocks, choices, sizes, map geometry and
FLOPs range, computed once per space (``presnet inspect``, the setup screen)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import torch

from core.config import Config, void_kernels_fact
from core.space import SearchSpace
from core.space.cost import CandidateCosts, count_flops, measure_candidates
from core.space.facts import SupernetFacts, supernet_facts
from core.space.geometry import BlockGeometry, space_geometry
from core.space.network import NetSpec, SearchNet, build_plain, net_spec


@dataclass(frozen=True)
class FlopsRange:
    """FLOPs of the space's cheapest and dearest architecture and of the plain network, at one input size;
    ``per_block``: block -> decision -> candidate -> FLOPs of that candidate."""

    min: int
    max: int
    baseline: int
    per_block: dict[str, dict[str, dict[str, int]]]


@dataclass(frozen=True)
class StageRow:
    """One stage of a progressive search as inspect shows it: its scope, its blocks, the ones it adds."""

    stage: int  #: 1-based
    scope: str | list[int]
    blocks: list[int]
    new_blocks: list[int]


@dataclass(frozen=True)
class SpaceReport:
    scope: str | list[int]
    candidates: str
    space: SearchSpace
    spec: NetSpec
    image_size: int
    facts: SupernetFacts
    geometry: list[BlockGeometry]
    flops: FlopsRange
    #: the void kernel choices in words (no advice), or None
    void: str | None
    #: a progressive search's stages: each scope, its blocks and the blocks it adds (empty: a direct search)
    stages: list[StageRow] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """``presnet inspect --scope ... --json``."""
        f = self.facts
        return {
            "scope": self.scope,
            "search_blocks": list(f.block_ids),
            "stages": f.stages,
            "kernels": list(f.kernels),
            "activations": list(f.activations),
            "candidates": self.candidates,
            "decisions": {d: list(self.space.labels(d)) for d in self.space.decisions},
            "choices_per_block": f.choices_per_block,
            "architectures": f.architectures,
            "supernet_params": f.supernet_params,
            "baseline_params": f.baseline_params,
            "image_size": self.image_size,
            "stem": self.spec.stem,
            "blocks": [g.to_json() for g in self.geometry],
            "baseline_flops": self.flops.baseline,
            "flops": {"min": self.flops.min, "max": self.flops.max, "per_block": self.flops.per_block},
            **({"progressive": [dataclasses.asdict(st) for st in self.stages]} if self.stages else {}),
        }


def flops_range(costs: CandidateCosts, space: SearchSpace, baseline: int) -> FlopsRange:
    """The one min/max formula: the fixed part plus the cheapest (dearest) candidate of every decision."""
    rows = [r for per_decision in costs.per_row.values() for r in per_decision]
    return FlopsRange(
        min=int(costs.fixed + sum(min(r) for r in rows)),
        max=int(costs.fixed + sum(max(r) for r in rows)),
        baseline=baseline,
        per_block={
            str(b): {d: dict(zip(space.labels(d), map(int, costs.per_row[d][row]))) for d in space.decisions}
            for row, b in enumerate(space.block_ids)
        },
    )


_CACHE: dict[str, SpaceReport] = {}


def space_report(config: Config, *, paper_network: bool = False, as_searched: bool = True) -> SpaceReport:
    """The report of the config's space at ``data.image_size``, built on the meta device (shapes only).

    ``as_searched``: the space the search runs (the config's depths, pruning applied); False: the
    scope's candidates on ResNet-50's blocks, as ``presnet inspect`` shows them.  ``paper_network``:
    on the paper's full-width ResNet-50 with torchvision's stem instead of the config's network.
    The same question asked again (each keystroke of a form) is answered from a cache.
    """
    key = json.dumps(
        [
            config.model_dump(mode="json", include={"space", "network"}),
            config.data.image_size,
            paper_network,
            as_searched,
        ],
        sort_keys=True,
    )
    if key not in _CACHE:
        _CACHE[key] = _report(config, paper_network, as_searched)
    return _CACHE[key]


def _report(config: Config, paper_network: bool, as_searched: bool) -> SpaceReport:
    c = config.space
    stages = config.progressive_stages()  # a progressive search's space is its last (widest) stage's
    spec = NetSpec() if paper_network else net_spec(config)
    space = (
        config.search_space()
        if as_searched
        else SearchSpace.build(  # on the network it is shown on: a scope's blocks follow its depths
            stages[-1] if stages else c.scope, c.kernels, c.activations, spec.depths, joint=c.candidates == "joint"
        )
    )
    size = config.data.image_size
    with torch.device("meta"):  # shapes only: FLOPs need no arithmetic and no memory
        costs = measure_candidates(SearchNet(spec, space), "flops", size)
        baseline = count_flops(build_plain(spec), size)
    geometry = space_geometry(space, size, spec.stem)
    return SpaceReport(
        scope=c.scope,
        candidates=c.candidates,
        space=space,
        spec=spec,
        image_size=size,
        facts=supernet_facts(space, spec),
        geometry=geometry,
        flops=flops_range(costs, space, baseline),
        void=void_kernels_fact(geometry, size),
        stages=_stages(list(config.search.progressive or []), stages or []),
    )


def _stages(scopes: list[str | list[int]], stages: list[list[int]]) -> list[StageRow]:
    """A progressive search's stages as inspect shows them: each scope, its blocks and the ones it adds."""
    out: list[StageRow] = []
    before: set[int] = set()
    for i, (scope, blocks) in enumerate(zip(scopes, stages, strict=True)):
        out.append(StageRow(i + 1, scope, blocks, sorted(set(blocks) - before)))
        before = set(blocks)
    return out
