"""The search loop: alternating ProxylessNAS optimisation of weights and alphas.

The epoch/step skeleton (pause, interrupt, stop, faults, divergence, checkpoints) is
:class:`core.train.loop.Loop`'s; this module holds what only the search does: its two
optimisers, the architecture step, the stop criterion and the derived architecture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.run.events import (
    Alphas,
    AlphaSnapshot,
    Converged,
    EpochEnd,
    SearchStarted,
    SpaceWarning,
    StageStart,
    State,
    StopReason,
    Unstable,
)
from core.space import SearchSpace, block_stage
from core.space.arch import Architecture, from_choices, merged_choices, snapshot_to_choices
from core.space.cost import build_cost_term
from core.space.network import BlockChoice, NetSpec, SearchNet, count_params, net_spec
from core.space.proxyless import Mode, NonFiniteAlphas, PathSampler
from core.train.budget import LOW_LR_SHARE, low_lr_line
from core.train.convergence import ConvergenceTracker, Verdict, snapshot_change
from core.train.curvature import entropies
from core.train.loop import Diverged, Loop, LoopContext, Meter, sgd
from core.train.pipeline import BatchSource
from core.train.probe_set import SearchProbes
from core.train.progressive import StageController, refit_optimizers
from core.train.seeds import stream
from core.train.step import arch_step, grad_scaler, train_step
from core.train.stop_rules import CurvatureStop, RuleVerdicts, curvature_stop


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
    """Alternating ProxylessNAS optimisation: SGD on weights (train split), Adam on alphas (val split)."""

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
        self._gate_hook = self.coll.gate_hook()
        s = config.search
        self.w_opt = sgd(self.net.weight_parameters(), s.lr, s.momentum, s.nesterov, s.weight_decay)
        self.a_opt = torch.optim.Adam(
            self.net.arch_parameters(), lr=s.arch_lr, betas=s.arch_betas, weight_decay=s.arch_weight_decay
        )
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, T_max=s.epochs)
        self.scaler = grad_scaler(self.prec)
        self.arch_scaler = grad_scaler(self.prec)
        self.sampler = PathSampler(stream(config.run.seed, "path_sampler"))
        self.tracker = ConvergenceTracker(s.patience, s.margin, s.threshold)
        self.prev_alphas: AlphaSnapshot | None = None  # last epoch's snapshot, for the per-epoch change
        self.stopping: StopReason | None = None  # decided at an epoch's end, kept in its checkpoint
        self.mode = Mode(s.estimator)
        self.arch_steps = 0
        self.train_meter = Meter(self.device)
        self.val_meter = Meter(self.device)
        self.cost = build_cost_term(s.cost, self.net, config.data.image_size) if s.cost is not None else None
        #: the curvature probe and the perturbation readout, within their time budget (a part with a state)
        self.probes = SearchProbes(config, self.val)
        self.snapshots: dict[int, AlphaSnapshot] = {}  # each search epoch's alphas: the rollback derives from one
        self.converged_at: int | None = None  # the margin rule's first converged epoch

    @property
    def val(self) -> BatchSource:
        """The alphas' loader (every search's loaders have one; a retrain's do not)."""
        assert self.loaders.val is not None
        return self.loaders.val

    # -- checkpoints -------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        return search_fingerprint(self.spec, self.space, self.config.progressive_stages())

    def state(self, finished: bool = False) -> dict[str, Any]:
        """The checkpoint; ``finished`` (as in the retrain's): the phase ran to its end, nothing is left to redo."""
        return {
            **self.header(finished),
            "arch_steps": self.arch_steps,
            "model": self.net.state_dict(),
            "w_opt": self.w_opt.state_dict(),
            "a_opt": self.a_opt.state_dict(),
            "sched": self.sched.state_dict(),
            "scaler": self.scaler.state_dict(),
            "arch_scaler": self.arch_scaler.state_dict(),
            "sampler": self.sampler.state(),
            "train_loader": self.loaders.train.state_dict(),
            "val_loader": self.val.state_dict(),
            "tracker": self.tracker.state_dict(),
            "prev_alphas": self.prev_alphas,
            "stopping": self.stopping.value if self.stopping else None,
            "rules": {
                **self.probes.state_dict(),
                "snapshots": self.snapshots,
                "converged_at": self.converged_at,
            },
            "meters": {"train": self.train_meter.state_dict(), "val": self.val_meter.state_dict()},
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
        self.val.load_state_dict(payload["val_loader"])
        self.tracker.load_state_dict(payload["tracker"])
        self.prev_alphas = payload.get("prev_alphas")
        self.stopping = StopReason(payload["stopping"]) if payload.get("stopping") else None
        rules = payload.get("rules", {})  # older checkpoints: no curvature history (the rule starts afresh)
        self.probes.load_state_dict(rules)
        self.snapshots = dict(rules.get("snapshots", {}))
        self.converged_at = rules.get("converged_at")
        self.train_meter.load_state_dict(payload["meters"]["train"])
        self.val_meter.load_state_dict(payload["meters"]["val"])
        own = self.rank_meters(payload)
        if own is not None:  # each rank's own epoch sums
            self.train_meter.load_state_dict(own[0])
            self.val_meter.load_state_dict(own[1])
        self.load_header(payload)
        self.arch_steps = int(payload["arch_steps"])

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
            reduce_loss=self.coll.loss_reducer() if self.cost is not None else None,
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
            self.arch_step(*self.val.cycle())
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
            world_size=self.coll.world_size,
            global_batch_size=self.config.data.batch_size * self.coll.world_size,
            progressive=self.stages.where() if self.stages else None,
            tuning=self.tuning,
        )

    def check_ranks(self, weights: bool = False) -> None:
        """Distributed: the alphas (and, once an epoch, the weights) must agree on every rank."""
        self.coll.agree(self.net.arch_parameters(), "alphas", "search")
        if weights:
            self.coll.agree(self.net.weight_parameters(), "weights", "search")

    # -- the skeleton's hooks ------------------------------------------------------------
    def more_epochs(self) -> bool:
        return self.stopping is None and self.epoch_done < self.config.search.epochs

    def epochs(self) -> int:
        return self.config.search.epochs

    def phase(self, epoch: int) -> str:
        return "warmup" if self.is_warmup(epoch) else "search"

    def is_warmup(self, epoch: int) -> bool:
        """Weight steps only, paths sampled uniformly: the first epochs (and a progressive stage's first)."""
        return self.stages.is_warmup(epoch) if self.stages else epoch <= self.config.search.warmup_epochs

    def on_pause(self) -> Callable[[bool], None]:
        def paused_events(paused: bool) -> None:
            self.bus.emit(State(state="paused" if paused else "running", epoch=self.epoch_done + 1))

        return paused_events

    def train_batch(self, x: torch.Tensor, y: torch.Tensor, epoch: int) -> None:
        self.search_step(x, y, warmup=self.is_warmup(epoch), epoch=epoch)

    def on_user_stop(self, epoch: int) -> None:
        self.elapsed = self.since_start()
        self.bus.emit(
            Alphas(
                epoch=epoch,
                step=self.step,
                steps_per_epoch=self.loaders.train.steps_per_epoch,
                arch_step=self.arch_steps,
                alphas=self.alpha_snapshot(),
            )
        )

    def run(self) -> SearchOutcome:
        if self.stages and self.global_step == 0 and self.epoch_done == 0:
            self.bus.emit(self.stages.start_event())
        user_stop = self.run_epochs()
        # a resume after the last epoch's stop was decided goes straight here, with that stop
        reason = StopReason.USER if user_stop else (self.stopping or StopReason.COMPLETED)
        snapshot = self.alpha_snapshot()  # live: a stop mid-epoch derives from the alphas as they are now
        where = f"epoch {self.epoch_done} step {self.step} arch step {self.arch_steps}"
        self.rank_digests = self.coll.digests(self.net, where)
        verdicts = self.verdicts()
        arch_epoch, tracker = self.epoch_done, self.tracker
        if reason == StopReason.CURVATURE and verdicts.curvature is not None:  # derived from before the rise
            arch_epoch = verdicts.curvature.rollback
            snapshot = self.snapshots[arch_epoch]
            tracker = ConvergenceTracker(self.tracker.patience, self.tracker.margin, self.tracker.threshold)
            for e in sorted(k for k in self.snapshots if k <= arch_epoch):
                tracker.update(e, self.snapshots[e])
        source: dict[str, Any] = {"epoch": arch_epoch, "stop_reason": reason.value}
        read = self.probes.readout_for(arch_epoch) if self.config.search.select == "perturbation" else None
        if read is not None:  # every decision the readout holds takes its best pinned candidate
            source |= {"select": "perturbation", "readout_epoch": read[0]}
            snapshot = read[1].as_snapshot(snapshot)
        arch = from_choices(  # the same rule as derive-at-epoch, on the same (recorded) probabilities
            self.choices(snapshot),
            self.spec,
            source=source,
        )
        return SearchOutcome(self.epoch_done, reason, snapshot, arch, self.elapsed, arch_epoch, tracker, verdicts)

    @property
    def curvatures(self) -> list[tuple[int, float]]:
        """(epoch, largest eigenvalue) of each measured search epoch."""
        return self.probes.curvatures

    def curvature_verdict(self) -> CurvatureStop | None:
        s = self.config.search
        return curvature_stop(self.curvatures, s.curvature, s.warmup_epochs)

    def verdicts(self) -> RuleVerdicts:
        return RuleVerdicts(self.converged_at, self.curvature_verdict(), self.epoch_done)

    def end_epoch(self, epoch: int) -> None:
        """Epoch bookkeeping and events; the stop it decides (``self.stopping``) goes into the checkpoint."""
        s = self.config.search
        phase = self.phase(epoch)
        self.elapsed = self.since_start()
        self.sched.step()
        self.check_ranks(weights=True)
        self.coll.fold(self.train_meter)
        self.coll.fold(self.val_meter)
        train_loss, train_top1 = self.train_meter.result()
        val_loss, val_top1 = self.val_meter.result()
        snapshot = self.alpha_snapshot()
        change = snapshot_change(self.prev_alphas, snapshot)
        self.prev_alphas = snapshot
        self.epoch_done, self.step = epoch, 0
        verdict = self.tracker.update(epoch, snapshot) if phase == "search" else None
        probed = self.probes.after_epoch(self.net, epoch, phase, self.since_start())
        for line in probed.warnings:
            self.bus.emit(SpaceWarning(message=line, where="search.probe_budget"))
        if phase == "search":
            self.snapshots[epoch] = snapshot
            if verdict is not None and verdict.converged_now and self.converged_at is None:
                self.converged_at = epoch
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
                settled=self.tracker.settled_map(),
                curvature=probed.curvature,
                perturbation=probed.perturbation,
                entropy=entropies(snapshot) if phase == "search" else {},
            )
        )
        if verdict is not None:
            self._verdict_events(epoch, snapshot, verdict)
        if self.stages:
            self.stage_step(epoch, snapshot)
        # Decided before the checkpoint and recorded in it: a kill between this save and the end of the
        # search must resume into the same stop, not into one more epoch.
        self.stopping = self._stop_reason(epoch)

    def _verdict_events(self, epoch: int, snapshot: AlphaSnapshot, verdict: Verdict) -> None:
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

    def _stop_reason(self, epoch: int) -> StopReason | None:
        s = self.config.search
        ctl = self.control.poll()
        stop_at = ctl.stop_at_epoch or s.stop_at_epoch
        # a stop asked for at the last epoch (or later) changes nothing: the search completes there
        if ctl.stop or (stop_at is not None and stop_at <= epoch < s.epochs):
            return StopReason.USER
        if self.stages:  # a progressive search ends with its last stage (or at the cap)
            return self.stages.done or (None if epoch < s.epochs else StopReason.COMPLETED)
        if s.rule == "margin" and self.tracker.converged:
            return StopReason.CONVERGED
        if s.rule == "curvature" and self.curvature_verdict() is not None:
            return StopReason.CURVATURE
        return None if epoch < s.epochs else StopReason.COMPLETED

    # -- progressive search (core.train.progressive) -------------------------------------------
    def stage_step(self, epoch: int, snapshot: AlphaSnapshot) -> None:
        """A stage's end, if this epoch ends it: its events, the frozen and added blocks, the optimizers."""
        assert self.stages is not None
        changed = False
        for event in self.stages.end_epoch(epoch, snapshot, self.tracker, self.net, epoch >= self.config.search.epochs):
            self.bus.emit(event)
            changed = changed or isinstance(event, StageStart) or bool(getattr(event, "frozen", None))
            lr, base = self.w_opt.param_groups[0]["lr"], self.config.search.lr
            if isinstance(event, StageStart) and lr < LOW_LR_SHARE * base:  # the schedule ran out
                self.bus.emit(
                    SpaceWarning(message=low_lr_line(event.stage, event.epoch, lr, base), where="search.epochs")
                )
        if changed:
            self._refit()

    def _refit(self) -> None:
        """After the network changed: new modules on the device, both optimizers (and, distributed, the
        gradient averaging) on the network's parameters as they are now."""
        self.net.to(self.device)
        if self.prec.channels_last:
            self.net.to(memory_format=torch.channels_last)
        refit_optimizers(self.net, self.w_opt, self.a_opt)
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
