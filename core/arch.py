"""Architecture files: the contract between a search, a retrain and the user.

``{"blocks": {"<id>": {"kernel": 5, "activation": "mish"}, ...}}`` plus optional
network fields.  Blocks not listed are plain 3x3/ReLU bottlenecks, so ``{"blocks": {}}``
is torchvision's ResNet-50 (10 classes) exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import PresnetError
from core.io import atomic_write_text
from core.network import BlockChoice, NetSpec, ResNet, build_plain
from core.space import ACTIVATIONS, BASE_ACTIVATION, BASE_KERNEL, DEPTHS_RULE, KERNELS, RESNET50_DEPTHS, depths_ok


class BlockArch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kernel: int = BASE_KERNEL
    activation: str = BASE_ACTIVATION

    @field_validator("kernel")
    @classmethod
    def _kernel(cls, v: int) -> int:
        if v not in KERNELS:
            raise ValueError(f"kernel {v} cannot be built; use one of {list(KERNELS)}")
        return v

    @field_validator("activation")
    @classmethod
    def _activation(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in ACTIVATIONS:
            raise ValueError(f"activation {v!r} cannot be built; use one of {list(ACTIVATIONS)}")
        return v


class Architecture(BaseModel):
    model_config = ConfigDict(extra="forbid")
    blocks: dict[int, BlockArch] = Field(default_factory=dict)
    stem: Literal["cifar", "imagenet"] = "imagenet"
    width_mult: float = Field(1.0, gt=0, le=4)
    depths: list[int] = Field(default_factory=lambda: list(RESNET50_DEPTHS))
    num_classes: int = Field(10, ge=2)
    source: dict[str, Any] | None = None

    @field_validator("depths")
    @classmethod
    def _depths(cls, v: list[int]) -> list[int]:
        if not depths_ok(v):
            raise ValueError(DEPTHS_RULE)
        return v

    @model_validator(mode="after")
    def _ids(self) -> Architecture:
        total = sum(self.depths)
        for bid in self.blocks:
            if not 1 <= bid <= total:
                raise ValueError(f"unknown block id {bid}: ids run from 1 (deepest) to {total}")
        return self

    def spec(self) -> NetSpec:
        return NetSpec(self.num_classes, self.stem, self.width_mult, tuple(self.depths))

    def choices(self) -> dict[int, BlockChoice]:
        return {bid: BlockChoice(b.kernel, b.activation) for bid, b in self.blocks.items()}

    def build(self) -> ResNet:
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
        depths=list(spec.depths),  # type: ignore[arg-type]
        num_classes=spec.num_classes,
        source=source,
    )


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
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PresnetError(
            f"malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}",
            where=str(path),
            hint="fix the JSON syntax",
        ) from None
    return parse_arch(data, str(path))


def save_arch(path: Path, arch: Architecture) -> None:
    atomic_write_text(Path(path), arch.to_json())
