"""Independent random streams from one run seed, and a test set that does not move with it."""

from __future__ import annotations

import pytest
import torch

from core.config import DataConfig
from core.train.data import load_search_data
from core.train.seeds import PURPOSES, rng, stream


def test_no_two_purposes_and_no_adjacent_seeds_share_a_stream():
    seeds = {(seed, purpose): stream(seed, purpose) for seed in range(4) for purpose in PURPOSES}
    assert len(set(seeds.values())) == len(seeds)  # all distinct
    assert all(0 <= s < 2**63 for s in seeds.values())
    # seed 1's loader order is not seed 0's shifted by one purpose (as seed + offset streams were)
    assert stream(1, "loader_train") not in {stream(0, p) for p in PURPOSES}
    assert stream(0, "random_arch", 0) != stream(0, "random_arch", 1)
    assert rng(5, "random_arch", 2).integers(1 << 30) == rng(5, "random_arch", 2).integers(1 << 30)
    with pytest.raises(KeyError):
        stream(0, "no_such_purpose")


@pytest.mark.parametrize("dataset", ["digits", "synthetic"])
def test_the_test_set_stays_put_while_the_seed_moves_the_validation_split(dataset):
    cfg = DataConfig(dataset=dataset, synthetic_size=200)
    a, b = load_search_data(cfg, seed=0), load_search_data(cfg, seed=1)
    assert torch.equal(a.test.images, b.test.images) and torch.equal(a.test.labels, b.test.labels)
    assert not torch.equal(a.val.images, b.val.images)  # the seed still draws the alphas' split
