"""What a finished search or retrain leaves in its run directory: the derived architecture and its
confidence, the retrain's architecture file, and summary.json's sections as the typed models of
:mod:`core.run.summary` (the job writes them; compare, sweeps and the front ends read them)."""

from __future__ import annotations

from core.config import Config
from core.run.events import StopReason
from core.run.rundir import RunDir
from core.run.summary import RetrainSummary, RulesRecord, SearchSummary, StopRecord
from core.run.tuning import Tuning
from core.space.arch import Architecture, load_arch, save_arch
from core.space.network import count_params
from core.train.convergence import Confidence, confidence, with_confidence
from core.train.curvature import entropies
from core.train.retrain_loop import RetrainOutcome
from core.train.search_loop import SearchEngine, SearchOutcome


def derived(engine: SearchEngine, outcome: SearchOutcome) -> tuple[Architecture, Confidence]:
    """The search's architecture with its confidence: every decision as the margin rule judged it at the
    architecture's epoch, a progressive search's frozen ones included (their alphas left the network)."""
    frozen = engine.stages.frozen_confidence if engine.stages else []
    conf = confidence(outcome.alphas, outcome.tracker or engine.tracker, engine.arch_steps, frozen)
    return with_confidence(outcome.architecture, conf), conf


def stop_record(rule: str, outcome: SearchOutcome) -> StopRecord:
    """The rule in force, whether and when it fired, and the epoch the architecture comes from."""
    fired = outcome.reason in (StopReason.CONVERGED, StopReason.CURVATURE)
    return StopRecord(
        rule=rule, fired=fired, fired_at=outcome.epoch if fired else None, architecture_epoch=outcome.arch_epoch
    )


def search_summary(config: Config, engine: SearchEngine, outcome: SearchOutcome, conf: Confidence) -> SearchSummary:
    """summary.json's ``search``: the outcome, the confidence, the stop and what every rule said of the
    epochs run, the curvature per epoch, the probes' account; the optional keys only when they apply."""
    summary = SearchSummary(
        epochs=outcome.epoch,
        stop_reason=outcome.reason.value,
        elapsed_s=round(outcome.elapsed_s, 3),
        scope=config.space.scope,
        block_ids=list(engine.space.block_ids),
        searched=conf.searched,
        arch_steps=conf.arch_steps,
        settled=conf.settled,
        decisions_total=conf.total,
        decisions=[d.as_dict() for d in conf.decisions],
        stop_rule=stop_record(config.search.rule, outcome),
        rules=outcome.verdicts.as_dict() if outcome.verdicts else RulesRecord(),
        curvature=[(e, round(v, 6)) for e, v in engine.curvatures],
        entropy=entropies(outcome.alphas),
        select=config.search.select,
        probes=engine.probes.shares(outcome.elapsed_s),
        tuning=engine.tuning,
    )
    # assigned only when they apply: a section keeps the keys it was given (summary.json's exclude_unset)
    if engine.stages:
        summary.stages = engine.stages.history
    if engine.rank_digests:
        summary.rank_state_sha256 = engine.rank_digests
    account = engine.probes.account(outcome.arch_epoch)
    if account is not None:
        summary.perturbation = account
    return summary


def keep_retrain_arch(run: RunDir, arch: Architecture) -> None:
    """Write the architecture a job retrains where it belongs.  A run without one (``presnet retrain``,
    or a search's retrain of the search's own result) keeps it in arch.json and its summary; another
    architecture than the search's (the TUI's derive of a past epoch) gets its own file, named in
    summary.json's ``retrain_arch``, so the search's result is never overwritten."""
    searched = load_arch(run.arch_file) if run.arch_file.is_file() else None
    if searched is not None and searched.same_network(arch):  # the search's own result, in arch.json
        if run.summary().retrain_arch:
            run.update_summary(retrain_arch=None)  # no longer an earlier retrain's other file
        return
    if searched is None:
        save_arch(run.arch_file, arch)
        run.update_summary(architecture=arch.model_dump(mode="json"), params=count_params(arch.build()))
        return
    epoch = (arch.source or {}).get("epoch")
    name = f"arch-epoch{epoch}.json" if isinstance(epoch, int) else "arch-retrain.json"
    save_arch(run.path / name, arch)
    run.update_summary(retrain_arch=name)


def write_retrain_summary(
    run: RunDir,
    arch: Architecture,
    outcome: RetrainOutcome,
    world_size: int,
    digests: list[str],
    tuning: Tuning | None = None,
) -> None:
    """summary.json's ``retrain`` (and, for the search's own architecture, ``architecture`` and ``params``)."""
    own = run.summary().retrain_arch  # a past epoch's architecture: its own file and params
    retrain = RetrainSummary(
        epochs=outcome.epochs, test_top1=outcome.test_top1, val_top1=outcome.val_top1, stopped=outcome.stopped
    )
    if own:
        retrain.arch_file, retrain.params = own, outcome.params
    if digests:
        retrain.rank_state_sha256 = digests
    if tuning is not None:
        retrain.tuning = tuning
    if own:
        run.update_summary(retrain=retrain, world_size=world_size)
    else:
        arch_json = arch.model_dump(mode="json")
        run.update_summary(architecture=arch_json, params=outcome.params, retrain=retrain, world_size=world_size)
