"""The search loop: a one-shot search's epochs, driving a search strategy.

The epoch/step skeleton (pause, interrupt, stop, faults, divergence, checkpoints) is
:class:`core.train.loop.Loop`'s; the architecture side of a step is the strategy's
(:mod:`core.train.strategy`: ProxylessNAS two-path or all-paths, as ``search.estimator`` says).  The stop
rules, the probes and a progressive search's stages are parts with a state (:mod:`core.train.stopping`,
:mod:`core.train.probe_set`, :mod:`core.train.progressive`), each a section of the checkpoint
(:mod:`core.train.checkpoints`).  This module ties them: the weights' optimiser, an epoch's end and its
events (:mod:`core.train.search_events`), and the derived architecture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from core.run.checkpoint import Fingerprint
from core.run.events import Alphas, AlphaSnapshot, EpochEnd, SearchStarted, SpaceWarning, State, StopReason
from core.space import SearchSpace, block_stage
from core.space.arch import Architecture, from_choices, merged_choices, snapshot_to_choices
from core.space.network import BlockChoice, NetSpec, SearchNet, count_params, net_spec
from core.space.proxyless import NonFiniteAlphas
from core.train.batches import BatchSource
from core.train.checkpoints import LoopHead, SearchCheckpoint, SupernetSection
from core.train.convergence import ConvergenceTracker
from core.train.curvature import entropies
from core.train.loop import Loop, LoopContext, sgd
from core.train.meters import Diverged, Meter
from core.train.probe_set import EpochProbes, SearchProbes
from core.train.progressive import StageController, refit_optimizers
from core.train.search_events import stage_events, verdict_events
from core.train.seeds import stream
from core.train.step import grad_scaler, train_step
from core.train.stop_rules import RuleVerdicts
from core.train.stopping import StopState
from core.train.strategy import SearchStrategy, strategy_for


def search_fingerprint(spec: NetSpec, space: SearchSpace, stages: list[list[int]] | None = None) -> Fingerprint:
    extra: Fingerprint = {}  # only when set, so that checkpoints written before these options still match
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


@dataclass
class SearchOutcome:
    epoch: int
    reason: StopReason
    alphas: AlphaSnapshot
    architecture: Architecture
    elapsed_s: float
    #: the epoch the architecture comes from (``epoch``, or the curvature rule's rollback epoch)
    arch_epoch: int = 0
    #: the margin rule's state at ``arch_epoch``: the architecture's confidence is judged by it
    tracker: ConvergenceTracker | None = None
    #: what each stop rule said about the epochs run (whichever was in force)
    verdicts: RuleVerdicts | None = None


class SearchEngine(Loop):
    """A one-shot search: SGD on the weights (train split) and the strategy's step on the alphas (val split)."""

    kind = "search"

    def __init__(self, ctx: LoopContext) -> None:
        config = ctx.config
        super().__init__(ctx, init_seed=stream(config.run.seed, "search_init"), retrain=None)
        self.space = config.search_space()
        self.spec = net_spec(config, self.loaders.num_classes)
        #: a progressive search's stages (core.train.progressive); None for a direct search
        self.stages = StageController(config) if config.search.progressive is not None else None
        active = self.stages.initial_blocks() if self.stages else None
        self.net: SearchNet = self._place(SearchNet(self.spec, self.space, active), lambda m: m.weight_parameters())
        s = config.search
        self.w_opt = sgd(self.net.weight_parameters(), s.lr, s.momentum, s.nesterov, s.weight_decay)
        #: how the alphas learn (core.train.strategy): its optimiser, sampler, cost term and their state
        self.strategy: SearchStrategy = strategy_for(self.net, config, self.prec, self.coll)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, T_max=s.epochs)
        self.scaler = grad_scaler(self.prec)
        self.stop = StopState(s)  #: the stop rules' state and the stop decided at an epoch's end
        self.train_meter = Meter(self.device)
        self.val_meter = Meter(self.device)
        #: the curvature probe and the perturbation readout, within their time budget (a part with a state)
        self.probes = SearchProbes(config, self.val)

    @property
    def val(self) -> BatchSource:
        """The alphas' loader (every search's loaders have one; a retrain's do not)."""
        assert self.loaders.val is not None
        return self.loaders.val

    @property
    def a_opt(self) -> torch.optim.Optimizer:
        return self.strategy.alpha_optimizer()

    @property
    def tracker(self) -> ConvergenceTracker:
        return self.stop.tracker

    @property
    def arch_steps(self) -> int:
        return self.strategy.arch_steps

    # -- checkpoints -------------------------------------------------------------------
    def fingerprint(self) -> Fingerprint:
        return search_fingerprint(self.spec, self.space, self.config.progressive_stages())

    def checkpoint(self, head: LoopHead) -> SearchCheckpoint:
        supernet = SupernetSection(
            model=self.net.state_dict(),
            w_opt=self.w_opt.state_dict(),
            sched=self.sched.state_dict(),
            scaler=self.scaler.state_dict(),
            train_loader=self.loaders.train.state_dict(),
            val_loader=self.val.state_dict(),
            meters={"train": self.train_meter.state_dict(), "val": self.val_meter.state_dict()},
        )
        stages = self.stages.state_dict() if self.stages else None
        return SearchCheckpoint(
            head, supernet, self.strategy.state_dict(), self.stop.state_dict(), self.probes.state_dict(), stages
        )

    @property
    def module(self) -> nn.Module:
        return self.net

    def meters(self) -> list[Meter]:
        return [self.train_meter, self.val_meter]

    def load(self, ckpt: SearchCheckpoint) -> None:
        if self.stages:  # the network's structure first: the stages' freezes and additions, replayed
            assert ckpt.stages is not None, "a progressive search's checkpoint without its stages"
            self.stages.load_state_dict(ckpt.stages, self.net)
            self._refit()
        sn = ckpt.supernet
        self.net.load_state_dict(sn.model)
        self.w_opt.load_state_dict(sn.w_opt)
        self.sched.load_state_dict(sn.sched)
        self.scaler.load_state_dict(sn.scaler)
        self.strategy.load_state_dict(ckpt.strategy)
        self.loaders.train.load_state_dict(sn.train_loader)
        self.val.load_state_dict(sn.val_loader)
        self.stop.load_state_dict(ckpt.stop)
        self.probes.load_state_dict(ckpt.probes)
        self.train_meter.load_state_dict(sn.meters["train"])
        self.val_meter.load_state_dict(sn.meters["val"])
        self.restore_head(ckpt.head)  # last: each rank's own sums, and the torch RNG state

    # -- steps ---------------------------------------------------------------------------
    def weight_step(self, x: torch.Tensor, y: torch.Tensor, warmup: bool) -> None:
        self.strategy.sample_weight_paths(self.net, warmup)
        loss, logits = train_step(self.net, self.w_opt, self.scaler, self.prec, x, y, self._grad_hook)
        self.train_meter.add(loss, logits, y)
        self.watch.observe(loss, self.global_step)

    def arch_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        loss, logits = self.strategy.arch_step(self.net, x, y)
        self.val_meter.add(loss, logits, y)
        self.watch.observe(loss, self.global_step)

    def search_step(self, x: torch.Tensor, y: torch.Tensor, warmup: bool, epoch: int) -> None:
        """One weight step and, every ``arch_every`` steps after warm-up, one architecture step."""
        s = self.config.search
        try:
            self.weight_step(x, y, warmup=warmup)
            if warmup or self.global_step % s.arch_every != 0:
                return
            self.arch_step(*self.val.cycle())
            if self.arch_steps % s.alphas_every == 0:
                self.check_ranks()
                self.bus.emit(self.alphas_event(epoch, self.step + 1))
        except NonFiniteAlphas:
            self.watch.check("search")
            raise Diverged(
                f"architecture parameters became non-finite by global step {self.global_step}",
                where="search",
                hint="lower arch_lr; the last good checkpoint is kept",
            ) from None

    def alphas_event(self, epoch: int, step: int) -> Alphas:
        spe = self.loaders.train.steps_per_epoch
        return Alphas(
            epoch=epoch, step=step, steps_per_epoch=spe, arch_step=self.arch_steps, alphas=self.alpha_snapshot()
        )

    # -- loop ------------------------------------------------------------------------------
    def started_event(self, resumed: bool) -> SearchStarted:
        """What a front end joining the search needs: the space, the network's size, where the search stands."""
        space, net, config = self.space, self.net, self.config
        return SearchStarted(
            config=config.model_dump(mode="json"),
            block_ids=list(space.block_ids),
            stages={str(b): block_stage(b, space.depths) for b in space.block_ids},
            candidates={d: list(space.labels(d)) for d in space.decisions},
            params=count_params(net) - sum(p.numel() for p in net.arch_parameters()),
            num_classes=self.spec.num_classes,
            steps_per_epoch=self.loaders.train.steps_per_epoch,
            epochs=config.search.epochs,
            start_epoch=self.epoch_done + 1,
            resumed=resumed,
            device=str(self.device),
            world_size=self.coll.world_size,
            global_batch_size=config.data.batch_size * self.coll.world_size,
            progressive=self.stages.where() if self.stages else None,
            tuning=self.tuning,
        )

    def epoch_end_event(
        self,
        epoch: int,
        phase: str,
        snapshot: AlphaSnapshot,
        change: dict[str, dict[str, float]],
        probed: EpochProbes,
    ) -> EpochEnd:
        """An epoch's record: its losses and accuracies, the alphas, their change and settling, the probes."""
        train_loss, train_top1 = self.train_meter.result()
        val_loss, val_top1 = self.val_meter.result()
        cost = self.strategy.cost
        return EpochEnd(
            epoch=epoch,
            epochs=self.config.search.epochs,
            phase=phase,
            train_loss=train_loss or 0.0,
            train_top1=train_top1 or 0.0,
            val_loss=val_loss,
            val_top1=val_top1,
            lr=self.w_opt.param_groups[0]["lr"],
            elapsed_s=round(self.elapsed, 3),
            alphas=snapshot,
            expected_cost=cost.expected_value(self.net.alphas()) if cost else None,
            cost_metric=cost.costs.metric if cost else None,
            alpha_change=change,
            settled=self.stop.tracker.settled_map(),
            curvature=probed.curvature,
            perturbation=probed.perturbation,
            entropy=entropies(snapshot) if phase == "search" else {},
        )

    def check_ranks(self, weights: bool = False) -> None:
        """Distributed: the alphas (and, once an epoch, the weights) must agree on every rank."""
        self.coll.agree(self.net.arch_parameters(), "alphas", "search")
        if weights:
            self.coll.agree(self.net.weight_parameters(), "weights", "search")

    # -- the skeleton's hooks ------------------------------------------------------------
    def more_epochs(self) -> bool:
        return self.stop.stopping is None and self.epoch_done < self.config.search.epochs

    def epochs(self) -> int:
        return self.config.search.epochs

    def phase(self, epoch: int) -> str:
        return "warmup" if self.is_warmup(epoch) else "search"

    def is_warmup(self, epoch: int) -> bool:
        """Weight steps only, paths sampled uniformly: the first epochs (and a progressive stage's first)."""
        return self.stages.is_warmup(epoch) if self.stages else self.config.search.in_warmup(epoch)

    def on_pause(self) -> Callable[[bool], None]:
        def paused_events(paused: bool) -> None:
            self.bus.emit(State(state="paused" if paused else "running", epoch=self.epoch_done + 1))

        return paused_events

    def train_batch(self, x: torch.Tensor, y: torch.Tensor, epoch: int) -> None:
        self.search_step(x, y, warmup=self.is_warmup(epoch), epoch=epoch)

    def on_user_stop(self, epoch: int) -> None:
        self.elapsed = self.since_start()
        self.bus.emit(self.alphas_event(epoch, self.step))

    def run(self) -> SearchOutcome:
        if self.stages and self.global_step == 0 and self.epoch_done == 0:
            self.bus.emit(self.stages.start_event())
        user_stop = self.run_epochs()
        # a resume after the last epoch's stop was decided goes straight here, with that stop
        reason = StopReason.USER if user_stop else (self.stop.stopping or StopReason.COMPLETED)
        snapshot = self.alpha_snapshot()  # live: a stop mid-epoch derives from the alphas as they are now
        where = f"epoch {self.epoch_done} step {self.step} arch step {self.arch_steps}"
        self.rank_digests = self.coll.digests(self.net, where)
        verdicts = self.verdicts()
        arch_epoch, tracker = self.epoch_done, self.stop.tracker
        if reason == StopReason.CURVATURE and verdicts.curvature is not None:  # derived from before the rise
            arch_epoch = verdicts.curvature.rollback
            snapshot, tracker = self.stop.rollback(arch_epoch)
        source: dict[str, object] = {"epoch": arch_epoch, "stop_reason": reason.value}
        read = self.probes.readout_for(arch_epoch) if self.config.search.select == "perturbation" else None
        if read is not None:  # every decision the readout holds takes its best pinned candidate
            source |= {"select": "perturbation", "readout_epoch": read[0]}
            snapshot = read[1].as_snapshot(snapshot)
        # the same rule as derive-at-epoch, on the same (recorded) probabilities
        arch = from_choices(self.choices(snapshot), self.spec, source=source)
        return SearchOutcome(self.epoch_done, reason, snapshot, arch, self.elapsed, arch_epoch, tracker, verdicts)

    @property
    def curvatures(self) -> list[tuple[int, float]]:
        """(epoch, largest eigenvalue) of each measured search epoch."""
        return self.probes.curvatures

    def verdicts(self) -> RuleVerdicts:
        return self.stop.verdicts(self.curvatures, self.epoch_done)

    def end_epoch(self, epoch: int) -> None:
        """Epoch bookkeeping and events; the stop it decides (``self.stop.stopping``) goes into the checkpoint."""
        phase = self.phase(epoch)
        self.elapsed = self.since_start()
        self.sched.step()
        self.check_ranks(weights=True)
        self.coll.fold(self.train_meter)
        self.coll.fold(self.val_meter)
        snapshot = self.alpha_snapshot()
        change, verdict = self.stop.observe(epoch, phase, snapshot)
        self.epoch_done, self.step = epoch, 0
        probed = self.probes.after_epoch(self.net, epoch, phase, self.since_start())
        for line in probed.warnings:
            self.bus.emit(SpaceWarning(message=line, where="search.probe_budget"))
        self.bus.emit(self.epoch_end_event(epoch, phase, snapshot, change, probed))
        if verdict is not None:
            for event in verdict_events(epoch, verdict, self.choices(snapshot)):
                self.bus.emit(event)
        if self.stages:
            self.stage_step(epoch, snapshot)
        # Decided before the checkpoint and recorded in it: a kill between this save and the end of the
        # search must resume into the same stop, not into one more epoch.
        done, staged = (self.stages.done, True) if self.stages else (None, False)
        self.stop.stopping = self.stop.decide(epoch, self.control.poll(), self.curvatures, done, staged)

    # -- progressive search (core.train.progressive) -------------------------------------------
    def stage_step(self, epoch: int, snapshot: AlphaSnapshot) -> None:
        """A stage's end, if this epoch ends it: its events, the frozen and added blocks, the optimizers."""
        assert self.stages is not None
        last = epoch >= self.config.search.epochs
        changed = False
        for event in stage_events(self.stages, epoch, snapshot, self.stop.tracker, self.net, last, self.w_opt):
            self.bus.emit(event.event)
            changed = changed or event.changes_network
        if changed:
            self._refit()

    def _refit(self) -> None:
        """After the network changed: new modules on the device, both optimizers (and, distributed, the
        gradient averaging) on the network's parameters as they are now."""
        self.net.to(self.device)
        if self.prec.channels_last:
            self.net.to(memory_format=torch.channels_last)
        refit_optimizers(self.net, self.w_opt, self.strategy.alpha_optimizer())
        self._grad_hook = self.coll.gradient_hook(self.net.weight_parameters())

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
