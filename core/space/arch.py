"""Architecture files: the contract between a search, a retrain and the user.

``{"blocks": {"<id>": {"kernel": 5, "activation": "mish"}, ...}}`` plus optional
network fields.  Blocks not listed are plain 3x3/ReLU bottlenecks, so ``{"blocks": {}}``
is torchvision's ResNet-50 (10 classes) exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import PresnetError, as_field_error
from core.io import atomic_write_text, read_user_text
from core.space import (
    BASE_ACTIVATION,
    BASE_KERNEL,
    RESNET50_DEPTHS,
    SearchSpace,
    argmax_label,
    validate_activations,
    validate_block_ids,
    validate_depths,
    validate_kernels,
)

if TYPE_CHECKING:  # the network (torch) loads when a network is built: reading a file stays instant
    from core.space.network import BlockChoice, NetSpec, ResNet


class BlockArch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kernel: int = BASE_KERNEL
    activation: str = BASE_ACTIVATION

    @field_validator("kernel")
    @classmethod
    def _kernel(cls, v: int) -> int:
        with as_field_error():
            return validate_kernels([v])[0]

    @field_validator("activation")
    @classmethod
    def _activation(cls, v: str) -> str:
        with as_field_error():
            return validate_activations([v])[0]


class Architecture(BaseModel):
    model_config = ConfigDict(extra="forbid")
    blocks: dict[int, BlockArch] = Field(default_factory=dict)
    stem: Literal["cifar", "imagenet"] = "imagenet"
    width_mult: float = Field(1.0, gt=0, le=4)
    depths: list[int] = Field(default_factory=lambda: list(RESNET50_DEPTHS))
    num_classes: int = Field(10, ge=2)
    source: dict[str, Any] | None = None

    @field_validator("depths", mode="before")
    @classmethod
    def _depths(cls, v: Any) -> list[int]:
        with as_field_error():
            return list(validate_depths(v, where="depths"))

    @model_validator(mode="after")
    def _ids(self) -> Architecture:
        with as_field_error():
            validate_block_ids(list(self.blocks), self.depths, where="blocks")
        return self

    def same_network(self, other: Architecture) -> bool:
        """The same network (where each came from, its ``source``, aside)."""
        mine = self.model_dump(mode="json", exclude={"source"})
        return mine == other.model_dump(mode="json", exclude={"source"})

    def spec(self) -> NetSpec:
        from core.space.network import NetSpec

        return NetSpec(self.num_classes, self.stem, self.width_mult, tuple(self.depths))

    def choices(self) -> dict[int, BlockChoice]:
        from core.space.network import BlockChoice

        return {bid: BlockChoice(b.kernel, b.activation) for bid, b in self.blocks.items()}

    def build(self) -> ResNet:
        from core.space.network import build_plain

        return build_plain(self.spec(), self.choices())

    def to_json(self) -> str:
        data = self.model_dump(mode="json", exclude_none=True)
        data["blocks"] = {str(k): v.model_dump() for k, v in sorted(self.blocks.items())}
        return json.dumps(data, indent=2) + "\n"


def from_choices(
    choices: Mapping[int, BlockChoice], spec: NetSpec, source: dict[str, Any] | None = None
) -> Architecture:
    return Architecture(
        blocks={b: BlockArch(kernel=c.kernel, activation=c.activation) for b, c in choices.items()},
        stem=spec.stem,
        width_mult=spec.width_mult,
        depths=list(spec.depths),
        num_classes=spec.num_classes,
        source=source,
    )


def decision_argmax(probs: Mapping[str, float]) -> tuple[str, float]:
    """The leading candidate of one decision (the one derive rule, :func:`core.space.argmax_label`)
    and its probability."""
    label = argmax_label(probs)
    return label, probs[label]


def snapshot_to_choices(
    snapshot: Mapping[str, Mapping[str, Mapping[str, float]]], space: SearchSpace
) -> dict[int, BlockChoice]:
    """The argmax path per block of an alpha snapshot (an ``alphas`` event's probabilities), factorized
    or joint: derive-at-epoch and the end of a search both come here."""
    from core.space.network import BlockChoice

    return {bid: BlockChoice(*space.choice(snapshot[str(bid)])) for bid in space.block_ids}


def merged_choices(
    snapshot: Mapping[str, Mapping[str, Mapping[str, float]]],
    frozen: Mapping[int, Mapping[str, str]],
    space: SearchSpace,
) -> dict[int, BlockChoice]:
    """A progressive search's architecture: every block with a frozen or an open decision -- the frozen
    choices as they were pinned, the open ones by the derive rule on ``snapshot``.  A frozen decision
    reads as a one-candidate distribution, so :meth:`SearchSpace.choice` stays the one rule."""
    from core.space.network import BlockChoice

    blocks = sorted({int(b) for b in snapshot} | {int(b) for b in frozen})
    out = {}
    for bid in blocks:
        probs = {d: dict(p) for d, p in snapshot.get(str(bid), {}).items()}
        probs |= {d: {str(label): 1.0} for d, label in frozen.get(bid, {}).items()}
        out[bid] = BlockChoice(*space.choice(probs))
    return out


def parse_arch(data: Any, where: str) -> Architecture:
    try:
        return Architecture.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        raise PresnetError(
            f"{loc}: {msg}" if loc else msg, where=where, hint="see README, 'Architecture files'"
        ) from None


def load_arch(path: Path) -> Architecture:
    path = Path(path)
    if not path.is_file():
        raise PresnetError(
            "architecture file not found" if not path.exists() else "not a file",
            where=str(path),
            hint="pass the path of an arch.json",
        )
    try:
        data = json.loads(read_user_text(path, "architecture file"))
    except json.JSONDecodeError as err:
        raise PresnetError(
            f"malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}",
            where=str(path),
            hint="fix the JSON syntax",
        ) from None
    return parse_arch(data, str(path))


def save_arch(path: Path, arch: Architecture) -> None:
    atomic_write_text(Path(path), arch.to_json())
