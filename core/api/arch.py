"""Architectures as front ends hold them: read, written and parsed files, and the facts a screen
or ``presnet inspect`` shows beside one (trainable parameters, FLOPs at an input size).

Counted on the meta device: a full-width ResNet-50's FLOPs in milliseconds, no weights allocated.
Torch loads only to count: reading, parsing and refusing a file stays under a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.space.arch import Architecture, decision_argmax, load_arch, parse_arch, save_arch

__all__ = [
    "ArchFacts",
    "Architecture",
    "arch_facts",
    "decision_argmax",
    "event_arch_flops",
    "load_arch",
    "parse_arch",
    "save_arch",
]


@dataclass(frozen=True)
class ArchFacts:
    params: int  #: trainable parameters
    flops: int  #: one forward pass of one image (a multiply-add = 2)
    image_size: int


def arch_facts(arch: Architecture, image_size: int) -> ArchFacts:
    """The architecture's parameters and FLOPs at ``image_size`` px."""
    import torch

    from core.space.cost import count_flops
    from core.space.network import count_params

    with torch.device("meta"):
        model = arch.build()
    return ArchFacts(count_params(model), count_flops(model, image_size), image_size)


def event_arch_flops(arch: Mapping[str, Any], image_size: int) -> int | None:
    """FLOPs of an architecture as events carry it (a dict, perhaps with its ``source``); None for none."""
    if not arch:
        return None
    parsed = parse_arch({k: v for k, v in arch.items() if k != "source"}, "architecture")
    return arch_facts(parsed, image_size).flops
