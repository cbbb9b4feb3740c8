"""One run seed, several independent random streams: the offset of each from ``run.seed``.

Each stream (a split, a loader's order, the retrain's initial weights) gets its own seed so
that changing how one draws never shifts another, and a resumed run replays each exactly.
The values are part of a run's reproducibility: changing one changes every later result.
"""

from __future__ import annotations

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
