"""The loop skeleton the search and the retrain share, and its small parts.

Both loops follow the same discipline: no host sync in the step (metrics stay on
the device until the epoch ends, divergence is tracked by a device-side flag),
one ``stat`` of the control file per step, and a checkpoint that records the
loaders' positions and the event file's length, so that a resume continues with
the same batches and cuts the event file back to what the checkpoint knew.

:class:`Loop` holds that discipline once -- pause, interrupt, stop, the fault points,
the divergence check over all ranks, a checkpoint at each epoch's end -- and asks a
loop (:mod:`.search_loop`, :mod:`.retrain_loop`) only for what differs: its step, its
epoch's end, its checkpoint.  The other ranks are reached through a
:class:`~core.train.collectives.Collectives` strategy, a no-op with one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar, cast

import torch
from torch import nn

from core.config import Config
from core.faults import fault_point
from core.run.checkpoint import CheckpointHeader, Fingerprint, save_checkpoint
from core.run.events import EventBus, Progress, SpaceWarning
from core.run.tuning import Tuning
from core.space.network import SearchNet
from core.space.proxyless import Mode
from core.train import autotune, compiling
from core.train.batches import Loaders
from core.train.checkpoints import LoopHead, Payload
from core.train.collectives import Collectives, LoopControl, collectives
from core.train.data import RetrainSplit, SearchData
from core.train.device import configure_torch, resolve_device
from core.train.meters import DivergenceWatch, Meter, MeterState
from core.train.pipeline import make_loaders

PROGRESS_INTERVAL_S = 0.5
M = TypeVar("M", bound=nn.Module)


class Interrupted(Exception):
    """The run was interrupted (Ctrl+C, a signal): a resumable checkpoint was written, at ``step``
    steps into ``epoch`` of ``phase`` (the job's ``suspended`` event says so); ``digests``: each rank's
    state and stopping point there (several ranks), the proof that they all left at the same step."""

    def __init__(
        self, message: str, phase: str = "search", epoch: int = 0, step: int = 0, digests: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.phase, self.epoch, self.step = phase, epoch, step
        self.digests = digests or []


class Checkpoint(Protocol):
    """A loop's checkpoint (core.train.checkpoints): its head, and its payload as torch saves it."""

    @property
    def head(self) -> LoopHead: ...

    def payload(self) -> Payload: ...


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


@dataclass(frozen=True)
class LoopContext:
    """What a job hands each of its loops (the search's and the retrain's alike)."""

    config: Config
    bus: EventBus
    control: LoopControl
    ckpt_path: Path
    events_offset: Callable[[], int]  #: the event file's length now, recorded in each checkpoint
    data: SearchData | None = None  #: the dataset, when the job has loaded it already
    #: a resumed loop's recorded speed settings (its checkpoint's): reused, never measured again
    tuning: Tuning | None = None


class Loop:
    """What the search and the retrain loop share: the run's config, bus, control and checkpoint path,
    the device and precision, the ranks (a :class:`Collectives`), this rank's data loaders, and the
    epoch/step skeleton in :meth:`run_epochs`."""

    #: "search" or "retrain": names the fault point, the interrupt message and the divergence's place
    kind = ""

    def __init__(self, ctx: LoopContext, *, init_seed: int, retrain: RetrainSplit | None) -> None:
        config, bus, data = ctx.config, ctx.bus, ctx.data
        self.config = config
        self.bus = bus
        self.control = ctx.control
        self.ckpt_path = ctx.ckpt_path
        self.events_offset = ctx.events_offset
        self.device = resolve_device(config.run.device)
        self.prec = configure_torch(config.run, self.device)
        torch.manual_seed(init_seed)  # before the network is built: its initial weights follow from the seed
        self.coll: Collectives = collectives()
        self.loaders: Loaders = make_loaders(
            config.data,
            config.run.seed,
            self.device,
            self.prec.channels_last,
            retrain=retrain,
            data=data,
            shard=(self.coll.rank, self.coll.world_size),
        )
        self.rank_digests: list[str] = []
        self._recorded = ctx.tuning
        self.tuning = Tuning()  #: what ``auto`` chose for this loop, and why (set by :meth:`_place`)
        self._grad_hook: Callable[[], None] | None = None
        self.epoch_done = 0
        self.step = 0
        self.global_step = 0
        self.elapsed = 0.0
        self.watch = DivergenceWatch(self.device)
        self._t0 = time.monotonic()
        self._clock = ProgressClock(bus, config.data.batch_size * self.coll.world_size)

    # -- what a loop names differently -------------------------------------------------------
    def checkpoint(self, head: LoopHead) -> Checkpoint:
        """The checkpoint: ``head`` (:meth:`head`) and the loop's parts' sections (core.train.checkpoints)."""
        raise NotImplementedError

    def fingerprint(self) -> Fingerprint:
        """What the checkpoint belongs to (checked on resume)."""
        raise NotImplementedError

    @property
    def module(self) -> nn.Module:
        raise NotImplementedError

    def meters(self) -> list[Meter]:
        raise NotImplementedError

    def more_epochs(self) -> bool:
        """Whether another epoch is due (not finished, no stop decided)."""
        raise NotImplementedError

    def phase(self, epoch: int) -> str:
        """The phase a progress event names."""
        return self.kind

    def epochs(self) -> int:
        raise NotImplementedError

    def train_batch(self, x: torch.Tensor, y: torch.Tensor, epoch: int) -> None:
        raise NotImplementedError

    def on_user_stop(self, epoch: int) -> None:
        """A stop request met mid-epoch (after the divergence check)."""

    def end_epoch(self, epoch: int) -> None:
        """Epoch bookkeeping and events; a stop it decides is state the checkpoint after it keeps."""
        raise NotImplementedError

    def on_pause(self) -> Callable[[bool], None] | None:
        """Called on each pause and continue (the search emits ``state`` events); None: nothing."""
        return None

    # -- shared ------------------------------------------------------------------------------
    def head(self, finished: bool = False, rank_meters: list[list[MeterState]] | None = None) -> LoopHead:
        """What both loops' checkpoints hold besides their parts: where the loop stands, the torch RNG state."""
        header = CheckpointHeader(
            kind="retrain" if self.kind == "retrain" else "search",
            fingerprint=self.fingerprint(),
            epoch_done=self.epoch_done,
            step=self.step,
            global_step=self.global_step,
            elapsed=self.elapsed,
            events_offset=self.events_offset(),
            finished=finished,
            world_size=self.coll.world_size,
        )
        return LoopHead(header, torch.get_rng_state(), self.tuning, rank_meters)

    def restore_head(self, head: LoopHead) -> None:
        """Where the loop stood, from a checkpoint's :meth:`head` (and the torch RNG state); this rank's own
        epoch sums when the checkpoint has every rank's."""
        h = head.header
        self.epoch_done, self.step, self.global_step, self.elapsed = h.epoch_done, h.step, h.global_step, h.elapsed
        own = head.own_meters(self.coll.rank)
        if own is not None:
            for meter, state in zip(self.meters(), own, strict=True):
                meter.load_state_dict(state)
        torch.set_rng_state(head.torch_rng)

    def save(self, finished: bool = False) -> None:
        """Collective: rank 0's checkpoint holds every rank's epoch sums and rank 0's buffers."""
        rank_meters = self.coll.gather([m.state_dict() for m in self.meters()])
        self.coll.broadcast(self.module)
        if self.coll.is_main:
            save_checkpoint(self.ckpt_path, self.checkpoint(self.head(finished, rank_meters)).payload())

    def since_start(self) -> float:
        return time.monotonic() - self._t0

    def _place(self, model: M, weights: Callable[[M], list[nn.Parameter]]) -> M:
        """The model on the device (channels_last when asked); distributed, with BatchNorm synchronised
        if ``network.sync_bn`` and the gradients of ``weights(model)`` averaged across ranks after each backward.
        The memory format (and, on CUDA, the precision) is :mod:`core.train.autotune`'s choice, measured here."""
        self._tune(model)
        model = model.to(self.device)
        if self.prec.channels_last:
            model = model.to(memory_format=torch.channels_last)
        placed = cast(M, self.coll.place(model, self.device, self.config.network.sync_bn))  # converted in place
        self._grad_hook = self.coll.gradient_hook(weights(placed))
        return placed

    def _tune(self, model: nn.Module) -> None:
        """Choose the speed settings ``auto`` leaves open, by timing ``model`` (or replay a checkpoint's)."""
        if self._recorded is not None:
            self.prec = autotune.replay(self.config.run, self.prec, self._recorded)
            self.tuning = self._recorded
        else:
            mode = Mode(self.config.search.estimator) if isinstance(model, SearchNet) else None
            probe = autotune.Probe(model, self.config.data.batch_size, self.config.data.image_size, mode)
            self.prec, self.tuning = autotune.tune(self.config.run, self.prec, probe, self.coll.world_size)
            if mode is not None:
                self.tuning.settings.append(compiling.SEARCH_EAGER)
        for loader in (self.loaders.train, self.loaders.val, self.loaders.test, self.loaders.calib):
            if loader is not None:
                loader.channels_last = self.prec.channels_last

    def _compiled(self, model: nn.Module, steps: int) -> nn.Module:
        """The module the training step calls: ``model`` compiled when ``run.compile`` says so and it pays
        (:mod:`core.train.compiling`); the decision joins :attr:`tuning`, a failure is one warning line."""
        mode = self.config.run.compile
        recorded = self._recorded.get("compile") if self._recorded is not None else None
        if recorded is not None:  # a resume continues as it started: compiled only if the run was
            mode = "on" if recorded.choice == "on" else "off"
        if self.coll.world_size > 1 and mode != "off":
            mode = "off"  # one compiled graph per rank around DDP's hooks: not measured, left eager
        eager_s = self._eager_step_s(model) if mode == "auto" else None
        batch = (self.config.data.batch_size, self.config.data.image_size)
        done = compiling.for_training(mode, model, self.prec, batch, steps, eager_s)
        if recorded is None:
            self.tuning.settings.append(done.setting)
        if done.failed:
            self.bus.emit(SpaceWarning(message=f"torch.compile: {done.setting.note}", where="run.compile"))
        return done.module

    def _eager_step_s(self, model: nn.Module) -> float:
        """The eager step time: measured by the format's choice, or timed now when that was given."""
        cl = self.tuning.get("channels_last")
        chosen = "on" if self.prec.channels_last else "off"
        if cl is not None and chosen in cl.seconds:
            return cl.seconds[chosen]
        probe = autotune.Probe(model, self.config.data.batch_size, self.config.data.image_size)
        with torch.random.fork_rng(devices=autotune.rng_devices(self.device)):
            return autotune.time_interleaved([autotune.step_fn(probe, self.prec)], self.device)[0]

    def run_epochs(self) -> bool:
        """Epochs until :meth:`more_epochs` says no; True when a stop request ended one early.

        Raises :class:`Interrupted` (after a checkpoint) and :class:`Diverged`."""
        self._t0 = time.monotonic() - self.elapsed
        self._clock = ProgressClock(self.bus, self.config.data.batch_size * self.coll.world_size)
        self.module.train()
        while self.more_epochs():
            epoch = self.epoch_done + 1
            if self.step == 0:
                self.loaders.train.begin_epoch()  # not again for an epoch a checkpoint began
                for m in self.meters():
                    m.reset()
            stopped = self._steps(epoch)
            self.coll.all_reduce(self.watch.first_bad, "max")  # a non-finite loss on any rank ends every rank
            self.watch.check(self.kind)
            if stopped:
                self.on_user_stop(epoch)
                return True
            self.end_epoch(epoch)
            self.save()
        return False

    def _steps(self, epoch: int) -> bool:
        """The rest of an epoch's steps; True when a stop request cut it short."""
        spe = self.loaders.train.steps_per_epoch
        on_pause = self.on_pause()
        while self.step < spe:
            ctl = self.control.wait_while_paused(on_pause)
            if ctl.interrupt:
                self.elapsed = self.since_start()
                self.save()
                digests = self.coll.digests(self.module, f"{self.kind} interrupted epoch {epoch} step {self.step}")
                raise Interrupted(f"{self.kind} interrupted in epoch {epoch}", self.kind, epoch, self.step, digests)
            if ctl.stop:
                return True
            fault_point(f"{self.kind}_step", self.global_step)  # test-only (core.faults)
            batch = self.loaders.train.next()
            assert batch is not None
            self.train_batch(*batch, epoch=epoch)
            self.step += 1
            self.global_step += 1
            self._clock.tick(self.phase(epoch), epoch, self.epochs(), self.step, spe)
        return False
