"""Datasets, the search split and the on-device augmentation."""

from __future__ import annotations

import pytest
import torch

from core.config import DataConfig
from core.errors import PresnetError
from core.train.augment import crop_thetas, warp
from core.train.data import load_search_data, stratified_split
from core.train.pipeline import DeviceLoader, make_loaders

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def subset_data(cifar_subset):
    cfg = DataConfig(dataset="imagefolder", data_dir=cifar_subset)
    return cfg, load_search_data(cfg, seed=0)


def test_subset_split_is_stratified_and_disjoint(subset_data):
    cfg, data = subset_data
    assert len(data.train) + len(data.val) == 10_000 and len(data.test) == 2_000
    assert data.classes[:3] == ["airplane", "automobile", "bird"]
    assert torch.bincount(data.val.labels).tolist() == [100] * 10
    assert torch.bincount(data.train.labels).tolist() == [900] * 10
    assert data.train.images.dtype == torch.uint8 and data.train.images.shape[1:] == (3, 32, 32)


def test_split_indices_do_not_overlap_and_cover_everything():
    labels = torch.arange(1000) % 7
    kept, held = stratified_split(labels, 0.2, seed=3)
    assert len(set(kept.tolist()) & set(held.tolist())) == 0
    assert sorted(kept.tolist() + held.tolist()) == list(range(1000))
    again, _ = stratified_split(labels, 0.2, seed=3)
    other, _ = stratified_split(labels, 0.2, seed=4)
    assert torch.equal(kept, again) and not torch.equal(kept, other)


def test_train_val_test_images_are_different_files(subset_data):
    _, data = subset_data

    def keys(s):
        return {hash(img.numpy().tobytes()) for img in s.images}

    tr, va = keys(data.train), keys(data.val)
    assert not (tr & va)


def test_augmented_batches_shapes_dtypes_ranges(subset_data):
    cfg, data = subset_data
    loader = DeviceLoader(data.train, cfg, data.mean, data.std, CPU, seed=0, shuffle=True, augment=True)
    loader.start_epoch()
    x, y = loader.next()
    assert x.shape == (64, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.long
    lo = (0 - torch.tensor(data.mean)) / torch.tensor(data.std)
    hi = (1 - torch.tensor(data.mean)) / torch.tensor(data.std)
    assert torch.isfinite(x).all()
    for c in range(3):
        assert x[:, c].min() >= lo[c] - 1e-4 and x[:, c].max() <= hi[c] + 1e-4
    # normalised: roughly zero mean, unit std over a plain (unaugmented) pass
    plain = DeviceLoader(data.train, cfg, data.mean, data.std, CPU, seed=0, shuffle=False, augment=False)
    xs = torch.cat([b for b, _ in plain])
    assert xs.mean().abs() < 0.05 and (xs.std() - 1).abs() < 0.05


def test_crop_and_flip_are_really_applied(subset_data):
    cfg, data = subset_data
    aug = DeviceLoader(data.train, cfg, data.mean, data.std, CPU, seed=0, shuffle=False, augment=True)
    plain = DeviceLoader(data.train, cfg, data.mean, data.std, CPU, seed=0, shuffle=False, augment=False)
    xa, _ = next(iter(aug))
    xp, _ = next(iter(plain))
    changed = ((xa - xp).abs().flatten(1).mean(1) > 0.05).float().mean()
    assert changed > 0.9
    theta = crop_thetas(4000, cfg, 32, 32, torch.Generator().manual_seed(0), CPU)
    flips = (theta[:, 0, 0] < 0).float().mean()
    assert 0.45 < flips < 0.55
    areas = (theta[:, 0, 0].abs() * theta[:, 1, 1]).tolist()
    assert min(areas) >= cfg.crop_scale_min * 0.99 - 1e-6 and max(areas) <= 1.0


def test_warp_geometry_is_exact_for_flip_and_shift():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    flip = torch.tensor([[[-1.0, 0, 0], [0, 1, 0]]] * 2)
    assert torch.allclose(warp(x, flip, 8), torch.flip(x, dims=[3]), atol=1e-4)
    shift = torch.tensor([[[1.0, 0, 2 * 2 / 8], [0, 1, 0]]] * 2)  # read 2 pixels to the right
    out = warp(x, shift, 8)
    assert torch.allclose(out[..., :6], x[..., 2:], atol=1e-4) and (out[..., 6:] == 0).all()


def test_same_seed_same_batches():
    cfg = DataConfig(dataset="synthetic", synthetic_size=300, batch_size=16)
    a = make_loaders(cfg, 5, CPU, False, retrain=None)
    b = make_loaders(cfg, 5, CPU, False, retrain=None)
    c = make_loaders(cfg, 6, CPU, False, retrain=None)
    for loaders in (a, b, c):
        loaders.train.start_epoch()
    for _ in range(3):
        (xa, ya), (xb, yb), (xc, _) = a.train.next(), b.train.next(), c.train.next()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(xa, xc)


def test_loader_state_resumes_mid_epoch():
    cfg = DataConfig(dataset="synthetic", synthetic_size=300, batch_size=16)
    a = make_loaders(cfg, 5, CPU, False, retrain=None).train
    a.start_epoch()
    a.next()
    state = a.state_dict()
    expected = [a.next()[0] for _ in range(3)]
    b = make_loaders(cfg, 5, CPU, False, retrain=None).train
    b.load_state_dict(state)
    assert all(torch.equal(e, b.next()[0]) for e in expected)


def test_a_loader_saved_before_its_epochs_first_batch_resumes_that_epochs_order():
    """begin_epoch starts an epoch once: a state saved between an epoch's start and its first batch
    (a signal met at the epoch boundary) continues that order, and the epoch after draws afresh."""
    cfg = DataConfig(dataset="synthetic", synthetic_size=300, batch_size=16)
    a = make_loaders(cfg, 5, CPU, False, retrain=None).train
    a.begin_epoch()
    state = a.state_dict()
    a.begin_epoch()  # not started again: the saved state is still where it was
    expected = [a.next()[0] for _ in range(a.steps_per_epoch)]
    b = make_loaders(cfg, 5, CPU, False, retrain=None).train
    b.load_state_dict(state)
    b.begin_epoch()
    assert all(torch.equal(e, b.next()[0]) for e in expected)
    a.begin_epoch(), b.begin_epoch()  # both used up: the next epoch is a new draw, the same on both
    first = a.next()[0]
    assert torch.equal(first, b.next()[0]) and not torch.equal(first, expected[0])


def test_digits_is_embedded_and_balanced():
    data = load_search_data(DataConfig(dataset="digits"), seed=0)
    assert data.num_classes == 10 and data.train.images.shape[1:] == (3, 32, 32)
    assert len(data.train) + len(data.val) + len(data.test) == 1797
    counts = torch.bincount(data.test.labels)
    assert counts.min() >= 30


def test_missing_cifar_is_a_clear_error(tmp_path):
    with pytest.raises(PresnetError) as err:
        load_search_data(DataConfig(dataset="cifar10", data_dir=tmp_path), seed=0)
    assert "--download" in err.value.line() and str(tmp_path) in err.value.line()


def test_bad_image_folders(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    (tmp_path / "test" / "b").mkdir(parents=True)
    with pytest.raises(PresnetError, match="classes differ"):
        load_search_data(DataConfig(dataset="imagefolder", data_dir=tmp_path), seed=0)
    with pytest.raises(PresnetError, match="does not exist"):
        load_search_data(DataConfig(dataset="imagefolder", data_dir=tmp_path / "nope"), seed=0)
    empty = tmp_path / "empty"
    (empty / "train").mkdir(parents=True)
    (empty / "test").mkdir()
    with pytest.raises(PresnetError, match="no class folders"):
        load_search_data(DataConfig(dataset="imagefolder", data_dir=empty), seed=0)
    bad = tmp_path / "bad"
    for part in ("train", "test"):
        (bad / part / "cat").mkdir(parents=True)
        (bad / part / "cat" / "x.jpg").write_bytes(b"not an image")
    with pytest.raises(PresnetError, match="cannot read image"):
        load_search_data(DataConfig(dataset="imagefolder", data_dir=bad), seed=0)


def test_stream_pipeline_reads_the_folder_in_batches(cifar_subset):
    cfg = DataConfig(
        dataset="imagefolder", data_dir=cifar_subset, pipeline="stream", workers=0, limit_train=400, batch_size=32
    )
    loaders = make_loaders(cfg, 0, CPU, False, retrain=None)
    assert loaders.num_classes == 10
    assert loaders.train.steps_per_epoch == 360 // 32  # 400 kept, 10 % held out for the alphas
    loaders.train.start_epoch()
    x, y = loaders.train.next()
    assert x.shape == (32, 3, 32, 32) and x.dtype == torch.float32 and y.shape == (32,)
    loaders.train.next()
    state = loaders.train.state_dict()
    following = loaders.train.next()[1]
    again = make_loaders(cfg, 0, CPU, False, retrain=None).train
    again.load_state_dict(state)
    assert torch.equal(again.next()[1], following)  # same images (labels) after a resume


def test_stream_pipeline_is_for_image_folders_only():
    with pytest.raises(PresnetError, match="image folders"):
        make_loaders(DataConfig(dataset="digits", pipeline="stream"), 0, CPU, False, retrain=None)
