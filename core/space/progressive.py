"""The network side of a progressive search: freezing a decision, turning a plain block into a search block.

Both change a :class:`~core.space.network.SearchNet` in place, keeping every trained weight
that stays in the model (the same parameter objects, so an optimizer's momentum for them is
kept too), and rebuild the alpha rows through :meth:`SearchNet.reindex`.  The caller hands the
network's new parameter lists to its optimizers (:func:`core.train.progressive.refit_optimizers`).

Both are deterministic in structure: applying the same freezes and additions in the same
order to a freshly built network gives the same modules in the same order, hence the same
``state_dict`` keys and the same optimizer parameter order -- which is how a resumed run
rebuilds the network its checkpoint was written from (:func:`replay`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from core.space import BASE_ACTIVATION, BASE_KERNEL
from core.space.activations import create_activation, set_inplace
from core.space.network import Bottleneck, SearchBottleneck, SearchNet, _init_weights
from core.space.proxyless import MixedOp

#: {block id: {decision: candidate label}}, as ``stage_end`` events and checkpoints record it.
Frozen = dict[int, dict[str, str]]


def _alpha_rows(net: SearchNet) -> dict[tuple[str, int], torch.Tensor]:
    """Every open row's alpha values, keyed by (decision, block id), to carry across a reindex."""
    return {
        (d, bid): alpha.detach()[r].clone() for d, alpha in net.alphas().items() for r, bid in enumerate(net.rows[d])
    }


def freeze_decisions(net: SearchNet, frozen: Mapping[int, Mapping[str, str]]) -> None:
    """Pin each listed (block, decision) to one candidate, in place.

    The chosen candidate's module takes the mixed op's place in the block, with its trained
    weights and BatchNorm statistics; the other candidates leave the model (and, once the
    caller refits them, both optimizers), and so does the decision's alpha row.  The chosen
    candidate's activations are made not-in-place: a frozen activation may follow an open
    kernel decision, whose gate keeps its output for the backward pass.
    """
    keep = _alpha_rows(net)
    for bid, block in net.blocks():
        if bid not in frozen:
            continue
        if not isinstance(block, SearchBottleneck):
            raise ValueError(f"block {bid} is not a search block")
        for decision, label in frozen[bid].items():
            op = getattr(block, decision)
            if not isinstance(op, MixedOp):
                raise ValueError(f"block {bid}'s {decision} is frozen already")
            chosen = op.candidates[list(net.space.labels(decision)).index(str(label))]
            set_inplace(chosen, False)  # as it was among the candidates
            setattr(block, decision, chosen)
            block.mixed = [chosen if m is op else m for m in block.mixed]
    net.reindex(keep)


def add_search_blocks(net: SearchNet, block_ids: Iterable[int]) -> None:
    """Turn plain blocks of ``net.space`` into search blocks, on the weights they were trained with.

    The block's 1x1 convs, BatchNorms and shortcut are kept as they are.  Its trained 3x3 conv
    and BatchNorm become the 3x3 (3x3/ReLU in joint mode) candidate: the block was trained as
    3x3/ReLU, so that candidate is exactly the function the rest of the network has adapted
    to, and the network's output is unchanged whenever it is sampled.  Every other candidate
    starts fresh, with the same initialisation as in a direct search (torchvision's): copying
    the 3x3 weights into the 5x5 candidates (zero-padded) would start them as the same
    function and leave the stage's warm-up nothing to tell apart.  The inherited candidate
    starts ahead; the stage's warm-up (uniform paths, no architecture step) trains the fresh
    ones before the alphas move, as the first stage's warm-up does.  If the space has no 3x3
    (or no ReLU) candidate, every candidate starts fresh.  New rows' alphas start at zero.
    """
    wanted = set(block_ids)
    keep = _alpha_rows(net)
    space = net.space
    ids = {id(m): b for b, m in net.blocks()}
    for stage in net.net.stages():
        for i, block in enumerate(stage):
            bid = ids[id(block)]
            if bid not in wanted:
                continue
            if not isinstance(block, Bottleneck):
                raise ValueError(f"block {bid} is a search block already")
            stage[i] = _search_block_from(
                block, space.kernels, space.activations, space.pairs() if space.joint else None
            )
    net.reindex(keep)


def _search_block_from(
    block: Bottleneck, kernels: Sequence[int], activations: Sequence[str], pairs: Sequence[tuple[int, str]] | None
) -> SearchBottleneck:
    new = SearchBottleneck(
        block.conv1.in_channels, block.conv1.out_channels, block.conv2.stride[0], kernels, activations, pairs
    )
    _init_weights(new)  # the fresh candidates; the kept modules below keep their trained values
    new.conv1, new.bn1, new.conv3, new.bn3, new.downsample = (
        block.conv1,
        block.bn1,
        block.conv3,
        block.bn3,
        block.downsample,
    )
    inherited = nn.Sequential(block.conv2, block.bn2)
    if pairs is not None:
        if (BASE_KERNEL, BASE_ACTIVATION) in pairs:
            new.op.candidates[list(pairs).index((BASE_KERNEL, BASE_ACTIVATION))] = nn.Sequential(
                block.conv2, block.bn2, create_activation(BASE_ACTIVATION, False)
            )
    elif BASE_KERNEL in kernels:
        new.kernel.candidates[list(kernels).index(BASE_KERNEL)] = inherited
    return new.to(device=block.conv1.weight.device, dtype=block.conv1.weight.dtype)


def replay(net: SearchNet, steps: Sequence[tuple[str, object]]) -> None:
    """Apply a recorded sequence of ``("freeze", Frozen)`` and ``("add", [block ids])`` steps."""
    for kind, arg in steps:
        if kind == "freeze":
            freeze_decisions(net, {int(b): dict(d) for b, d in arg.items()})  # type: ignore[attr-defined]
        elif kind == "add":
            add_search_blocks(net, [int(b) for b in arg])  # type: ignore[attr-defined]
        else:
            raise ValueError(f"unknown progressive step {kind!r}")
