"""The activation registry: each name of :data:`core.space.Activation` -> its module and whether it
can run in place (after timm's ``layers/create_act.py``: one table, one factory).

In place saves a copy of the feature map on the weight step's single sampled path; the mixed
op's candidates on the architecture step must keep their input, so the search toggles the
switch (:data:`INPLACE_TYPES`) between the two steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from core.space import ACTIVATIONS


@dataclass(frozen=True)
class ActivationLayer:
    layer: Callable[..., nn.Module]
    #: whether ``layer`` takes ``inplace=``
    inplace: bool = True
    kwargs: dict[str, float] = field(default_factory=dict)


_REGISTRY: dict[str, ActivationLayer] = {
    "relu": ActivationLayer(nn.ReLU),
    "leakyrelu": ActivationLayer(nn.LeakyReLU, kwargs={"negative_slope": 0.01}),
    "mish": ActivationLayer(nn.Mish),
    "silu": ActivationLayer(nn.SiLU),
    "gelu": ActivationLayer(nn.GELU, inplace=False),
    "hardswish": ActivationLayer(nn.Hardswish),
}
assert tuple(_REGISTRY) == ACTIVATIONS, "register every activation of core.space.Activation, in its order"

#: Activation module types with an ``inplace`` switch (toggled between weight and architecture steps).
INPLACE_TYPES: tuple[type[nn.Module], ...] = tuple(
    a.layer for a in _REGISTRY.values() if a.inplace and isinstance(a.layer, type)
)


def create_activation(name: str, inplace: bool = True) -> nn.Module:
    """The module of activation ``name``, in place when it can be and ``inplace`` asks for it."""
    spec = _REGISTRY[name]
    return spec.layer(**spec.kwargs, **({"inplace": inplace} if spec.inplace else {}))


def set_inplace(module: nn.Module, inplace: bool) -> None:
    """Switch every registered activation inside ``module`` in or out of place: in place saves memory
    on one path; an activation whose input another path still reads must not overwrite it."""
    for m in module.modules():
        if isinstance(m, INPLACE_TYPES):
            setattr(m, "inplace", inplace)  # noqa: B010 -- the attribute of the registered types
