"""One run seed, several independent random streams: one per purpose, spawned from ``run.seed``.

Each purpose (a split, a loader's order, the initial weights, the path sampler, random
architectures) draws from its own generator, seeded by :func:`stream`: ``numpy.random.SeedSequence``
with the run seed as entropy and ``(purpose, index)`` as spawn key -- what ``SeedSequence(seed).spawn``
gives, addressed by name.  SeedSequence hashes its input, so no two purposes share a stream and
neither do adjacent run seeds (seed 1's loader order is not seed 0's shifted by one, as it was when
each stream was ``seed + offset``).  Changing how one purpose draws never shifts another, and a
resumed run replays each exactly.  The values are part of a run's reproducibility: changing this
module changes every later result.

What the run seed does *not* move: the dataset itself.  The digits/synthetic test cut and the
synthetic images come from :data:`DATASET_SEED`, so runs with different seeds are tested on the same
images (their spread is the search's and the training's, not the test set's).
"""

from __future__ import annotations

import numpy as np

#: Every purpose a run draws random numbers for, each a spawn key (the numbers are part of results:
#: append new purposes, never renumber).
PURPOSES: dict[str, int] = {
    "split_test": 0,  # digits/synthetic: the test cut (from DATASET_SEED, not the run seed)
    "split_limit": 1,  # the ``limit_train`` subset
    "split_val": 2,  # train/validation: the alphas' split
    "loader_train": 3,  # shuffling and augmentation of the weights' split
    "loader_val": 4,  # of the alphas' split
    "loader_test": 5,  # (read in order; its generator is unused but kept apart)
    "loader_full_train": 6,  # the retrain's train + validation
    "search_init": 7,  # the supernet's initial weights
    "retrain_init": 8,  # the retrained network's initial weights
    "path_sampler": 9,  # the binarized paths (core.space.proxyless.PathSampler)
    "random_arch": 10,  # random architectures (baselines): index = which one
    "dataset": 11,  # synthetic images (from DATASET_SEED)
    "stats_sample": 12,  # the streamed image folder's sample for channel statistics
    "split_retrain_val": 13,  # the retrain's held-out validation share of train + validation
    "loader_retrain_val": 14,  # (read in order; its generator is unused but kept apart)
    "bn_calib": 15,  # the fixed training batches BatchNorm's statistics are recomputed on
    "curvature": 16,  # the curvature's fixed validation subset and its Lanczos start vector
    "perturbation": 17,  # the perturbation readout's fixed validation subset
}

#: The seed of the dataset's own randomness (synthetic images, the digits/synthetic test cut).
DATASET_SEED = 0


def stream(seed: int, purpose: str, index: int = 0) -> int:
    """The seed (0 <= s < 2**63, fit for ``torch.manual_seed`` and numpy) of one purpose's generator in
    a run seeded with ``seed``; ``index`` tells apart several streams of one purpose (random architecture
    ``index`` of a sweep)."""
    if purpose not in PURPOSES:
        raise KeyError(f"unknown random stream {purpose!r}; known: {', '.join(PURPOSES)}")
    seq = np.random.SeedSequence(seed, spawn_key=(PURPOSES[purpose], index))
    return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def rng(seed: int, purpose: str, index: int = 0) -> np.random.Generator:
    """A numpy generator on :func:`stream`'s seed (e.g. ``rng(seed, "random_arch", i)`` for random architecture i)."""
    return np.random.default_rng(stream(seed, purpose, index))


def random_arch_rng(seed: int, scope: str, index: int) -> np.random.Generator:
    """The generator that draws a sweep's ``index``-th random architecture of ``scope`` at ``seed``.

    The ``random_arch`` purpose's stream, keyed by the scope as well: every (scope, seed, index)
    gets an independent stream, none overlaps a training stream of the same seed, and adding a scope
    or raising K never changes the architectures drawn before.
    """
    scope_key = int.from_bytes(scope.encode(), "big")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PURPOSES["random_arch"], scope_key, index)))
