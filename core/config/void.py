"""Void kernel choices, worded: where the candidate kernels compute the same function at the input
size (map sizes from :mod:`core.space.geometry`), as a fact, a warning, or a refusal."""

from __future__ import annotations

from core.config.models import Config
from core.errors import PresnetError
from core.space.geometry import BlockGeometry, void_blocks

VOID_KERNELS_FIX = "set space.void_kernels: prune to drop the duplicates, or raise data.image_size"


def void_kernels_fact(geometry: list[BlockGeometry], image_size: int) -> str | None:
    """What is void where, in one clause (no advice), or None when every kernel choice is real."""
    void = void_blocks(geometry)
    if not void:
        return None
    ids = ", ".join(str(g.block_id) for g in void)
    sides = sorted({g.input_size for g in void})
    return (
        f"at {image_size} px the kernel choice of block(s) {ids} is void: their middle conv sees a "
        f"{'/'.join(f'{s}x{s}' for s in sides)} map, where the candidate kernels compute the same functions"
    )


def void_warning(geometry: list[BlockGeometry], image_size: int) -> str | None:
    """The warning line: the fact and how to fix it, or None."""
    fact = void_kernels_fact(geometry, image_size)
    return None if fact is None else f"{fact} ({VOID_KERNELS_FIX})"


def check_void_kernels(config: Config) -> str | None:
    """Apply ``space.void_kernels``: the warning line to show (warn), None, or a refusal (error).

    Pruned spaces no longer hold a void choice, so ``prune`` returns None.
    """
    mode = config.space.void_kernels
    if mode == "prune":
        return None
    fact = void_kernels_fact(config.geometry(), config.data.image_size)
    if fact is None:
        return None
    if mode == "error":
        raise PresnetError(
            fact,
            where="space.void_kernels",
            hint="set space.void_kernels: prune or warn, pick other blocks, or raise data.image_size (--image-size)",
        )
    return f"{fact} ({VOID_KERNELS_FIX})"
