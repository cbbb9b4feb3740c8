"""The scope planner: what each scope will cost on this device and data, before it is spent.

For each scope it times a few search steps (a sampled weight step and an architecture step,
the engine's own steps from :mod:`core.train.step`, through the benchmark's timing code in
:mod:`core.perf.bench`) and a few retrain steps, after a short warm-up, on batches of the
configured size and shape, and scales them by the steps per epoch of the configured data
splits and by the configured epochs.  Epoch times cover the training steps only (not the
data pipeline, nor the retrain's per-epoch test pass), so they are a lower bound of a run's
wall time on a device that is otherwise idle.

The retrain is timed on each scope's costliest architecture (the largest candidate kernel in
every searched block): the architecture a search ends with is not known yet, and a plan
should not promise less than a run may take.

A progressive search's row is its worst case: the earlier stages end as soon as the stop
criterion can end them (warm-up plus ``patience`` epochs, or their budget if smaller), the
later (costlier) stages run their whole budget, up to the total cap ``search.epochs``; every
stage's epoch is costed as its scope's full super-network (no block frozen).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from core.config import Config
from core.errors import PresnetError
from core.perf import bench
from core.perf.duration import parse_duration as parse_duration  # re-exported: its old home
from core.perf.probe_cost import probe_seconds
from core.perf.timing import Setup, batch, timed
from core.space import SCOPE_STAGES, Scope, SearchSpace, progressive_label, scope_block_ids, scope_name
from core.space.geometry import space_geometry
from core.space.network import BlockChoice, NetSpec, SearchNet, build_plain
from core.space.proxyless import Mode, PathSampler
from core.train.device import configure_torch, resolve_device


@dataclass(frozen=True)
class StepTimes:
    """Median seconds of one step of each kind, for one scope."""

    weight_s: float
    arch_s: float
    retrain_s: float
    curvature_s: float = 0.0  #: one curvature measurement (search.curvature's subset and steps); 0 when off
    perturbation_s: float = 0.0  #: one perturbation readout (search.perturbation's subset); 0 when off


@dataclass
class ScopeRow:
    scope: str
    blocks: int
    real_choices: int  #: candidates per block that differ at this input size, summed over blocks
    void_choices: int  #: candidates that duplicate another at this input size (a void kernel choice)
    search_epoch_s: float  #: one search epoch after warm-up (a weight step each step, an architecture step
    #: every ``arch_every``)
    retrain_epoch_s: float
    search_epochs: int
    retrain_epochs: int
    run_s: float  #: search (warm-up epochs at the weight step's cost) plus retrain
    sweep_s: float  #: ``seeds`` runs, plus ``random`` retrains of random architectures per seed
    fits: bool
    stages: list[dict[str, float | int | str]] = field(default_factory=list)  #: progressive: the worst case
    #: each probe's seconds per search epoch (``every`` spreads one measurement), over ``search_epoch_s``,
    #: before the budget; the probes together then take at most ``search.probe_budget`` of the search
    curvature_share: float = 0.0
    perturbation_share: float = 0.0
    probes_share: float = 0.0  #: what the probes take of the search's time within the budget


@dataclass
class Plan:
    device: str
    image_size: int
    batch_size: int
    search_steps_per_epoch: int
    retrain_steps_per_epoch: int
    budget_s: float | None
    seeds: int
    random: int
    baseline_s: float  #: ``seeds`` retrains of plain ResNet-50 (``--baseline``; 0 without)
    rows: list[ScopeRow]
    total_s: float  #: the sweep over the letter scopes (s, m, l, f), with the baseline
    total_fits: bool


@dataclass(frozen=True)
class PlanSettings:
    budget_s: float | None = None
    seeds: int = 1
    baseline: bool = False
    random: int = 0
    warmup: int = 2
    repeats: int = 3


def plan(config: Config, steps_per_epoch: tuple[int, int], settings: PlanSettings) -> Plan:
    """Time every scope (s, m, l, f, the config's own custom scope, progressive) on the config's device.

    ``steps_per_epoch``: (search, retrain) steps per epoch of the configured data.
    """
    if settings.seeds < 1 or settings.random < 0:
        raise PresnetError("seeds must be at least 1 and random at least 0", where="plan")
    device = resolve_device(config.run.device)
    prec = configure_torch(config.run, device)
    torch.manual_seed(0)
    n, d = config.network, config.data
    spec = NetSpec(10, n.stem, n.width_mult, tuple(n.depths))
    setup = Setup(device, prec, spec, d.batch_size, d.image_size, settings.repeats, settings.warmup, 0)
    setup.joint = config.space.candidates == "joint"
    times: dict[tuple[int, ...], StepTimes] = {}

    def times_of(scope: Scope) -> StepTimes:
        ids = tuple(scope_block_ids(scope, n.depths))
        if ids not in times:
            times[ids] = time_scope(setup, config, list(ids))
        return times[ids]

    scopes: list[Scope] = list(SCOPE_STAGES)
    if isinstance(config.space.scope, list):
        scopes.append(config.space.scope)
    search_spe, retrain_spe = steps_per_epoch
    rows = [_row(config, scope, times_of(scope), steps_per_epoch, settings) for scope in scopes]
    stages: list[Scope] = list(config.search.progressive or ["s", "m", "l", "f"])
    rows.append(_progressive_row(config, stages, [times_of(s) for s in stages], steps_per_epoch, settings))
    baseline_s = 0.0
    if settings.baseline:
        plain = bench.to_device(setup, build_plain(spec))
        t = _retrain_step_s(setup, plain)
        baseline_s = settings.seeds * config.retrain.epochs * retrain_spe * t
    total = baseline_s + sum(r.sweep_s for r in rows if r.scope in SCOPE_STAGES)
    return Plan(
        device=str(device),
        image_size=d.image_size,
        batch_size=d.batch_size,
        search_steps_per_epoch=search_spe,
        retrain_steps_per_epoch=retrain_spe,
        budget_s=settings.budget_s,
        seeds=settings.seeds,
        random=settings.random,
        baseline_s=baseline_s,
        rows=rows,
        total_s=total,
        total_fits=settings.budget_s is None or total <= settings.budget_s,
    )


def time_scope(setup: Setup, config: Config, block_ids: list[int]) -> StepTimes:
    """Median seconds of a sampled weight step, an architecture step (the configured estimator) and a
    retrain step of the scope's costliest architecture."""
    s = config.space
    space = SearchSpace.build(block_ids, s.kernels, s.activations, setup.spec.depths, joint=setup.joint)
    net = bench.to_device(setup, SearchNet(setup.spec, space))
    assert isinstance(net, SearchNet)
    w_opt = bench.sgd(net.weight_parameters())
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=1e-3, betas=(0.0, 0.999))
    sampler = PathSampler(0)
    x, y = batch(setup)
    mode = Mode(config.search.estimator)

    def weight_step() -> None:
        net.sample_weight_paths(sampler)
        bench.train_step(setup, net, w_opt, x, y)

    weight_s = timed(setup, weight_step)
    arch_s = timed(setup, lambda: bench.arch_step(setup, net, sampler, a_opt, mode, x, y))
    largest = BlockChoice(max(s.kernels), s.activations[0])
    plain = bench.to_device(setup, build_plain(setup.spec, {b: largest for b in block_ids}))
    c, pt = config.search.curvature, config.search.perturbation
    curvature_s = probe_seconds(setup, net, "curvature", c) if c.enabled else 0.0
    perturbation_s = probe_seconds(setup, net, "perturbation", pt) if pt.enabled else 0.0
    return StepTimes(weight_s, arch_s, _retrain_step_s(setup, plain), curvature_s, perturbation_s)


def _retrain_step_s(setup: Setup, model: torch.nn.Module) -> float:
    opt = bench.sgd(list(model.parameters()))
    x, y = batch(setup)
    return timed(setup, lambda: bench.train_step(setup, model, opt, x, y))


def _choices(config: Config, block_ids: Sequence[int]) -> tuple[int, int]:
    """(real, void) candidates summed over the blocks, at the configured input size."""
    s = config.space
    space = SearchSpace.build(list(block_ids), s.kernels, s.activations, config.network.depths)
    per_act = len(s.activations)
    real = void = 0
    for g in space_geometry(space, config.data.image_size, config.network.stem):
        kept = len(g.kept_kernels())
        real += kept * per_act
        void += (len(g.effective_kernels) - kept) * per_act
    return real, void


def _search_epoch_s(t: StepTimes, spe: int, arch_every: int) -> float:
    return spe * (t.weight_s + t.arch_s / arch_every)


def _row(config: Config, scope: Scope, t: StepTimes, spe: tuple[int, int], settings: PlanSettings) -> ScopeRow:
    s, r = config.search, config.retrain
    blocks = scope_block_ids(scope, config.network.depths)
    real, void = _choices(config, blocks)
    search_epoch = _search_epoch_s(t, spe[0], s.arch_every)
    warm = min(s.warmup_epochs, s.epochs)
    retrain_epoch = spe[1] * t.retrain_s
    shares = _probe_shares(config, t, search_epoch)
    probe = shares[2] / (1 - shares[2]) * search_epoch if shares[2] < 1 else 0.0
    run = warm * spe[0] * t.weight_s + (s.epochs - warm) * (search_epoch + probe) + r.epochs * retrain_epoch
    row = ScopeRow(
        scope_name(scope), len(blocks), real, void, search_epoch, retrain_epoch, s.epochs, r.epochs, run, 0, False
    )
    row.curvature_share, row.perturbation_share, row.probes_share = shares
    return _finish(row, settings)


def _probe_shares(config: Config, t: StepTimes, search_epoch: float) -> tuple[float, float, float]:
    """(curvature, perturbation) seconds per search epoch over the epoch's, and the share of the search's
    time they take together once the budget holds them (core.train.probes; exempt probes are not held)."""
    s = config.search
    if search_epoch <= 0:
        return 0.0, 0.0, 0.0
    curv, pert = t.curvature_s / s.curvature.every, t.perturbation_s / s.perturbation.every
    exempt = (curv if s.stop_rule == "curvature" else 0.0) + (pert if s.select == "perturbation" else 0.0)
    held = curv + pert - exempt
    if s.probe_budget < 1:  # within the budget: P / (E + P) <= b, so P <= b E / (1 - b)
        held = min(held, max(0.0, s.probe_budget * search_epoch / (1 - s.probe_budget) - exempt))
    probes = exempt + held
    return curv / search_epoch, pert / search_epoch, probes / (search_epoch + probes)


def _finish(row: ScopeRow, settings: PlanSettings) -> ScopeRow:
    row.sweep_s = settings.seeds * (row.run_s + settings.random * row.retrain_epochs * row.retrain_epoch_s)
    row.fits = settings.budget_s is None or row.sweep_s <= settings.budget_s
    return row


def _progressive_row(
    config: Config, stages: list[Scope], times: list[StepTimes], spe: tuple[int, int], settings: PlanSettings
) -> ScopeRow:
    s, r = config.search, config.retrain
    epochs = worst_case_epochs(config, len(stages))
    search_s, detail = 0.0, list[dict[str, float | int | str]]()
    for i, (scope, t, e) in enumerate(zip(stages, times, epochs, strict=True)):
        warm = min(s.stage_warmup(i + 1), e)
        stage_s = warm * spe[0] * t.weight_s + (e - warm) * _search_epoch_s(t, spe[0], s.arch_every)
        search_s += stage_s
        detail.append({"stage": i + 1, "scope": scope_name(scope), "epochs": e, "search_s": stage_s})
    last = scope_block_ids(stages[-1], config.network.depths)
    real, void = _choices(config, last)
    retrain_epoch = spe[1] * times[-1].retrain_s
    total_epochs = sum(epochs)
    row = ScopeRow(
        scope=f"progressive {progressive_label(stages)}",
        blocks=len(last),
        real_choices=real,
        void_choices=void,
        search_epoch_s=search_s / max(total_epochs, 1),
        retrain_epoch_s=retrain_epoch,
        search_epochs=total_epochs,
        retrain_epochs=r.epochs,
        run_s=search_s + r.epochs * retrain_epoch,
        sweep_s=0.0,
        fits=False,
        stages=detail,
    )
    return _finish(row, settings)


def worst_case_epochs(config: Config, n_stages: int) -> list[int]:
    """Epochs per stage in a progressive search's costliest course (see the module docstring)."""
    s = config.search
    cap = s.epochs
    budgets = [config.stage_budget(i + 1) for i in range(n_stages)]
    warm = [s.stage_warmup(i + 1) for i in range(n_stages)]
    limit = [b if b is not None else cap for b in budgets]
    least = [min(b, w + s.patience) for b, w in zip(limit, warm)]
    out = []
    left = cap
    for e in least:  # the earliest each stage can end, in order, within the cap
        out.append(min(e, left))
        left -= out[-1]
    for i in reversed(range(n_stages)):  # what is left goes to the latest (widest, costliest) stages first
        room = limit[i] - out[i]
        extra = max(0, min(room, left))
        out[i] += extra
        left -= extra
    return out
