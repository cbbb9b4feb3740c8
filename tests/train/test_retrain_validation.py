"""The retrain's held-out validation share and BatchNorm recalibration (fast: no training)."""

from __future__ import annotations

import torch
from torch import nn

from core.config import DataConfig
from core.train.data import RetrainSplit, load_search_data, retrain_cut
from core.train.pipeline import make_loaders

CPU = torch.device("cpu")


def _all(loader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*list(loader), strict=True)
    return torch.cat(xs), torch.cat(ys)


def test_the_retrain_cut_is_seeded_stratified_and_disjoint():
    labels = torch.arange(1000) % 10
    keep, held = retrain_cut(labels, 0.1, 3)
    assert len(held) == 100 and torch.equal(torch.bincount(labels[held]), torch.full((10,), 10))
    assert set(keep.tolist()).isdisjoint(held.tolist()) and len(keep) + len(held) == 1000
    assert torch.equal(held, retrain_cut(labels, 0.1, 3)[1])  # fixed per seed
    assert not torch.equal(held, retrain_cut(labels, 0.1, 4)[1])


def test_retrain_loaders_validate_on_the_held_out_share_and_calibrate_on_fixed_batches():
    cfg = DataConfig(dataset="digits", batch_size=32, augment="pad_crop", flip=False)
    data = load_search_data(cfg, 3)
    n = len(data.train) + len(data.val)
    split = RetrainSplit(val_fraction=0.1, calib_batches=4)
    a = make_loaders(cfg, 3, CPU, False, retrain=split, data=data)
    b = make_loaders(cfg, 3, CPU, False, retrain=split, data=data)
    assert a.val is not None and a.calib is not None and b.val is not None and b.calib is not None
    val_x, val_y = _all(a.val)
    assert abs(len(val_y) - 0.1 * n) <= 10  # per-class rounding
    assert len(a.train) + len(val_y) == n  # type: ignore[arg-type]
    assert torch.equal(val_x, _all(b.val)[0])  # unaugmented, in order: the same images every epoch
    calib = list(a.calib)
    assert len(calib) == 4 and all(x.shape[0] == 32 for x, _ in calib)
    assert all(torch.equal(x, y) for (x, _), (y, _) in zip(calib, list(b.calib), strict=True))
    off = make_loaders(cfg, 3, CPU, False, retrain=RetrainSplit(0.1, 0), data=data)
    assert off.calib is None
    many = make_loaders(cfg, 3, CPU, False, retrain=RetrainSplit(0.1, 1000), data=data)
    assert many.calib is not None
    sizes = [x.shape[0] for x, _ in many.calib]  # as many full batches as the training part holds
    assert sizes == [32] * (len(a.train) // 32)  # type: ignore[arg-type]


def test_recalibration_replaces_stale_running_statistics_with_the_current_weights_ones():
    from core.train.meters import recalibrate_bn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    batches = [(torch.randn(8, 3, 6, 6) * 3 + 1, torch.zeros(8)) for _ in range(3)]
    bn = model[1]
    assert isinstance(bn, nn.BatchNorm2d)
    bn.running_mean.fill_(1e4)  # statistics of weights long gone
    recalibrate_bn(model, batches)
    with torch.no_grad():
        feats = torch.cat([model[0](x) for x, _ in batches])
    assert torch.allclose(bn.running_mean, feats.mean(dim=(0, 2, 3)), atol=1e-4)
    assert bn.momentum == 0.1 and model.training  # the library function restores both
    recalibrate_bn(model, None)  # off: nothing changes
    assert torch.allclose(bn.running_mean, feats.mean(dim=(0, 2, 3)), atol=1e-4)
