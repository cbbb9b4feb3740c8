"""The retrain loop: the derived architecture trained from scratch, validated each epoch, tested once.

The retrain trains on train + val less a held-out share (``retrain.val_fraction``, seeded and
stratified): that share's top-1 is the per-epoch curve a person may steer by (stop, pick a
length), so the test set is read once, at the end, and chooses nothing. Before each evaluation
BatchNorm's running statistics are recomputed on fixed training batches
(:func:`core.train.loop.recalibrate_bn`).

The epoch/step skeleton (pause, interrupt, stop, faults, divergence, checkpoints) is
:class:`core.train.loop.Loop`'s; this module holds what only the retrain does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from core.run.checkpoint import Fingerprint, save_checkpoint
from core.run.events import RetrainDone, RetrainEpochEnd, RetrainStarted
from core.run.rundir import LAST_WEIGHTS
from core.space.arch import Architecture
from core.space.network import build_plain, count_params
from core.train.checkpoints import LoopHead, RetrainCheckpoint, RetrainSection
from core.train.data import RetrainSplit
from core.train.loop import Loop, LoopContext, sgd
from core.train.meters import Meter, evaluate, recalibrate_bn
from core.train.seeds import stream
from core.train.step import grad_scaler, train_step


def retrain_fingerprint(arch: Architecture) -> Fingerprint:
    return {"architecture": arch.model_dump(mode="json", exclude={"source"})}


@dataclass
class RetrainOutcome:
    epochs: int
    test_top1: float  #: measured once, on the final weights: no epoch is picked by its test score
    params: int
    stopped: bool
    val_top1: float | None = None  #: the last epoch's validation top-1

    @classmethod
    def of_checkpoint(cls, ckpt: RetrainCheckpoint, arch: Architecture) -> RetrainOutcome:
        """The result a finished retrain checkpoint holds (a resume after a kill past that checkpoint)."""
        r = ckpt.retrain
        return cls(ckpt.head.header.epoch_done, r.final_top1, count_params(arch.build()), r.stopped, r.last_val_top1)

    def done_event(self, weights: Path) -> RetrainDone:
        """The retrain's closing event; the job emits it once summary.json has the retrain's section."""
        return RetrainDone(
            epochs=self.epochs,
            test_top1=self.test_top1,
            val_top1=self.val_top1,
            params=self.params,
            stopped=self.stopped,
            weights=str(weights),
        )


class RetrainEngine(Loop):
    """Train the derived architecture from scratch; validate every epoch, test once at the end."""

    kind = "retrain"

    def __init__(self, ctx: LoopContext, arch: Architecture, weights_dir: Path) -> None:
        config = ctx.config
        split = RetrainSplit(config.retrain.val_fraction, config.retrain.bn_recalib_batches)
        super().__init__(ctx, init_seed=stream(config.run.seed, "retrain_init"), retrain=split)
        self.arch = arch
        self.weights_dir = weights_dir
        self.model = self._place(arch.build(), lambda m: list(m.parameters()))
        r = config.retrain
        #: what the training step calls: the model, or its compiled twin (same parameters; core.train.compiling)
        self.train_model = self._compiled(self.model, r.epochs * self.loaders.train.steps_per_epoch)
        self.opt = sgd(list(self.model.parameters()), r.lr, r.momentum, r.nesterov, r.weight_decay)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=r.epochs)
        self.scaler = grad_scaler(self.prec)
        self.stopped = False  # a stop request met; kept in the checkpoint
        self.last_val_top1: float | None = None
        self.test_top1: float | None = None  #: set once, after the last epoch
        self.meter = Meter(self.device)
        self.params = count_params(self.model)

    def fingerprint(self) -> Fingerprint:
        return retrain_fingerprint(self.arch)

    def checkpoint(self, head: LoopHead) -> RetrainCheckpoint:
        section = RetrainSection(
            model=self.model.state_dict(),
            opt=self.opt.state_dict(),
            sched=self.sched.state_dict(),
            scaler=self.scaler.state_dict(),
            train_loader=self.loaders.train.state_dict(),
            meter=self.meter.state_dict(),
            last_val_top1=self.last_val_top1,
            test_top1=self.test_top1,
            stopped=self.stopped,
        )
        return RetrainCheckpoint(head, section)

    @property
    def module(self) -> nn.Module:
        return self.model

    def meters(self) -> list[Meter]:
        return [self.meter]

    def load(self, ckpt: RetrainCheckpoint) -> None:
        r = ckpt.retrain
        self.model.load_state_dict(r.model)
        self.opt.load_state_dict(r.opt)
        self.sched.load_state_dict(r.sched)
        self.scaler.load_state_dict(r.scaler)
        self.loaders.train.load_state_dict(r.train_loader)
        self.meter.load_state_dict(r.meter)
        self.restore_head(ckpt.head)  # each rank's own epoch sums, and the torch RNG state
        self.last_val_top1 = r.last_val_top1
        self.test_top1 = r.test_top1
        self.stopped = bool(r.stopped)

    def started_event(self, resumed: bool) -> RetrainStarted:
        baseline = count_params(build_plain(self.arch.spec()))
        return RetrainStarted(
            epochs=self.config.retrain.epochs,
            params=self.params,
            baseline_params=baseline,
            steps_per_epoch=self.loaders.train.steps_per_epoch,
            architecture=self.arch.model_dump(mode="json"),
            start_epoch=self.epoch_done + 1,
            resumed=resumed,
            world_size=self.coll.world_size,
            global_batch_size=self.config.data.batch_size * self.coll.world_size,
            tuning=self.tuning,
        )

    def _save_weights(self, name: str) -> None:
        if not self.coll.is_main:
            return
        save_checkpoint(
            self.weights_dir / name,
            {"kind": "weights", "architecture": self.arch.model_dump(mode="json"), "model": self.model.state_dict()},
        )

    # -- the skeleton's hooks ------------------------------------------------------------
    def more_epochs(self) -> bool:
        return self.epoch_done < self.config.retrain.epochs and not self.stopped

    def epochs(self) -> int:
        return self.config.retrain.epochs

    def train_batch(self, x: torch.Tensor, y: torch.Tensor, epoch: int) -> None:
        loss, logits = train_step(self.train_model, self.opt, self.scaler, self.prec, x, y, self._grad_hook)
        self.meter.add(loss, logits, y)
        self.watch.observe(loss, self.global_step)

    def on_user_stop(self, epoch: int) -> None:
        self.stopped = True

    def _settle(self) -> None:
        """Every rank holds the same weights, BatchNorm statistics recomputed on them."""
        self.coll.agree(list(self.model.parameters()), "weights", "retrain")
        self.coll.broadcast(self.model)
        recalibrate_bn(self.model, self.loaders.calib)

    def end_epoch(self, epoch: int) -> None:
        """Validate the epoch's model, keep its weights (the last ones are the result), report; a
        stop-at-epoch met here is decided before the checkpoint, which keeps it (a kill in between)."""
        r = self.config.retrain
        self.sched.step()
        self._settle()  # every rank validates the same model on the whole validation split
        self.coll.fold(self.meter)
        assert self.loaders.val is not None
        val_loss, val_top1 = evaluate(self.model, self.loaders.val, self.prec)
        train_loss, train_top1 = self.meter.result()
        self.epoch_done, self.step = epoch, 0
        self.last_val_top1 = val_top1
        self.elapsed = self.since_start()
        self._save_weights(LAST_WEIGHTS)
        self.bus.emit(
            RetrainEpochEnd(
                epoch=epoch,
                epochs=r.epochs,
                train_loss=train_loss or 0.0,
                train_top1=train_top1 or 0.0,
                val_loss=val_loss,
                val_top1=val_top1,
                lr=self.opt.param_groups[0]["lr"],
                elapsed_s=round(self.elapsed, 3),
            )
        )
        ctl = self.control.poll()
        if ctl.stop_at_epoch is not None and epoch >= ctl.stop_at_epoch:
            self.stopped = epoch < r.epochs

    def run(self) -> RetrainOutcome:
        self.run_epochs()
        self.rank_digests = self.coll.digests(self.model, f"epoch {self.epoch_done} step {self.step}")
        if self.test_top1 is None:  # the one test measurement, on the final weights
            self._settle()
            self.test_top1 = evaluate(self.model, self.loaders.test, self.prec)[1]
            self._save_weights(LAST_WEIGHTS)
        test_top1 = self.test_top1
        assert test_top1 is not None
        self.save(finished=True)  # the job emits RetrainDone once summary.json has the retrain's section
        return RetrainOutcome(self.epoch_done, test_top1, self.params, self.stopped, self.last_val_top1)
