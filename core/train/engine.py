"""The search and retrain loops.

Both loops follow the same discipline: no host sync in the step (metrics stay on
the device until the epoch ends, divergence is tracked by a device-side flag),
one ``stat`` of the control file per step, and a checkpoint that records the
loaders' positions and the event file's length, so that a resume continues with
the same batches and cuts the event file back to what the checkpoint knew.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.config import Config
from core.errors import PresnetError
from core.faults import fault_point
from core.run.checkpoint import save_checkpoint
from core.run.control import Control
from core.run.events import (
    Alphas,
    AlphaSnapshot,
    Converged,
    EpochEnd,
    EventBus,
    Progress,
    RetrainDone,
    RetrainEpochEnd,
    RetrainStarted,
    SearchStarted,
    StageStart,
    State,
    StopReason,
    Unstable,
)
from core.scale import distributed
from core.space import SearchSpace, block_stage
from core.space.arch import Architecture, from_choices, merged_choices, snapshot_to_choices
from core.space.cost import build_cost_term
from core.space.network import BlockChoice, NetSpec, SearchNet, build_plain, count_params, net_spec
from core.space.proxyless import Mode, NonFiniteAlphas, PathSampler
from core.train.convergence import ConvergenceTracker, snapshot_change
from core.train.data import SearchData
from core.train.device import Precision, configure_torch, resolve_device
from core.train.pipeline import Loaders, make_loaders
from core.train.progressive import StageController, refit_optimizers
from core.train.seeds import RETRAIN_INIT, stream_seed
from core.train.step import arch_step, forward_loss, grad_scaler, train_step

PROGRESS_INTERVAL_S = 0.5


class Interrupted(Exception):
    """The run was interrupted (Ctrl+C, quitting the TUI): a resumable checkpoint was written."""


class Diverged(PresnetError):
    """The loss or the alphas became non-finite: the search or retrain stops with reason ``error``."""


class Meter:
    """Loss and top-1 sums kept on the device, read once per epoch."""

    def __init__(self, device: torch.device) -> None:
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.long)
        self.n = 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        self.loss += loss.detach().float() * y.shape[0]
        self.correct += (logits.detach().argmax(dim=1) == y).sum()
        self.n += int(y.shape[0])

    def result(self) -> tuple[float | None, float | None]:
        if self.n == 0:
            return None, None
        return float(self.loss) / self.n, float(self.correct) / self.n

    def state_dict(self) -> dict[str, Any]:
        return {"loss": float(self.loss), "correct": int(self.correct), "n": self.n}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.loss.fill_(s["loss"])
        self.correct.fill_(s["correct"])
        self.n = int(s["n"])


class DivergenceWatch:
    """Remembers the first step whose loss was not finite, without syncing each step."""

    def __init__(self, device: torch.device) -> None:
        self.first_bad = torch.full((), -1, device=device, dtype=torch.long)

    def observe(self, loss: torch.Tensor, step: int) -> None:
        bad = ~torch.isfinite(loss.detach())
        self.first_bad = torch.where(bad & (self.first_bad < 0), step, self.first_bad)

    def check(self, where: str) -> None:
        step = int(self.first_bad)
        if step >= 0:
            raise Diverged(
                f"loss became non-finite at global step {step}",
                where=where,
                hint="lower the learning rate; the last good checkpoint is kept",
            )


class ProgressClock:
    """Rate-limited progress events with images/s and an ETA for the phase."""

    def __init__(self, bus: EventBus, batch_size: int) -> None:
        self.bus = bus
        self.batch_size = batch_size
        self.last = time.monotonic()
        self.images = 0
        self.rate = 0.0

    def tick(self, phase: str, epoch: int, epochs: int, step: int, spe: int) -> None:
        self.images += self.batch_size
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL_S and step != spe:
            return
        self.rate = self.images / max(now - self.last, 1e-9)
        self.last, self.images = now, 0
        remaining = (epochs - epoch) * spe + (spe - step)
        eta = remaining * self.batch_size / self.rate if self.rate > 0 else None
        self.bus.emit(
            Progress(
                phase=phase,
                epoch=epoch,
                epochs=epochs,
                step=step,
                steps_per_epoch=spe,
                images_per_s=round(self.rate, 1),
                eta_s=eta,
            )
        )


def sgd(params: list[nn.Parameter], lr: float, momentum: float, nesterov: bool, wd: float) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov and momentum > 0, weight_decay=wd)


def search_fingerprint(spec: NetSpec, space: SearchSpace, stages: list[list[int]] | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {}  # only when set, so that checkpoints written before these options still match
    if stages is not None:
        extra["progressive"] = stages
    if space.joint:
        extra["candidates"] = "joint"
    if space.pruned:
        extra["pruned"] = [list(p) for p in space.pruned]
    return extra | {
        "num_classes": spec.num_classes,
        "stem": spec.stem,
        "width_mult": spec.width_mult,
        "depths": list(spec.depths),
        "block_ids": list(space.block_ids),
        "kernels": list(space.kernels),
        "activations": list(space.activations),
    }


def retrain_fingerprint(arch: Architecture) -> dict[str, Any]:
    return {"architecture": arch.model_dump(mode="json", exclude={"source"})}


@torch.no_grad()
def evaluate(model: nn.Module, loader: Any, prec: Precision) -> tuple[float, float]:
    """Loss and top-1 of ``model`` in eval mode over a whole loader."""
    was_training = model.training
    model.eval()
    meter = Meter(prec.device)
    for x, y in loader:
        meter.add(*forward_loss(model, x, y, prec), y)
    model.train(was_training)
    loss, top1 = meter.result()
    return float(loss or 0.0), float(top1 or 0.0)


class _Loop:
    """What the search and the retrain loop share: the run's config, bus, control and checkpoint path,
    the device and precision, the process group's place, and the data loaders of this rank."""

    def __init__(
        self,
        config: Config,
        bus: EventBus,
        control: Control,
        ckpt_path: Any,
        events_offset: Callable[[], int],
        *,
        init_seed: int,
        retrain: bool,
        data: SearchData | None,
    ) -> None:
        self.config = config
        self.bus = bus
        self.control = control
        self.ckpt_path = ckpt_path
        self.events_offset = events_offset
        self.device = resolve_device(config.run.device)
        self.prec = configure_torch(config.run, self.device)
        torch.manual_seed(init_seed)  # before the network is built: its initial weights follow from the seed
        self.dist = distributed.current()
        self.loaders: Loaders = make_loaders(
            config.data,
            config.run.seed,
            self.device,
            self.prec.channels_last,
            retrain=retrain,
            data=data,
            shard=(self.dist.rank, self.dist.world_size),
        )
        self.rank_digests: list[str] = []
        self._grad_hook: Callable[[], None] | None = None

    # what a loop names differently: its checkpoint, its network, its epoch meters
    def state(self, finished: bool = False) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def module(self) -> nn.Module:
        raise NotImplementedError

    def meters(self) -> list[Meter]:
        raise NotImplementedError

    def save(self, finished: bool = False) -> None:
        if self.dist.distributed:  # collective: rank 0's checkpoint must hold what every rank holds
            meters = distributed.gather_objects([m.state_dict() for m in self.meters()])
            distributed.broadcast_buffers(self.module)
            if self.dist.is_main:
                save_checkpoint(self.ckpt_path, {**self.state(finished), "rank_meters": meters})
            return
        save_checkpoint(self.ckpt_path, self.state(finished))

    def _place(self, model: nn.Module, weights: Callable[[Any], list[nn.Parameter]]) -> Any:
        """The model on the device (channels_last when asked); distributed, with BatchNorm synchronised
        if ``network.sync_bn`` and the gradients of ``weights(model)`` averaged across ranks after each backward."""
        model = model.to(self.device)
        if self.prec.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.dist.distributed:  # one process: none of this, today's path
            if self.config.network.sync_bn:
                model = distributed.sync_batchnorm(model, self.dist, self.device)
            self._grad_hook = distributed.gradient_hook(weights(model))
        return model


@dataclass
class SearchOutcome:
    epoch: int
    reason: StopReason
    alphas: AlphaSnapshot
    architecture: Architecture
    elapsed_s: float


class SearchEngine(_Loop):
    """Alternating ProxylessNAS optimisation: SGD on weights (train split), Adam on alphas (val split)."""

    def __init__(
        self,
        config: Config,
        bus: EventBus,
        control: Control,
        ckpt_path: Any,
        events_offset: Callable[[], int],
        data: SearchData | None = None,
    ) -> None:
        super().__init__(
            config, bus, control, ckpt_path, events_offset, init_seed=config.run.seed, retrain=False, data=data
        )
        self.space = config.search_space()
        self.spec = net_spec(config, self.loaders.num_classes)
        #: a progressive search's stages (core.train.progressive); None for a direct search
        self.stages = StageController(config) if config.search.progressive is not None else None
        active = self.stages.initial_blocks() if self.stages else None
        self.net: SearchNet = self._place(SearchNet(self.spec, self.space, active), lambda m: m.weight_parameters())
        self._gate_hook = distributed.average_gate_gradients if self.dist.distributed else None
        s = config.search
        self.w_opt = sgd(self.net.weight_parameters(), s.lr, s.momentum, s.nesterov, s.weight_decay)
        self.a_opt = torch.optim.Adam(
            self.net.arch_parameters(), lr=s.arch_lr, betas=s.arch_betas, weight_decay=s.arch_weight_decay
        )
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, T_max=s.epochs)
        self.scaler = grad_scaler(self.prec)
        self.arch_scaler = grad_scaler(self.prec)
        self.sampler = PathSampler(config.run.seed)
        self.tracker = ConvergenceTracker(s.patience, s.margin, s.threshold)
        self.prev_alphas: AlphaSnapshot | None = None  # last epoch's snapshot, for the per-epoch change
        self.stopping: StopReason | None = None  # decided at an epoch's end, kept in its checkpoint
        self.mode = Mode(s.estimator)
        self.epoch_done = 0
        self.step = 0
        self.global_step = 0
        self.arch_steps = 0
        self.elapsed = 0.0
        self.train_meter = Meter(self.device)
        self.val_meter = Meter(self.device)
        self.watch = DivergenceWatch(self.device)
        self.cost = build_cost_term(s.cost, self.net, config.data.image_size) if s.cost is not None else None

    # -- checkpoints -------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        return search_fingerprint(self.spec, self.space, self.config.progressive_stages())

    def state(self, finished: bool = False) -> dict[str, Any]:
        """The checkpoint; ``finished`` (as in the retrain's): the phase ran to its end, nothing is left to redo."""
        return {
            "kind": "search",
            "fingerprint": self.fingerprint(),
            "epoch_done": self.epoch_done,
            "step": self.step,
            "global_step": self.global_step,
            "arch_steps": self.arch_steps,
            "elapsed": self.elapsed,
            "model": self.net.state_dict(),
            "w_opt": self.w_opt.state_dict(),
            "a_opt": self.a_opt.state_dict(),
            "sched": self.sched.state_dict(),
            "scaler": self.scaler.state_dict(),
            "arch_scaler": self.arch_scaler.state_dict(),
            "sampler": self.sampler.state(),
            "train_loader": self.loaders.train.state_dict(),
            "val_loader": self.loaders.val.state_dict(),
            "tracker": self.tracker.state_dict(),
            "prev_alphas": self.prev_alphas,
            "stopping": self.stopping.value if self.stopping else None,
            "meters": {"train": self.train_meter.state_dict(), "val": self.val_meter.state_dict()},
            "events_offset": self.events_offset(),
            "finished": finished,
            "torch_rng": torch.get_rng_state(),
            "world_size": self.dist.world_size,
            **({"progressive": self.stages.state_dict()} if self.stages else {}),
        }

    @property
    def module(self) -> nn.Module:
        return self.net

    def meters(self) -> list[Meter]:
        return [self.train_meter, self.val_meter]

    def load(self, payload: dict[str, Any]) -> None:
        if self.stages:  # the network's structure first: the stages' freezes and additions, replayed
            self.stages.load_state_dict(payload["progressive"], self.net)
            self._refit()
        self.net.load_state_dict(payload["model"])
        self.w_opt.load_state_dict(payload["w_opt"])
        self.a_opt.load_state_dict(payload["a_opt"])
        self.sched.load_state_dict(payload["sched"])
        self.scaler.load_state_dict(payload["scaler"])
        if "arch_scaler" in payload:  # older checkpoints lack it: a fresh scaler recalibrates in a few steps
            self.arch_scaler.load_state_dict(payload["arch_scaler"])
        self.sampler.load_state(payload["sampler"])
        self.loaders.train.load_state_dict(payload["train_loader"])
        self.loaders.val.load_state_dict(payload["val_loader"])
        self.tracker.load_state_dict(payload["tracker"])
        self.prev_alphas = payload.get("prev_alphas")
        self.stopping = StopReason(payload["stopping"]) if payload.get("stopping") else None
        self.train_meter.load_state_dict(payload["meters"]["train"])
        self.val_meter.load_state_dict(payload["meters"]["val"])
        if self.dist.distributed:  # each rank's own epoch sums
            train, val = payload["rank_meters"][self.dist.rank]
            self.train_meter.load_state_dict(train)
            self.val_meter.load_state_dict(val)
        torch.set_rng_state(payload["torch_rng"])
        for key in ("epoch_done", "step", "global_step", "arch_steps"):
            setattr(self, key, int(payload[key]))
        self.elapsed = float(payload["elapsed"])

    # -- steps ---------------------------------------------------------------------------
    def weight_step(self, x: torch.Tensor, y: torch.Tensor, warmup: bool) -> None:
        self.net.sample_weight_paths(self.sampler, uniform=warmup)
        loss, logits = train_step(self.net, self.w_opt, self.scaler, self.prec, x, y, self._grad_hook)
        self.train_meter.add(loss, logits, y)
        self.watch.observe(loss, self.global_step)

    def arch_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        loss, logits = arch_step(
            self.net,
            self.sampler,
            self.mode,
            self.a_opt,
            self.arch_scaler,
            self.prec,
            x,
            y,
            cost=self.cost,
            reduce_gates=self._gate_hook,
            reduce_loss=distributed.mean_over_ranks if self.dist.distributed and self.cost is not None else None,
        )
        self.val_meter.add(loss, logits, y)
        self.watch.observe(loss, self.global_step)
        self.arch_steps += 1

    def search_step(self, x: torch.Tensor, y: torch.Tensor, warmup: bool, epoch: int) -> None:
        """One weight step and, every ``arch_every`` steps after warm-up, one architecture step."""
        s = self.config.search
        try:
            self.weight_step(x, y, warmup=warmup)
            if warmup or self.global_step % s.arch_every != 0:
                return
            self.arch_step(*self.loaders.val.cycle())
            if self.arch_steps % s.alphas_every == 0:
                self.check_ranks()
                self.bus.emit(
                    Alphas(
                        epoch=epoch,
                        step=self.step + 1,
                        steps_per_epoch=self.loaders.train.steps_per_epoch,
                        arch_step=self.arch_steps,
                        alphas=self.alpha_snapshot(),
                    )
                )
        except NonFiniteAlphas:
            self.watch.check("search")
            raise Diverged(
                f"architecture parameters became non-finite by global step {self.global_step}",
                where="search",
                hint="lower arch_lr; the last good checkpoint is kept",
            ) from None

    # -- loop ------------------------------------------------------------------------------
    def started_event(self, resumed: bool) -> SearchStarted:
        return SearchStarted(
            config=self.config.model_dump(mode="json"),
            block_ids=list(self.space.block_ids),
            stages={str(b): block_stage(b, self.space.depths) for b in self.space.block_ids},
            candidates={d: list(self.space.labels(d)) for d in self.space.decisions},
            params=count_params(self.net) - sum(p.numel() for p in self.net.arch_parameters()),
            num_classes=self.spec.num_classes,
            steps_per_epoch=self.loaders.train.steps_per_epoch,
            epochs=self.config.search.epochs,
            start_epoch=self.epoch_done + 1,
            resumed=resumed,
            device=str(self.device),
            world_size=self.dist.world_size,
            global_batch_size=self.config.data.batch_size * self.dist.world_size,
            progressive=self.stages.where() if self.stages else None,
        )

    def check_ranks(self, weights: bool = False) -> None:
        """Distributed: the alphas (and, once an epoch, the weights) must agree on every rank."""
        if self.dist.distributed:
            distributed.check_agreement(self.net.arch_parameters(), "alphas", "search")
            if weights:
                distributed.check_agreement(self.net.weight_parameters(), "weights", "search")

    def run(self) -> SearchOutcome:
        s = self.config.search
        spe = self.loaders.train.steps_per_epoch
        clock = ProgressClock(self.bus, self.config.data.batch_size * self.dist.world_size)
        t0 = time.monotonic() - self.elapsed
        self.net.train()
        reason = self.stopping or StopReason.COMPLETED  # a resume after the last epoch's stop was decided

        def paused_events(paused: bool) -> None:
            self.bus.emit(State(state="paused" if paused else "running", epoch=self.epoch_done + 1))

        if self.stages and self.global_step == 0 and self.epoch_done == 0:
            self.bus.emit(self.stages.start_event())
        while self.stopping is None and self.epoch_done < s.epochs:
            epoch = self.epoch_done + 1
            warmup = self.stages.is_warmup(epoch) if self.stages else epoch <= s.warmup_epochs
            phase = "warmup" if warmup else "search"
            if self.step == 0:
                self.loaders.train.start_epoch()
                self.train_meter = Meter(self.device)
                self.val_meter = Meter(self.device)
            stop_now = False
            while self.step < spe:
                ctl = self.control.wait_while_paused(paused_events)
                if ctl.interrupt:
                    self.elapsed = time.monotonic() - t0
                    self.save()
                    raise Interrupted(f"search interrupted in epoch {epoch}")
                if ctl.stop:
                    stop_now = True
                    break
                fault_point("search_step", self.global_step)  # test-only (core.faults)
                batch = self.loaders.train.next()
                assert batch is not None
                self.search_step(*batch, warmup=warmup, epoch=epoch)
                self.step += 1
                self.global_step += 1
                clock.tick(phase, epoch, s.epochs, self.step, spe)
            if self.dist.distributed:  # a non-finite loss on any rank ends every rank
                distributed.max_(self.watch.first_bad)
            self.watch.check("search")
            self.elapsed = time.monotonic() - t0
            if stop_now:
                reason = StopReason.USER
                self.bus.emit(
                    Alphas(
                        epoch=epoch,
                        step=self.step,
                        steps_per_epoch=spe,
                        arch_step=self.arch_steps,
                        alphas=self.alpha_snapshot(),
                    )
                )
                break
            stop = self.end_epoch(epoch, phase)
            if stop is not None:
                reason = stop
                break
        snapshot = self.alpha_snapshot()  # live: a stop mid-epoch derives from the alphas as they are now
        if self.dist.distributed:  # every rank's final state, bit for bit (summary.json records them)
            distributed.broadcast_buffers(self.net)
            where = f"epoch {self.epoch_done} step {self.step} arch step {self.arch_steps}"
            self.rank_digests = distributed.gather_digests(distributed.state_digest(self.net, where))
        arch = from_choices(  # the same rule as derive-at-epoch, on the same (recorded) probabilities
            self.choices(snapshot),
            self.spec,
            source={"epoch": self.epoch_done, "stop_reason": reason.value},
        )
        return SearchOutcome(self.epoch_done, reason, snapshot, arch, self.elapsed)

    def end_epoch(self, epoch: int, phase: str) -> StopReason | None:
        """Epoch bookkeeping; returns why to stop, or None to go on."""
        s = self.config.search
        self.sched.step()
        if self.dist.distributed:
            self.check_ranks(weights=True)
            distributed.fold_meter(self.train_meter)
            distributed.fold_meter(self.val_meter)
        train_loss, train_top1 = self.train_meter.result()
        val_loss, val_top1 = self.val_meter.result()
        snapshot = self.alpha_snapshot()
        change = snapshot_change(self.prev_alphas, snapshot)
        self.prev_alphas = snapshot
        self.epoch_done, self.step = epoch, 0
        self.bus.emit(
            EpochEnd(
                epoch=epoch,
                epochs=s.epochs,
                phase=phase,
                train_loss=train_loss or 0.0,
                train_top1=train_top1 or 0.0,
                val_loss=val_loss,
                val_top1=val_top1,
                lr=self.w_opt.param_groups[0]["lr"],
                elapsed_s=round(self.elapsed, 3),
                alphas=snapshot,
                expected_cost=self.cost.expected_value(self.net.alphas()) if self.cost else None,
                cost_metric=self.cost.costs.metric if self.cost else None,
                alpha_change=change,
            )
        )
        if phase == "search":
            verdict = self.tracker.update(epoch, snapshot)
            for block, decision, was, now, why in verdict.unstable:
                self.bus.emit(Unstable(epoch=epoch, block=block, decision=decision, was=was, now=now, reason=why))
            if verdict.converged_now:
                self.bus.emit(
                    Converged(
                        epoch=epoch,
                        architecture={
                            str(b): {"kernel": str(c.kernel), "activation": c.activation}
                            for b, c in self.choices(snapshot).items()
                        },
                    )
                )
        if self.stages:
            self.stage_step(epoch, snapshot)
        # Decided before the checkpoint and recorded in it: a kill between this save and the end of the
        # search must resume into the same stop, not into one more epoch.
        self.stopping = self._stop_reason(epoch)
        self.save()
        return self.stopping

    def _stop_reason(self, epoch: int) -> StopReason | None:
        s = self.config.search
        ctl = self.control.poll()
        stop_at = ctl.stop_at_epoch or s.stop_at_epoch
        if ctl.stop or (stop_at is not None and epoch >= stop_at):
            return StopReason.USER
        if self.stages:  # a progressive search ends with its last stage (or at the cap)
            return self.stages.done or (None if epoch < s.epochs else StopReason.COMPLETED)
        if s.auto_stop and self.tracker.converged:
            return StopReason.CONVERGED
        return None if epoch < s.epochs else StopReason.COMPLETED

    # -- progressive search (core.train.progressive) -------------------------------------------
    def stage_step(self, epoch: int, snapshot: AlphaSnapshot) -> None:
        """A stage's end, if this epoch ends it: its events, the frozen and added blocks, the optimizers."""
        assert self.stages is not None
        changed = False
        for event in self.stages.end_epoch(epoch, snapshot, self.tracker, self.net, epoch >= self.config.search.epochs):
            self.bus.emit(event)
            changed = changed or isinstance(event, StageStart) or bool(getattr(event, "frozen", None))
        if changed:
            self._refit()

    def _refit(self) -> None:
        """After the network changed: new modules on the device, both optimizers (and, distributed, the
        gradient averaging) on the network's parameters as they are now."""
        self.net.to(self.device)
        if self.prec.channels_last:
            self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        refit_optimizers(self.net, self.w_opt, self.a_opt)
        if self.dist.distributed:
            self._grad_hook = distributed.gradient_hook(self.net.weight_parameters())

    def choices(self, snapshot: AlphaSnapshot) -> dict[int, BlockChoice]:
        """The architecture of a snapshot: its argmax per block (and a progressive search's frozen choices)."""
        if self.stages:
            return merged_choices(snapshot, self.stages.frozen, self.space)
        return snapshot_to_choices(snapshot, self.space)

    def alpha_snapshot(self) -> AlphaSnapshot:
        """softmax(alpha) per block; non-finite alphas mean the search diverged."""
        if not all(bool(torch.isfinite(a).all()) for a in self.net.arch_parameters()):
            raise NonFiniteAlphas("architecture parameters are not finite")
        return {str(b): v for b, v in self.net.probabilities().items()}


@dataclass
class RetrainOutcome:
    epochs: int
    test_top1: float
    best_top1: float
    params: int
    stopped: bool


class RetrainEngine(_Loop):
    """Train the derived architecture from scratch on train + val; test every epoch."""

    def __init__(
        self,
        config: Config,
        arch: Architecture,
        bus: EventBus,
        control: Control,
        ckpt_path: Any,
        weights_dir: Any,
        events_offset: Callable[[], int],
        data: SearchData | None = None,
    ) -> None:
        super().__init__(
            config,
            bus,
            control,
            ckpt_path,
            events_offset,
            init_seed=stream_seed(config.run.seed, RETRAIN_INIT),
            retrain=True,
            data=data,
        )
        self.arch = arch
        self.weights_dir = weights_dir
        self.model = self._place(arch.build(), lambda m: list(m.parameters()))
        r = config.retrain
        self.opt = sgd(list(self.model.parameters()), r.lr, r.momentum, r.nesterov, r.weight_decay)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=r.epochs)
        self.scaler = grad_scaler(self.prec)
        self.stopped = False  # a stop request met; kept in the checkpoint
        self.epoch_done = 0
        self.step = 0
        self.global_step = 0
        self.best = 0.0
        self.last_top1 = 0.0
        self.elapsed = 0.0
        self.meter = Meter(self.device)
        self.watch = DivergenceWatch(self.device)
        self.params = count_params(self.model)

    def state(self, finished: bool = False) -> dict[str, Any]:
        return {
            "kind": "retrain",
            "fingerprint": retrain_fingerprint(self.arch),
            "epoch_done": self.epoch_done,
            "step": self.step,
            "global_step": self.global_step,
            "best": self.best,
            "last_top1": self.last_top1,
            "elapsed": self.elapsed,
            "stopped": self.stopped,
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "sched": self.sched.state_dict(),
            "scaler": self.scaler.state_dict(),
            "train_loader": self.loaders.train.state_dict(),
            "meter": self.meter.state_dict(),
            "events_offset": self.events_offset(),
            "finished": finished,
            "torch_rng": torch.get_rng_state(),
            "world_size": self.dist.world_size,
        }

    @property
    def module(self) -> nn.Module:
        return self.model

    def meters(self) -> list[Meter]:
        return [self.meter]

    def load(self, payload: dict[str, Any]) -> None:
        self.model.load_state_dict(payload["model"])
        self.opt.load_state_dict(payload["opt"])
        self.sched.load_state_dict(payload["sched"])
        self.scaler.load_state_dict(payload["scaler"])
        self.loaders.train.load_state_dict(payload["train_loader"])
        self.meter.load_state_dict(payload["meter"])
        if self.dist.distributed:  # each rank's own epoch sums
            self.meter.load_state_dict(payload["rank_meters"][self.dist.rank][0])
        torch.set_rng_state(payload["torch_rng"])
        for key in ("epoch_done", "step", "global_step"):
            setattr(self, key, int(payload[key]))
        self.best, self.last_top1, self.elapsed = (
            float(payload["best"]),
            float(payload["last_top1"]),
            float(payload["elapsed"]),
        )
        self.stopped = bool(payload.get("stopped", False))

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
            world_size=self.dist.world_size,
            global_batch_size=self.config.data.batch_size * self.dist.world_size,
        )

    def _save_weights(self, name: str) -> None:
        if not self.dist.is_main:
            return
        save_checkpoint(
            self.weights_dir / name,
            {"kind": "weights", "architecture": self.arch.model_dump(mode="json"), "model": self.model.state_dict()},
        )

    def run(self) -> RetrainOutcome:
        r = self.config.retrain
        spe = self.loaders.train.steps_per_epoch
        clock = ProgressClock(self.bus, self.config.data.batch_size * self.dist.world_size)
        t0 = time.monotonic() - self.elapsed
        self.model.train()
        while self.epoch_done < r.epochs and not self.stopped:
            epoch = self.epoch_done + 1
            if self.step == 0:
                self.loaders.train.start_epoch()
                self.meter = Meter(self.device)
            while self.step < spe:
                ctl = self.control.wait_while_paused()
                if ctl.interrupt:
                    self.elapsed = time.monotonic() - t0
                    self.save()
                    raise Interrupted(f"retrain interrupted in epoch {epoch}")
                if ctl.stop:
                    self.stopped = True
                    break
                fault_point("retrain_step", self.global_step)  # test-only (core.faults)
                x, y = self.loaders.train.next()  # type: ignore[misc]
                loss, logits = train_step(self.model, self.opt, self.scaler, self.prec, x, y, self._grad_hook)
                self.meter.add(loss, logits, y)
                self.watch.observe(loss, self.global_step)
                self.step += 1
                self.global_step += 1
                clock.tick("retrain", epoch, r.epochs, self.step, spe)
            if self.dist.distributed:  # a non-finite loss on any rank ends every rank
                distributed.max_(self.watch.first_bad)
            self.watch.check("retrain")
            if self.stopped:
                break
            self.sched.step()
            if self.dist.distributed:  # every rank tests the same model on the whole test set
                distributed.check_agreement(list(self.model.parameters()), "weights", "retrain")
                distributed.broadcast_buffers(self.model)
                distributed.fold_meter(self.meter)
            test_loss, test_top1 = evaluate(self.model, self.loaders.test, self.prec)
            train_loss, train_top1 = self.meter.result()
            self.epoch_done, self.step = epoch, 0
            self.last_top1 = test_top1
            self.elapsed = time.monotonic() - t0
            if test_top1 > self.best or epoch == 1:
                self.best = max(self.best, test_top1)
                self._save_weights("best.pt")
            self._save_weights("last.pt")
            self.bus.emit(
                RetrainEpochEnd(
                    epoch=epoch,
                    epochs=r.epochs,
                    train_loss=train_loss or 0.0,
                    train_top1=train_top1 or 0.0,
                    test_loss=test_loss,
                    test_top1=test_top1,
                    best_top1=self.best,
                    lr=self.opt.param_groups[0]["lr"],
                    elapsed_s=round(self.elapsed, 3),
                )
            )
            ctl = self.control.poll()  # decided before the checkpoint, which keeps it (a kill in between)
            if ctl.stop_at_epoch is not None and epoch >= ctl.stop_at_epoch:
                self.stopped = epoch < r.epochs
            self.save()
        if self.dist.distributed:
            distributed.broadcast_buffers(self.model)
            where = f"epoch {self.epoch_done} step {self.step}"
            self.rank_digests = distributed.gather_digests(distributed.state_digest(self.model, where))
        if self.epoch_done == 0:
            self.last_top1 = evaluate(self.model, self.loaders.test, self.prec)[1]
            self.best = self.last_top1
            self._save_weights("best.pt")
            self._save_weights("last.pt")
        self.bus.emit(
            RetrainDone(
                epochs=self.epoch_done,
                test_top1=self.last_top1,
                best_top1=self.best,
                params=self.params,
                stopped=self.stopped,
                weights=str(self.weights_dir),
            )
        )
        self.save(finished=True)
        return RetrainOutcome(self.epoch_done, self.last_top1, self.best, self.params, self.stopped)
