"""One finished run as Table I reads it: its kind (search, random, baseline, space) and scope, its
result, its recipe (the config less what cannot change a result) and what its search decided.

:func:`collect` reads run directories and sweeps (a sweep stands for its finished runs);
:mod:`core.results.table` groups the results into rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.errors import PresnetError
from core.run.rundir import RunDir
from core.run.summary import RunSummary, StopRecord
from core.scale.sweep import Sweep, is_sweep
from core.space import joint_name, scope_name

BASELINE = "baseline"
Kind = Literal["search", "random", "baseline", "space"]
KINDS: tuple[Kind, ...] = ("search", "random", "baseline", "space")
#: One flattened config value (lists kept as their JSON text, so that they compare and hash).
Scalar = str | int | float | bool | None
#: A flattened config: dotted key -> value.
Recipe = dict[str, Scalar]

#: Config fields that cannot change a run's result: where it writes, its share of the CPU, how the
#: data arrived.  ``run.seed`` is what a row averages over.
NOT_RECIPE = (
    "run.seed",
    "run.out",
    "run.runs_dir",
    "run.threads",
    "run.tensorboard",
    "data.download",
    "data.data_dir",
)
#: Sections a kind of run never reads: a retrain-only run does not search; the baseline has no space.
UNREAD: dict[str, tuple[str, ...]] = {
    "search": (),
    "random": ("search",),
    "space": ("search",),
    "baseline": ("search", "space"),
}


@dataclass
class RunResult:
    path: Path
    scope: str  # s/m/l/f, "1,2,5" for a custom scope, or "baseline"
    params: int | None
    top1: float | None
    search_s: float | None
    choices: dict[str, str] = field(default_factory=dict)  # block id -> "5x5/mish"
    flops: int | None = None  #: of the trained architecture, at ``image_size``
    image_size: int | None = None
    kind: Kind = "search"
    recipe: Recipe = field(default_factory=dict)  #: flattened config, less what cannot change a result
    settled: int | None = None  #: decisions the stop criterion settled (summary.json's ``search.settled``)
    decisions: int | None = None  #: of ``search.decisions_total``; None for a random or baseline run
    stopped: bool = False  #: its retrain was stopped before ``retrain.epochs`` (its recipe says where)
    #: block id -> decision ("kernel", "activation") -> the candidate chosen, for each decision searched
    decided: dict[str, dict[str, str]] = field(default_factory=dict)
    seed: int | None = None  #: ``run.seed``: a searched run and its random runs share it (RI pairs by it)
    #: summary.json's ``search.stop_rule``: the rule, whether it fired, the epoch the architecture is from
    stop: StopRecord | None = None
    curvature: float | None = None  #: the relaxed loss Hessian's largest eigenvalue at the architecture's epoch
    val_top1: float | None = None  #: the retrain's last validation top-1 (summary.json's ``retrain.val_top1``)
    #: the perturbation readout at the architecture's epoch: (decisions agreeing with the argmax, decisions read)
    perturbation: tuple[int, int] | None = None


def run_flops(run: RunDir) -> tuple[int | None, int | None]:
    """FLOPs of a run's architecture at its configured input size, counted on the meta device (no
    memory, no arithmetic); none before the run has an arch.json."""
    if not run.arch_file.is_file():
        return None, None
    import torch

    from core.space.arch import load_arch
    from core.space.cost import count_flops

    size = run.config().data.image_size
    with torch.device("meta"):
        model = load_arch(run.arch_file).build()
    return count_flops(model, size), size


def flatten(data: Mapping[str, object], prefix: str = "") -> Recipe:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists kept whole, as JSON text, so they compare and hash)."""
    out: Recipe = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, str | int | float | bool) or value is None:
            out[name] = value
        else:
            out[name] = json.dumps(value)
    return out


def recipe(run: RunDir, kind: Kind) -> Recipe:
    """What a run's result depends on besides its seed and architecture: its config, less
    :data:`NOT_RECIPE` and the sections its kind never reads."""
    flat = flatten(run.config().model_dump(mode="json"))
    unread = UNREAD[kind]
    return {k: v for k, v in flat.items() if k not in NOT_RECIPE and k.split(".", 1)[0] not in unread}


def _kind_and_scope(summary: RunSummary) -> tuple[Kind, str]:
    if summary.baseline:
        return "baseline", BASELINE
    source = (summary.architecture or {}).get("source") or {}
    drawn = source.get("random") if isinstance(source, dict) else None
    listed = source.get("space") if isinstance(source, dict) else None  # an exhaustive sweep's
    origin = drawn if isinstance(drawn, dict) else listed if isinstance(listed, dict) else None
    raw = origin.get("scope") if origin is not None else (summary.search.scope if summary.search else None)
    if isinstance(raw, str) and raw.startswith("custom-"):  # a drawn architecture's record of block ids
        raw = [int(b) for b in raw.removeprefix("custom-").split("-")]
    if isinstance(raw, list):
        scope = ",".join(str(b) for b in raw)
    else:
        scope = scope_name(raw) if raw is not None else "custom"
    kind: Kind = "random" if isinstance(drawn, dict) else "space" if isinstance(listed, dict) else "search"
    return kind, scope


def run_result(run: RunDir) -> RunResult:
    """One run's summary as a table entry; a run without a summary is refused (not finished)."""
    s = run.summary()
    if s.empty:
        raise PresnetError("run has no summary.json yet", where=str(run.path), hint="let the run finish first")
    kind, scope = _kind_and_scope(s)
    blocks = (s.architecture or {}).get("blocks", {}) if kind != "baseline" else {}
    search = s.search
    counted = kind == "search" and search is not None and search.decisions_total is not None
    flops, size = run_flops(run)
    stopped = s.retrain is not None and s.retrain.stopped
    rec = recipe(run, kind)
    if stopped and s.retrain is not None:  # a retrain stopped at epoch e of a cosine schedule: another recipe
        rec["retrain.stopped_at_epoch"] = s.retrain.epochs
    return RunResult(
        path=run.path,
        scope=scope,
        params=s.params,
        top1=s.retrain.test_top1 if s.retrain else None,
        search_s=search.elapsed_s if search else None,
        choices={str(b): joint_name(int(c["kernel"]), c["activation"]) for b, c in blocks.items()},
        flops=flops,
        image_size=size,
        kind=kind,
        recipe=rec,
        stopped=stopped,
        decided=_decided(blocks, search.decisions if search else None),
        seed=run.config().run.seed,
        settled=int(search.settled or 0) if counted and search else None,
        decisions=search.decisions_total if counted and search else None,
        stop=search.stop_rule if kind == "search" and search and search.stop_rule else None,
        curvature=search.curvature_at(search.stop_rule.architecture_epoch) if search and search.stop_rule else None,
        val_top1=_val_top1(s),
        perturbation=_readout_agreement(search.perturbation if search else None),
    )


def _val_top1(summary: RunSummary) -> float | None:
    return summary.retrain.val_top1 if summary.retrain else None


def _readout_agreement(record: Mapping[str, object] | None) -> tuple[int, int] | None:
    """(agreeing, read) from summary.json's ``search.perturbation`` (None: no readout)."""
    choices = record.get("choices") if record else None
    if not isinstance(choices, dict) or not choices or record is None:
        return None
    read = sum(len(ds) for ds in choices.values())
    disagreements = record.get("disagreements", [])
    return read - (len(disagreements) if isinstance(disagreements, list) else 0), read


def _decided(
    blocks: Mapping[str, Mapping[str, object]], decisions: Sequence[Mapping[str, object]] | None
) -> dict[str, dict[str, str]]:
    """Each block's kernel and activation as chosen; with the search's decision list, only the
    decisions it searched (a kernel list of one is no decision)."""
    searched = {(str(d["block"]), d["decision"]) for d in decisions} if decisions else None
    out: dict[str, dict[str, str]] = {}
    for b, c in blocks.items():
        for name, value in (("kernel", str(c["kernel"])), ("activation", str(c["activation"]))):
            if searched is None or (str(b), name) in searched or (str(b), "op") in searched:
                out.setdefault(str(b), {})[name] = value
    return out


def collect(paths: Iterable[Path]) -> list[RunResult]:
    """Run directories as given; a sweep directory stands for its finished runs."""
    results: list[RunResult] = []
    paths = list(paths)
    for p in paths:
        if is_sweep(Path(p)):
            sweep = Sweep.open(Path(p))
            done = [s for s in sweep.statuses() if s.state == "done"]
            results += [run_result(RunDir(s.path)) for s in done]
        else:
            results.append(run_result(RunDir.open(Path(p))))
    if not results:
        raise PresnetError("no finished run to compare", where=", ".join(map(str, paths)), hint="let a run finish")
    return results
