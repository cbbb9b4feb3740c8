"""One run seed, several independent random streams: the offset of each from ``run.seed``.

Each stream (a split, a loader's order, the retrain's initial weights) gets its own seed so
that changing how one draws never shifts another, and a resumed run replays each exactly.
The values are part of a run's reproducibility: changing one changes every later result.
"""

from __future__ import annotations

import numpy as np

#: Splits (core.train.data): the test set carved from digits/synthetic, and the ``limit_train`` subset.
SPLIT_TEST = 1
SPLIT_LIMIT = 2
#: Loaders' shuffling and augmentation (core.train.pipeline).
LOADER_TRAIN = 1
LOADER_VAL = 2
LOADER_TEST = 3
LOADER_FULL_TRAIN = 4
#: The retrain's initial weights: apart from the search's (which use ``run.seed`` itself).
RETRAIN_INIT = 100


def stream_seed(seed: int, offset: int) -> int:
    """The seed of one stream of a run seeded with ``seed``."""
    return seed + offset


#: The purpose tag of :func:`random_arch_rng`'s stream (arbitrary, fixed: changing it changes every draw).
RANDOM_ARCH = 0x52414E44  # "RAND"


def random_arch_rng(seed: int, scope: str, index: int) -> np.random.Generator:
    """The generator that draws a sweep's ``index``-th random architecture of ``scope`` at ``seed``.

    A :class:`numpy.random.SeedSequence` over (purpose, seed, scope, index) rather than an offset
    from ``seed``: every (scope, seed, index) gets a statistically independent stream, none of them
    overlaps a training stream of the same seed, and adding a scope or raising K never changes the
    architectures drawn before.
    """
    scope_key = int.from_bytes(scope.encode(), "big")
    return np.random.default_rng(np.random.SeedSequence([RANDOM_ARCH, int(seed), scope_key, int(index)]))
