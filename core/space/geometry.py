"""Map sizes inside the network, and what a candidate kernel really is at each search block.

A k x k conv (padding k//2) whose input map has side ``H`` can only ever combine
taps at offsets ``-(H-1) .. H-1`` from an output position: every tap further out
meets padding, for every output and every input.  Its *effective* kernel is
``min(k, 2H-1)``, and two candidates with the same effective kernel span the same
set of functions (the larger one just carries dead weights).  At a block where
that happens the kernel "choice" is void: the search spends alphas on a choice
between equal functions, and a large pick only adds parameters.

The side is that of the map *entering the block's middle conv*: for the first
block of stages 2-4 that is the pre-stride map (torchvision's bottleneck strides
in the middle conv), so block 9 of ResNet-50 at 32 px still sees a 4 x 4 map.
Everything here is arithmetic on sizes; no module is built, and nothing is worded for a user
(:mod:`core.config` turns these answers into warnings and refusals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.space import RESNET50_DEPTHS, SearchSpace, block_positions


def conv_out(side: int, kernel: int, stride: int, padding: int) -> int:
    """Output side of a conv or pool (PyTorch's floor rule)."""
    return (side + 2 * padding - kernel) // stride + 1


def stem_out(image_size: int, stem: str) -> int:
    """Side of the map leaving the stem: torchvision's 7x7/2 + 3x3/2 max-pool, or the 3x3/1 cifar stem."""
    if stem == "imagenet":
        return conv_out(conv_out(image_size, 7, 2, 3), 3, 2, 1)
    return image_size


def effective_kernel(kernel: int, side: int) -> int:
    """The kernel a k x k conv really applies on a ``side`` x ``side`` input: min(k, 2*side - 1)."""
    return min(kernel, 2 * side - 1)


@dataclass(frozen=True)
class BlockGeometry:
    """One block's middle conv: the side of its input map and each candidate's effective kernel."""

    block_id: int
    stage: int  #: 1-based, for display
    input_size: int
    effective_kernels: dict[int, int]

    @property
    def kernel_choice_void(self) -> bool:
        """True when two candidate kernels are the same function class here."""
        eff = list(self.effective_kernels.values())
        return len(set(eff)) < len(eff)

    def equivalent_groups(self) -> list[list[int]]:
        """Candidate kernels grouped by effective kernel, in candidate order."""
        groups: dict[int, list[int]] = {}
        for k, e in self.effective_kernels.items():
            groups.setdefault(e, []).append(k)
        return list(groups.values())

    def kept_kernels(self) -> list[int]:
        """What pruning keeps: the smallest kernel of each equivalent group (no dead weights)."""
        return sorted(min(g) for g in self.equivalent_groups())

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.block_id,
            "stage": self.stage,
            "input_size": self.input_size,
            "effective_kernels": {str(k): e for k, e in self.effective_kernels.items()},
            "kernel_choice_void": self.kernel_choice_void,
        }


def middle_conv_inputs(image_size: int, stem: str, depths: Sequence[int] = RESNET50_DEPTHS) -> dict[int, int]:
    """Block id -> side of the map entering its middle conv (stride 2 on the first block of stages 2-4)."""
    side = stem_out(image_size, stem)
    out: dict[int, int] = {}
    for pos in block_positions(depths):
        out[pos.block_id] = side
        if pos.stage > 0 and pos.index == 0:
            side = conv_out(side, 3, 2, 1)  # same for every odd kernel with padding k//2
    return out


def block_geometry(
    block_ids: Sequence[int],
    kernels: Sequence[int],
    image_size: int,
    stem: str,
    depths: Sequence[int] = RESNET50_DEPTHS,
) -> list[BlockGeometry]:
    """Geometry of the given search blocks, in the order given."""
    sides = middle_conv_inputs(image_size, stem, depths)
    stages = {p.block_id: p.stage + 1 for p in block_positions(depths)}
    return [
        BlockGeometry(b, stages[b], sides[b], {int(k): effective_kernel(int(k), sides[b]) for k in kernels})
        for b in block_ids
    ]


def void_blocks(geometry: Sequence[BlockGeometry]) -> list[BlockGeometry]:
    """The blocks whose kernel choice is void (two candidates compute the same functions).

    Answered as data: :mod:`core.config` words it for the user (a warning, a refusal, a form line)."""
    return [g for g in geometry if g.kernel_choice_void]


def space_geometry(space: SearchSpace, image_size: int, stem: str) -> list[BlockGeometry]:
    """Geometry of a search space's blocks (deepest first)."""
    return block_geometry(space.block_ids, space.kernels, image_size, stem, space.depths)


def prunable(space: SearchSpace, image_size: int, stem: str) -> tuple[tuple[int, int], ...]:
    """(block id, kernel) pairs that pruning removes: all but the smallest of each equivalent group."""
    out = []
    for g in space_geometry(space, image_size, stem):
        keep = set(g.kept_kernels())
        out += [(g.block_id, k) for k in g.effective_kernels if k not in keep]
    return tuple(sorted(out))
