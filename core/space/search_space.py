"""A search space as one value: a scope's block ids and the candidates every search block chooses
from (with the kernel choices ``space.void_kernels: prune`` removed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.space.scopes import RESNET50_DEPTHS, block_stage, scope_block_ids
from core.space.vocabulary import (
    DECISIONS,
    JOINT_DECISION,
    PAPER_ACTIVATIONS,
    PAPER_KERNELS,
    block_choice,
    joint_name,
    validate_activations,
    validate_kernels,
)


@dataclass(frozen=True)
class SearchSpace:
    """A scope and the candidates every search block chooses from."""

    block_ids: tuple[int, ...]
    kernels: tuple[int, ...] = PAPER_KERNELS
    activations: tuple[str, ...] = PAPER_ACTIVATIONS
    depths: tuple[int, ...] = RESNET50_DEPTHS
    joint: bool = False  #: one decision over (kernel, activation) pairs instead of two
    pruned: tuple[tuple[int, int], ...] = ()  #: (block id, kernel) candidates removed as void

    @classmethod
    def build(
        cls,
        scope: str | Sequence[int],
        kernels: Sequence[int] = PAPER_KERNELS,
        activations: Sequence[str] = PAPER_ACTIVATIONS,
        depths: Sequence[int] = RESNET50_DEPTHS,
        joint: bool = False,
        pruned: Sequence[tuple[int, int]] = (),
    ) -> SearchSpace:
        return cls(
            tuple(scope_block_ids(scope, depths)),
            validate_kernels(kernels),
            validate_activations(activations),
            tuple(depths),
            joint,
            tuple(sorted((int(b), int(k)) for b, k in pruned)),
        )

    @property
    def decisions(self) -> tuple[str, ...]:
        return (JOINT_DECISION,) if self.joint else DECISIONS

    def pairs(self) -> list[tuple[int, str]]:
        """The joint candidates as (kernel, activation), in the order of the ``op`` alphas."""
        return [(k, a) for k in self.kernels for a in self.activations]

    def candidates(self, decision: str) -> tuple[int, ...] | tuple[str, ...]:
        if decision == JOINT_DECISION:
            return tuple(joint_name(k, a) for k, a in self.pairs())
        return self.kernels if decision == "kernel" else self.activations

    def labels(self, decision: str) -> tuple[str, ...]:
        """Candidate names as they appear in events and snapshots."""
        return tuple(str(c) for c in self.candidates(decision))

    def allowed(self, decision: str) -> list[list[bool]]:
        """Per search block (rows deepest first), which candidates take part (pruning removes void kernels)."""
        pruned = set(self.pruned)
        if decision == "activation":
            return [[True] * len(self.activations) for _ in self.block_ids]
        kernels = [k for k, _ in self.pairs()] if decision == JOINT_DECISION else list(self.kernels)
        return [[(b, k) not in pruned for k in kernels] for b in self.block_ids]

    def choice(self, probs: Mapping[str, Mapping[str, float]]) -> tuple[int, str]:
        """(kernel, activation) of one block's snapshot: :func:`block_choice` (snapshots list the
        candidates in this space's order, pruned ones left out)."""
        return block_choice(probs)

    @property
    def size(self) -> int:
        """Number of distinct architectures in the space (pruned candidates left out)."""
        pruned = set(self.pruned)
        total = 1
        for b in self.block_ids:
            total *= sum(1 for k in self.kernels if (b, k) not in pruned) * len(self.activations)
        return total

    def stages_covered(self) -> list[int]:
        return sorted({block_stage(b, self.depths) for b in self.block_ids})
