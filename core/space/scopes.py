"""Which ResNet-50 blocks a search covers: scopes (``s``, ``m``, ``l``, ``f``, block ids), block ids
(counted from the deepest bottleneck, 1 = last block of stage 4, as in the paper, so that an id names
the same physical block whatever the scope), a progressive search's stages and the stage layout
(``network.depths``).  Plain data, importable without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import PresnetError

RESNET50_DEPTHS: tuple[int, ...] = (3, 4, 6, 3)
#: Scope letter -> number of deepest stages it covers.
SCOPE_STAGES: dict[str, int] = {"s": 1, "m": 2, "l": 3, "f": 4}
#: The scope of a progressive search (deep to shallow stages, ``search.progressive``); alone it means
#: :data:`PROGRESSIVE_DEFAULT`.
PROGRESSIVE = "progressive"
PROGRESSIVE_DEFAULT: tuple[str, ...] = ("s", "m", "l", "f")


@dataclass(frozen=True)
class BlockPosition:
    """Where a block id sits in the network (0-based stage and index in stage)."""

    block_id: int
    stage: int
    index: int


def block_positions(depths: Sequence[int] = RESNET50_DEPTHS) -> list[BlockPosition]:
    """All blocks in forward order, each with its deepest-first id."""
    total = sum(depths)
    positions: list[BlockPosition] = []
    forward = 0
    for stage, depth in enumerate(depths):
        for index in range(depth):
            positions.append(BlockPosition(total - forward, stage, index))
            forward += 1
    return positions


def block_stage(block_id: int, depths: Sequence[int] = RESNET50_DEPTHS) -> int:
    """1-based stage number of a block, for display."""
    validate_block_ids([block_id], depths, where="blocks")
    return next(p.stage + 1 for p in block_positions(depths) if p.block_id == block_id)


Scope = str | list[int]
"""A scope as configs hold it: a letter (s/m/l/f) or a sorted list of block ids (custom)."""


def parse_ints(text: str, what: str, where: str, example: str) -> list[int]:
    """A comma-separated list of whole numbers, as typed on a command line or in a form."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if not t.lstrip("-").isdigit()]
    if bad:
        raise PresnetError(
            f"cannot read {bad[0]!r} as {what}", where=where, hint=f"give comma-separated numbers, e.g. {example}"
        )
    return [int(t) for t in items]


def block_id_list(text: str, where: str) -> list[int]:
    """Block ids as typed: comma-separated ids and ranges, ``10,11`` or ``10-13`` or ``1-3,5`` (a range
    includes both ends); the one reading of block ids in text (scopes, progressive stages, sweeps)."""
    out: list[int] = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        lo, dash, hi = item.partition("-")
        if lo.strip().isdigit() and (not dash or hi.strip().isdigit()):
            first, last = int(lo), int(hi) if dash else int(lo)
            if last < first:
                raise PresnetError(
                    f"range {item!r} runs backwards", where=where, hint=f"write it low to high: {last}-{first}"
                )
            out.extend(range(first, last + 1))
            continue
        raise PresnetError(
            f"cannot read {item!r} as a block id",
            where=where,
            hint="give comma-separated ids or ranges, e.g. 1,2,5 or 10-13",
        )
    return out


def validate_block_ids(
    ids: Sequence[int], depths: Sequence[int] = RESNET50_DEPTHS, where: str = "space.scope"
) -> list[int]:
    """Block ids sorted and de-duplicated; each must exist in a network of ``depths``."""
    total = sum(depths)
    out = sorted({int(i) for i in ids})
    bad = [i for i in out if not 1 <= i <= total]
    if bad:
        raise PresnetError(
            f"block id {bad[0]} is out of range", where=where, hint=f"ids run from 1 (deepest) to {total}"
        )
    return out


def validate_scope(scope: str | Sequence[int], depths: Sequence[int] | None = None) -> Scope:
    """The one reading of a scope: a letter, a list of block ids, or such a list as text ("1,2,5",
    with ranges: "10-13").

    Returns the lower-case letter or the sorted ids.  Without ``depths`` the ids are only checked
    to be a non-empty list (a config checks their range once it knows the network's depths).
    """
    if isinstance(scope, str):
        letter = scope.strip().lower()
        if letter in SCOPE_STAGES or letter == PROGRESSIVE:
            return letter
        if not any(c.isdigit() for c in letter) and letter:
            raise PresnetError(
                f"unknown scope {scope!r}",
                where="space.scope",
                hint="use one of s, m, l, f, progressive or a list of block ids",
            )
        scope = block_id_list(scope, "space.scope")
    ids = sorted({int(i) for i in scope})
    if not ids:
        raise PresnetError(
            "custom scope lists no block", where="space.scope", hint="give at least one block id, e.g. 1,2,3"
        )
    if depths is not None:
        return validate_block_ids(ids, depths)
    if ids[0] < 1:
        raise PresnetError(f"block id {ids[0]} is out of range", where="space.scope", hint="ids count from 1 (deepest)")
    return ids


def scope_letters(text: str | Sequence[str], where: str = "space.scope") -> list[str]:
    """A list of scope letters (e.g. ``"s,f"``), for commands that take whole stages only."""
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else list(text)
    out = []
    for item in items:
        try:
            scope = validate_scope(item)
        except PresnetError as err:
            raise PresnetError(err.message, where=where, hint=err.hint) from None
        if not isinstance(scope, str):
            raise PresnetError(
                f"{item!r} is not a scope letter", where=where, hint="use letters from s, m, l, f, e.g. s,f"
            )
        out.append(scope)
    return out


def scope_block_ids(scope: str | Sequence[int], depths: Sequence[int] = RESNET50_DEPTHS) -> list[int]:
    """Search block ids of a scope, deepest first.

    ``scope`` is a letter (s/m/l/f) or an explicit list of block ids (custom scope).
    """
    scope = validate_scope(scope, depths)
    if isinstance(scope, list):
        return scope
    if scope == PROGRESSIVE:  # on its own, progressive is s, m, l, f: its union is f's blocks
        scope = PROGRESSIVE_DEFAULT[-1]
    n_stages = min(SCOPE_STAGES[scope], len(depths))
    return sorted(p.block_id for p in block_positions(depths) if p.stage >= len(depths) - n_stages)


def validate_progressive(
    stages: str | Sequence[str | Sequence[int]], depths: Sequence[int] | None = None, where: str = "search.progressive"
) -> list[Scope]:
    """The stages of a progressive search: nested scopes, deep to shallow.

    Text is ``"s,m,f"`` (letters) or ``"10,11;10-13"`` (stages split by ``;``, ids or ranges); a list holds
    letters or block-id lists.  Each stage must add at least one block, and every block it adds
    must be shallower (a larger id) than every block of the stage before: the deep blocks decide
    first, as the paper saw them converge first.  Without ``depths`` only the form is checked.
    """
    if isinstance(stages, str):
        text = stages.strip().lower()
        if text == PROGRESSIVE:
            items: list[str | Sequence[int]] = list(PROGRESSIVE_DEFAULT)
        else:
            items = [t for t in text.split(";" if ";" in text else ",") if t.strip()]
    else:
        items = list(stages)
    if len(items) < 2:
        raise PresnetError("a progressive search needs at least two stages", where=where, hint="e.g. s,m,f or s,m,l,f")
    out: list[Scope] = []
    for item in items:
        try:
            scope = validate_scope(item, depths)
        except PresnetError as err:
            raise PresnetError(err.message, where=where, hint=err.hint) from None
        if scope == PROGRESSIVE:
            raise PresnetError("a stage cannot be progressive itself", where=where, hint="use s, m, l, f or block ids")
        out.append(scope)
    if depths is not None:
        before: set[int] = set()
        for i, scope in enumerate(out):
            blocks = set(scope_block_ids(scope, depths))
            if not before < blocks:
                raise PresnetError(
                    f"stage {i + 1} ({scope_name(scope)}) does not contain and widen stage {i}",
                    where=where,
                    hint="each stage holds the one before it plus shallower blocks, e.g. s,m,l,f",
                )
            if before and min(blocks - before) < max(before):
                raise PresnetError(
                    f"stage {i + 1} adds block {min(blocks - before)}, deeper than stage {i}'s blocks",
                    where=where,
                    hint="stages go deep to shallow: a later stage adds larger block ids only",
                )
            before = blocks
    return out


def progressive_label(stages: Sequence[Scope]) -> str:
    """``s>m>f`` or ``10-13>10-16``: a progressive search's stages in one word, for logs and tables."""

    def one(scope: Scope) -> str:
        if isinstance(scope, str):
            return scope
        ids = sorted(scope)
        contiguous = ids == list(range(ids[0], ids[-1] + 1))
        return f"{ids[0]}-{ids[-1]}" if contiguous and len(ids) > 1 else ",".join(map(str, ids))

    return ">".join(one(s) for s in stages)


DEPTHS_RULE = "depths needs four stages of at least one block each, e.g. [3, 4, 6, 3]"


def depths_ok(depths: Sequence[int]) -> bool:
    """The stage layouts presnet builds: four stages (ResNet-50's skeleton), none empty."""
    return len(depths) == 4 and all(d >= 1 for d in depths)


def validate_depths(depths: str | Sequence[int], where: str = "network.depths") -> tuple[int, ...]:
    """Blocks per stage, from a list or text like ``"3,4,6,3"``."""
    values = (
        parse_ints(depths, "a block count", where, "3,4,6,3") if isinstance(depths, str) else [int(d) for d in depths]
    )
    if not depths_ok(values):
        raise PresnetError(f"{values} is not a stage layout", where=where, hint=DEPTHS_RULE)
    return tuple(values)


def scope_name(scope: str | Sequence[int]) -> str:
    """Short label for run directories and tables."""
    if isinstance(scope, str):
        return scope
    return "custom-" + "-".join(str(i) for i in sorted(scope))


def scope_key(scope: str | Sequence[int]) -> str:
    """A sweep's name for a scope: its letter, or its block ids as text (``10,11,12,13``), which a
    config reads back as the same scope."""
    checked = validate_scope(scope)
    return checked if isinstance(checked, str) else ",".join(str(b) for b in checked)


def scope_label(key: str) -> str:
    """The scope's part of a run or sweep directory name (``s``, ``custom-10-11-12-13``)."""
    return scope_name(validate_scope(key))
