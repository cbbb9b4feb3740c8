"""Architectures drawn uniformly at random from a scope's space: Table I's "better than random?" row.

NAS evaluation work (Sciuto et al. 2019; Yang et al., ICLR 2020; Li & Talwalkar 2019) found
that many searches do not beat architectures sampled at random from the same space and
trained with the same recipe.  A sweep's ``--random K`` draws K such architectures per scope
and seed; each is retrained exactly like a searched one (``presnet retrain ARCH``) and
``compare`` reports the searched architectures' improvement over them.

Uniform over the space means: every searched block independently takes one of the (kernel,
activation) pairs the search itself could end on, each with the same probability.  The
choices come from the config's own :class:`~core.space.SearchSpace` (its kernels, activations
and the kernels ``space.void_kernels: prune`` removed), never from a copy of them.
"""

from __future__ import annotations

from core.config import Config
from core.space import scope_name
from core.space.arch import Architecture, BlockArch
from core.train.seeds import random_arch_rng


def block_options(config: Config) -> dict[int, list[tuple[int, str]]]:
    """Per searched block (deepest first), the (kernel, activation) pairs a search could derive there."""
    space = config.search_space()
    kernel_ok = space.allowed("kernel")
    return {
        block: [(int(k), a) for k, ok in zip(space.kernels, kernel_ok[row]) if ok for a in space.activations]
        for row, block in enumerate(space.block_ids)
    }


def num_classes(config: Config) -> int:
    """The class count a run of ``config`` trains on, known before any data is loaded (an
    architecture file names it, and the retrain refuses a mismatch)."""
    data = config.data
    if data.dataset == "synthetic":
        return data.synthetic_classes
    if data.dataset == "cifar100":
        return 100
    if data.dataset == "imagefolder":
        from core.train.datadir import check_image_folder

        train_dir, _ = check_image_folder(data.data_dir)
        return sum(1 for d in train_dir.iterdir() if d.is_dir())
    return 10  # cifar10, digits


def draw(config: Config, seed: int, index: int) -> Architecture:
    """The ``index``-th random architecture of ``config``'s scope at ``seed``: the same (scope, seed,
    index) always gives the same architecture (:func:`core.train.seeds.random_arch_rng`)."""
    scope = scope_name(config.space.scope)
    rng = random_arch_rng(seed, scope, index)
    blocks = {}
    for block, options in block_options(config).items():
        kernel, activation = options[int(rng.integers(len(options)))]
        blocks[block] = BlockArch(kernel=kernel, activation=activation)
    n = config.network
    return Architecture(
        blocks=blocks,
        stem=n.stem,
        width_mult=n.width_mult,
        depths=list(n.depths),
        num_classes=num_classes(config),
        source={"random": {"scope": scope, "seed": seed, "index": index, "stream": "core.train.seeds.random_arch_rng"}},
    )
