"""ResNet-50 as torchvision lays it out: the plain network an architecture builds, with the middle
op of each bottleneck injected (a k x k conv + BN + activation per block's choice).

It keeps torchvision's parameter names (``conv1``, ``layer1.0.conv2``, ``fc`` ...), so that with no
block changed it *is* ``resnet50`` parameter for parameter.  The search network
(:mod:`core.space.network`) builds on the same layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from core.space import BASE_ACTIVATION, BASE_KERNEL, RESNET50_DEPTHS, block_positions
from core.space.activations import create_activation

EXPANSION = 4
STAGE_WIDTHS = (64, 128, 256, 512)


def kernel_op(in_ch: int, out_ch: int, kernel: int, stride: int) -> nn.Sequential:
    """A candidate middle op: k x k conv with its own BatchNorm, stride kept, padding k//2."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_ch),
    )


@dataclass(frozen=True)
class NetSpec:
    """The non-searched shape of the network (also stored in architecture files)."""

    num_classes: int = 10
    stem: str = "imagenet"
    width_mult: float = 1.0
    depths: tuple[int, ...] = RESNET50_DEPTHS

    def widths(self) -> list[int]:
        return [max(1, int(round(w * self.width_mult))) for w in STAGE_WIDTHS]


class NetworkShape(Protocol):
    """What a network shape is read from: a config's ``network`` section (:class:`core.config.NetworkConfig`)."""

    @property
    def stem(self) -> str: ...
    @property
    def width_mult(self) -> float: ...
    @property
    def depths(self) -> Sequence[int]: ...


class Configured(Protocol):
    """A config, as far as the network shape goes (the space layer sits below core.config)."""

    @property
    def network(self) -> NetworkShape: ...


def net_spec(config: Configured, num_classes: int = 10) -> NetSpec:
    """The one reading of a config's ``network`` section as a network shape."""
    n = config.network
    return NetSpec(num_classes, n.stem, n.width_mult, tuple(n.depths))


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (stride on the middle conv) with a chosen kernel and activation."""

    def __init__(
        self, in_ch: int, width: int, stride: int, kernel: int = BASE_KERNEL, activation: str = BASE_ACTIVATION
    ) -> None:
        super().__init__()
        out_ch = width * EXPANSION
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.act2 = create_activation(activation)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.act2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        result: torch.Tensor = self.relu(out + identity)
        return result


def _downsample(in_ch: int, out_ch: int, stride: int) -> nn.Module | None:
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


BlockFactory = Callable[[int, int, int, int], nn.Module]


class ResNet(nn.Module):
    """torchvision's ResNet skeleton; ``make_block(block_id, in_ch, width, stride)`` picks each block."""

    def __init__(self, spec: NetSpec, make_block: BlockFactory) -> None:
        super().__init__()
        self.spec = spec
        widths = spec.widths()
        if spec.stem == "imagenet":
            self.conv1 = nn.Conv2d(3, widths[0], 7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(3, widths[0], 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        in_ch = widths[0]
        positions = block_positions(spec.depths)
        for stage, width in enumerate(widths):
            blocks = []
            for pos in (p for p in positions if p.stage == stage):
                stride = 2 if stage > 0 and pos.index == 0 else 1
                blocks.append(make_block(pos.block_id, in_ch, width, stride))
                in_ch = width * EXPANSION
            self.add_module(f"layer{stage + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, spec.num_classes)
        _init_weights(self)

    def stages(self) -> Iterator[nn.Sequential]:
        for stage in range(len(self.spec.depths)):
            yield getattr(self, f"layer{stage + 1}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages():
            x = stage(x)
        logits: torch.Tensor = self.fc(torch.flatten(self.avgpool(x), 1))
        return logits


def _init_weights(model: nn.Module) -> None:
    """torchvision's init: Kaiming-normal convs, unit BN."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


@dataclass(frozen=True)
class BlockChoice:
    kernel: int = BASE_KERNEL
    activation: str = BASE_ACTIVATION


def build_plain(spec: NetSpec, choices: Mapping[int, BlockChoice] | None = None) -> ResNet:
    """A plain network: listed blocks get their choice, others stay 3x3/ReLU."""
    choices = dict(choices or {})

    def make_block(block_id: int, in_ch: int, width: int, stride: int) -> nn.Module:
        c = choices.get(block_id, BlockChoice())
        return Bottleneck(in_ch, width, stride, c.kernel, c.activation)

    return ResNet(spec, make_block)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
