"""Every architecture of a small space: the ground truth a search is placed on.

Whether a weight-sharing search beat its own space can only be told against the space itself
(Li & Talwalkar 2019; Sciuto et al. 2019; Yang et al., ICLR 2020): ``presnet sweep --exhaustive
--repeats R`` retrains every architecture of the config's space R times, and ``compare`` then
looks any architecture of that space up instead of retraining it (:mod:`core.results.ground_truth`).

An architecture here is one (kernel, activation) pair per searched block.  Two kernels that are
the same function at a block (:mod:`core.space.geometry`: a k x k conv on a map too small to
tell k from a smaller kernel) are one architecture, counted once and trained with the smaller
kernel, whatever ``space.void_kernels`` says: retraining a void duplicate would spend a run on
a function already in the table.  Enumeration order is fixed (blocks as the space lists them,
candidates in the config's order), so index i names the same architecture on any machine.

Everything but :func:`space_architecture` is arithmetic on the config: a refusal for size
comes before torch is imported.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

from core.config import Config
from core.errors import PresnetError
from core.space import scope_key, scope_name
from core.space.geometry import space_geometry

if TYPE_CHECKING:  # torch: only building an architecture needs it
    from core.space.arch import Architecture

#: The default cap of ``--exhaustive``: 64 architectures at 2-3 repeats is a few hundred
#: retrains, already a week of GPU time at the paper's 200 epochs.
EXHAUSTIVE_CAP = 64

#: An architecture of a space as the ground truth keys it: ((block, kernel, activation), ...),
#: blocks ascending, kernels mapped to the smallest kernel computing the same function there.
ArchKey = tuple[tuple[int, int, str], ...]


def block_candidates(config: Config) -> dict[int, list[tuple[int, str]]]:
    """Per searched block (the space's order), its distinct (kernel, activation) candidates: the
    kernels a search could derive there (pruned ones left out), void duplicates merged into the
    smallest kernel of their group."""
    space = config.search_space()
    geometry = {g.block_id: g for g in space_geometry(space, config.data.image_size, config.network.stem)}
    pruned = set(space.pruned)
    out: dict[int, list[tuple[int, str]]] = {}
    for block in space.block_ids:
        kept = set(geometry[block].kept_kernels())
        kernels = [int(k) for k in space.kernels if (block, k) not in pruned and k in kept]
        out[block] = [(k, a) for k in kernels for a in space.activations]
    return out


def space_size(config: Config) -> int:
    """How many distinct architectures the config's space holds."""
    return math.prod(len(c) for c in block_candidates(config).values())


def canonical_kernels(config: Config) -> dict[int, dict[int, int]]:
    """Per block, each candidate kernel -> the kernel its architecture is trained and keyed with."""
    space = config.search_space()
    out: dict[int, dict[int, int]] = {}
    for g in space_geometry(space, config.data.image_size, config.network.stem):
        out[g.block_id] = {k: min(group) for group in g.equivalent_groups() for k in group}
    return out


def arch_key(blocks: dict[int, tuple[int, str]], canonical: dict[int, dict[int, int]] | None = None) -> ArchKey:
    """The key of an architecture given as block -> (kernel, activation); ``canonical`` maps void
    kernels to their representative (:func:`canonical_kernels`)."""
    canonical = canonical or {}
    return tuple(
        (int(b), canonical.get(int(b), {}).get(int(k), int(k)), str(a)) for b, (k, a) in sorted(blocks.items())
    )


def key_label(key: ArchKey) -> str:
    """``10:5x5/mish 11:3x3/relu``: an architecture in one short line."""
    return " ".join(f"{b}:{k}x{k}/{a}" for b, k, a in key)


def space_keys(config: Config) -> list[ArchKey]:
    """Every architecture of the space, in the fixed enumeration order (index = position)."""
    options = block_candidates(config)
    blocks = list(options)
    return [arch_key(dict(zip(blocks, combo))) for combo in itertools.product(*(options[b] for b in blocks))]


def check_cap(config: Config, cap: int, where: str = "--exhaustive") -> int:
    """The space's size, or a one-line refusal naming a smaller scope or candidate set that fits."""
    if cap < 1:
        raise PresnetError(f"a cap of {cap} architectures", where="--cap", hint="give 1 or more")
    size = space_size(config)
    if size <= cap:
        return size
    raise PresnetError(
        f"scope {scope_key(config.space.scope)} has {size:,} architectures, over the cap of {cap}",
        where=where,
        hint=_what_fits(config, cap),
    )


def _what_fits(config: Config, cap: int) -> str:
    """A smaller scope (the first blocks, same candidates) or candidate set (same blocks) within the cap."""
    options = block_candidates(config)
    blocks, counts = list(options), [len(c) for c in options.values()]
    fits: list[str] = []
    n = 0
    while n < len(blocks) and math.prod(counts[: n + 1]) <= cap:
        n += 1
    if n:
        fits.append(f"--scopes {','.join(map(str, sorted(blocks[:n])))} ({math.prod(counts[:n])} architectures)")
    space = config.search_space()
    for kernels, acts in ((len(space.kernels), 1), (1, len(space.activations)), (1, 2), (2, 1), (1, 1)):
        if kernels * acts > 1 and (kernels * acts) ** len(blocks) <= cap:
            k = ", ".join(map(str, space.kernels[:kernels]))
            a = ", ".join(space.activations[:acts])
            fits.append(
                f"space.kernels [{k}], space.activations [{a}] ({(kernels * acts) ** len(blocks)} architectures)"
            )
            break
    fits.append("or raise --cap")
    return "fits: " + "; ".join(fits)


def space_architecture(config: Config, index: int) -> Architecture:
    """The ``index``-th architecture of the config's space, as ``presnet retrain`` takes it."""
    from core.scale.random_arch import num_classes
    from core.space.arch import Architecture, BlockArch

    keys = space_keys(config)
    key = keys[index]
    n = config.network
    return Architecture(
        blocks={b: BlockArch(kernel=k, activation=a) for b, k, a in key},
        stem=n.stem,
        width_mult=n.width_mult,
        depths=list(n.depths),
        num_classes=num_classes(config),
        source={"space": {"scope": scope_name(config.space.scope), "index": index, "of": len(keys)}},
    )
