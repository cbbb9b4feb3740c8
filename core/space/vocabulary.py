"""The search space's candidates and their names: kernels, activations, stems, decisions, the joint
candidate's name (``5x5/mish``) and the derive rule that reads a choice from probabilities.

Each list once: a ``Literal`` for the type checker, its values (``get_args``) for validation, CLI
help and choices, the setup screen and the benchmark.  The activations' modules are registered
against these names in :mod:`core.space.activations`.  Plain data, importable without torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, get_args

from core.errors import PresnetError, did_you_mean
from core.space.scopes import parse_ints

# The vocabulary, each list once: a ``Literal`` for the type checker, its values (``get_args``) for
# validation, CLI help and choices, the setup screen and the benchmark.  The activations' modules
# are registered against these names in :mod:`.activations`.
Kernel = Literal[1, 3, 5, 7]
Activation = Literal["relu", "leakyrelu", "mish", "silu", "gelu", "hardswish"]
#: imagenet: torchvision's 7x7/2 conv + max-pool; cifar: one 3x3/1 conv
Stem = Literal["imagenet", "cifar"]
CandidateMode = Literal["factorized", "joint"]
KERNELS: tuple[int, ...] = get_args(Kernel)
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
#: Other libraries' names for our activations, offered when one is mistyped (SiLU is Swish-1).
ACTIVATION_ALIASES: dict[str, str] = {
    "swish": "silu",
    "hswish": "hardswish",
    "hard_swish": "hardswish",
    "leaky_relu": "leakyrelu",
    "lrelu": "leakyrelu",
}
STEMS: tuple[str, ...] = get_args(Stem)
PAPER_KERNELS: tuple[int, ...] = (3, 5)
PAPER_ACTIVATIONS: tuple[str, ...] = ("relu", "leakyrelu", "mish")
BASE_KERNEL = 3
BASE_ACTIVATION = "relu"
DECISIONS: tuple[str, ...] = ("kernel", "activation")
#: The one decision of a block in joint mode: a (kernel, activation) pair named by :func:`joint_name`.
JOINT_DECISION = "op"
#: factorized: kernel and activation are two independent decisions; joint: one decision over every pair.
CANDIDATE_MODES: tuple[str, ...] = get_args(CandidateMode)


def validate_kernels(kernels: str | Sequence[int]) -> tuple[int, ...]:
    """Candidate kernel sizes, from a list or text like ``"3,5"``; duplicates dropped, order kept."""
    if isinstance(kernels, str):
        kernels = parse_ints(kernels, "a kernel size", "space.kernels", "3,5")
    ks = tuple(dict.fromkeys(int(k) for k in kernels))
    if not ks:
        raise PresnetError("no candidate kernel", where="space.kernels", hint=f"choose at least one of {list(KERNELS)}")
    for k in ks:
        if k not in KERNELS:
            raise PresnetError(
                f"kernel {k} is not supported", where="space.kernels", hint=f"choose from {list(KERNELS)}"
            )
    return ks


def validate_activations(activations: str | Sequence[str]) -> tuple[str, ...]:
    """Candidate activations, from a list or text like ``"relu,mish"``; case and spaces ignored."""
    if isinstance(activations, str):
        activations = [a for a in activations.split(",") if a.strip()]
    acts = tuple(dict.fromkeys(str(a).strip().lower() for a in activations))
    if not acts:
        raise PresnetError(
            "no candidate activation", where="space.activations", hint=f"choose at least one of {list(ACTIVATIONS)}"
        )
    for a in acts:
        if a not in ACTIVATIONS:
            near = did_you_mean(a, ACTIVATIONS, ACTIVATION_ALIASES)
            raise PresnetError(
                f"unknown activation {a!r}" + (f" (did you mean {near!r}?)" if near else ""),
                where="space.activations",
                hint=f"choose from {list(ACTIVATIONS)}",
            )
    return acts


def joint_name(kernel: int, activation: str) -> str:
    """The name of a joint candidate, e.g. ``5x5/mish`` (the one place it is spelled)."""
    return f"{int(kernel)}x{int(kernel)}/{activation}"


def parse_joint(name: str) -> tuple[int, str]:
    """``5x5/mish`` -> (5, "mish")."""
    shape, _, activation = name.partition("/")
    return int(shape.partition("x")[0]), activation


def marginals(op_probs: dict[str, float]) -> dict[str, dict[str, float]]:
    """Kernel and activation marginals of a joint decision's pair probabilities."""
    out: dict[str, dict[str, float]] = {"kernel": {}, "activation": {}}
    for name, p in op_probs.items():
        k, a = parse_joint(name)
        out["kernel"][str(k)] = out["kernel"].get(str(k), 0.0) + p
        out["activation"][a] = out["activation"].get(a, 0.0) + p
    return out


def argmax_label(probs: Mapping[str, float], labels: Sequence[str] | None = None) -> str:
    """THE derive rule, used at any epoch, at the end of a search and by the stop criterion alike: the
    most probable candidate of a snapshot (probabilities as recorded in events), ties to the first in
    candidate order (``labels``; default the snapshot's own order, which is the space's).
    Candidates absent from ``probs`` (pruned) are never chosen."""
    present = [c for c in (probs if labels is None else labels) if c in probs]
    return max(present, key=lambda c: (probs[c], -present.index(c)))


def block_choice(probs: Mapping[str, Mapping[str, float]]) -> tuple[int, str]:
    """(kernel, activation) of one block's snapshot, factorized or joint, under :func:`argmax_label`
    (candidate order: the snapshot's, which is the space's)."""
    if JOINT_DECISION in probs:
        return parse_joint(argmax_label(probs[JOINT_DECISION], list(probs[JOINT_DECISION])))
    kernel = argmax_label(probs["kernel"], list(probs["kernel"]))
    return int(kernel), argmax_label(probs["activation"], list(probs["activation"]))
