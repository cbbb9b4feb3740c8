"""The retrain trains exactly as a plain training loop would (issue 43's guard).

The held-out validation split, the per-epoch validation and the BatchNorm recalibration were added
around the retrain's training; none of them may change *what it trains on* or *how*. This test
writes the plainest training of the same architecture -- same seed, the same training images (the
data less the held-out share), the same augmentation law, SGD with the config's settings and a
cosine schedule over the retrain's epochs, ``model.train()`` every step -- in a dozen lines of
torch, and asks the product's retrain to end with the same weights. Any change to the batches, their
order, the augmentation draws, the initialisation, the optimiser or the schedule, or evaluation
leaking into training (an evaluation that consumes the training generator, a recalibration that
moves weights, a model left in eval mode), makes it fail.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.space.arch import Architecture, BlockArch
from core.train.batches import LoaderBase
from core.train.data import load_search_data, retrain_cut
from core.train.pipeline import DeviceLoader
from core.train.seeds import stream

CPU = torch.device("cpu")


def _arch(cfg) -> Architecture:
    return Architecture(
        blocks={3: BlockArch(kernel=5, activation="mish"), 4: BlockArch(kernel=3, activation="leakyrelu")},
        stem=cfg.network.stem,
        width_mult=cfg.network.width_mult,
        depths=list(cfg.network.depths),
        num_classes=10,
    )


def _plain_training(cfg, arch: Architecture) -> dict[str, torch.Tensor]:
    """The reference: what a retrain of ``arch`` means, written without the product's loop."""
    seed, r = cfg.run.seed, cfg.retrain
    data = load_search_data(cfg.data, seed)
    full = data.full_train()
    keep, _held = retrain_cut(full.labels, r.val_fraction, seed)
    base = LoaderBase(cfg=cfg.data, mean=data.mean, std=data.std, device=CPU, channels_last=False)
    train = DeviceLoader(full.subset(keep), seed=stream(seed, "loader_full_train"), shuffle=True, augment=True, **base)
    torch.manual_seed(stream(seed, "retrain_init"))
    model = arch.build()
    opt = torch.optim.SGD(
        model.parameters(), lr=r.lr, momentum=r.momentum, nesterov=r.nesterov, weight_decay=r.weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=r.epochs)
    for _ in range(r.epochs):
        model.train()
        for x, y in train:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def test_the_retrain_trains_like_a_plain_loop_on_the_kept_images(tiny):
    from tests.conftest import start_job

    cfg = tiny(
        space={"scope": [3, 4]},
        data={"batch_size": 32, "augment": "pad_crop", "flip": True},
        retrain={"epochs": 2, "val_fraction": 0.2, "bn_recalib_batches": 3},
        run={"device": "cpu", "threads": 1, "channels_last": "off", "amp": "off"},
    )
    arch = _arch(cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the run does (run.threads): a sum split over other threads rounds otherwise
    try:
        reference = _plain_training(cfg, arch)
    finally:
        torch.set_num_threads(threads)
    runner, run, events = start_job(cfg, search=False, arch=arch)
    result = runner.wait()
    assert result.status == "done", result.message
    weights = torch.load(run.weights / "last.pt", map_location="cpu", weights_only=False)["model"]
    params = {k.removeprefix("module."): v for k, v in weights.items()}
    assert set(reference) <= set(params)
    for name, ref in reference.items():  # the same float operations in the same order: equal, not close
        assert torch.equal(params[name], ref), f"{name} differs from the plain training loop's"
    epochs = [e for e in events if type(e).__name__ == "RetrainEpochEnd"]
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[0].lr > epochs[1].lr  # the cosine schedule, stepped once per epoch
