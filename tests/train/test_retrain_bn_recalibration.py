"""The retrain evaluates with BatchNorm statistics recomputed on the final weights: a test that fails
when the recalibration before evaluation (core.train.loop.recalibrate_bn in the retrain) is removed.

Without it the kept weights carry the running averages training mode left behind (momentum 0.1 over
augmented batches of weights still moving), which differ from the plain average over the fixed
calibration batches with the final weights; with it they are that average, to float precision."""

from __future__ import annotations

import torch

from core.run.checkpoint import load_checkpoint
from core.run.rundir import LAST_WEIGHTS
from core.space.arch import Architecture, BlockArch
from core.train.data import RetrainSplit, load_search_data
from core.train.pipeline import make_loaders
from tests.conftest import SYNTHETIC_DATA, start_job, tiny_config


def test_the_kept_weights_carry_batchnorm_statistics_recomputed_on_the_calibration_batches(tmp_path):
    from torch.optim.swa_utils import update_bn

    cfg = tiny_config(
        tmp_path, data=SYNTHETIC_DATA, retrain={"epochs": 1, "bn_recalib_batches": 2}, space={"scope": [3]}
    )
    n = cfg.network
    arch = Architecture(
        blocks={3: BlockArch(kernel=3, activation="relu")},
        stem=n.stem,
        width_mult=n.width_mult,
        depths=list(n.depths),
        num_classes=cfg.data.synthetic_classes,
    )
    runner, run, _ = start_job(cfg, search=False, arch=arch)
    result = runner.wait(300)
    assert result is not None and result.status == "done"
    kept = load_checkpoint(run.weights / LAST_WEIGHTS, "weights")["model"]
    model = arch.build()
    model.load_state_dict(kept)
    stored = {k: v.clone() for k, v in model.state_dict().items() if k.endswith(("running_mean", "running_var"))}
    assert stored, "the network has BatchNorm layers"
    data = load_search_data(cfg.data, cfg.run.seed)
    split = RetrainSplit(cfg.retrain.val_fraction, cfg.retrain.bn_recalib_batches)
    loaders = make_loaders(cfg.data, cfg.run.seed, torch.device("cpu"), False, retrain=split, data=data)
    assert loaders.calib is not None
    update_bn(loaders.calib, model)
    fresh = model.state_dict()
    worst = max(float((stored[k] - fresh[k]).abs().max()) for k in stored)
    assert worst < 1e-4, f"BatchNorm statistics differ from a recalibration by up to {worst:.3g}"
