"""Table I: finished runs grouped by scope and kind, mean and spread over runs, and RI over random.

One row per (scope, kind, recipe): ``search`` (architectures a search derived), ``random``
(architectures drawn uniformly from the same space, ``presnet sweep --random K``) and
``baseline`` (the plain ResNet-50).  Each row has n, mean parameters and FLOPs, test top-1
mean, sample std and 95 % interval, mean search time, and for each searched block how many
runs derived the same (most common) choice.  A search row with a random row of the same
scope and recipe beside it also carries the relative improvement over random with its
interval (paired by seed) and a one-sided p-value (:mod:`core.results.stats`): the question Table I has to
answer is whether the search beat what the space gives at random.

Runs whose configs differ in anything but their seed (and what cannot change a result:
where it writes, its CPU share) are never averaged together: they get rows of their own,
each saying what differs.  Rendering (rich, CSV, Markdown, figures) is the front end's job.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.errors import PresnetError
from core.results import stats
from core.run.rundir import RunDir
from core.run.summary import RunSummary, StopRecord
from core.scale.sweep import Sweep, is_sweep
from core.space import SCOPE_STAGES, joint_name, scope_name

BASELINE = "baseline"
Kind = Literal["search", "random", "baseline", "space"]
KINDS: tuple[Kind, ...] = ("search", "random", "baseline", "space")
#: One flattened config value (lists kept as their JSON text, so that they compare and hash).
Scalar = str | int | float | bool | None
#: A flattened config: dotted key -> value.
Recipe = dict[str, Scalar]

#: Config fields that cannot change a run's result: where it writes, its share of the CPU, how the
#: data arrived.  ``run.seed`` is what a row averages over.
_NOT_RECIPE = (
    "run.seed",
    "run.out",
    "run.runs_dir",
    "run.threads",
    "run.tensorboard",
    "data.download",
    "data.data_dir",
)
#: Sections a kind of run never reads: a retrain-only run does not search; the baseline has no space.
_UNREAD: dict[str, tuple[str, ...]] = {
    "search": (),
    "random": ("search",),
    "space": ("search",),
    "baseline": ("search", "space"),
}


@dataclass
class BlockAgreement:
    """A block's most common choice over a row's runs (``"5x5/mish"``) and how many runs made it."""

    choice: str
    runs: int


@dataclass
class DecisionAgreement:
    """One decision's majority candidate over a row's runs (its seeds): ``runs`` of ``of`` chose it."""

    choice: str
    runs: int
    of: int


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


@dataclass
class TableRow:
    """One row of Table I (JSON: these fields, tuples as lists)."""

    scope: str
    kind: Kind
    model: str
    n: int
    params_mean: float | None
    flops_mean: float | None
    image_size: int | None
    top1_mean: float | None
    top1_std: float | None  #: sample std over the runs; None for n = 1
    top1_ci95: tuple[float, float] | None  #: Student's t interval of the mean; None for n = 1
    search_s_mean: float | None
    blocks_agreeing: int
    blocks: int
    agreement: dict[str, BlockAgreement]
    runs: list[str]
    differs: Recipe = field(default_factory=dict)  #: config fields this row differs in from its siblings
    ri_mean: float | None = None  #: search rows: RI over the random row of the same scope and recipe, in %
    ri_ci95: tuple[float, float] | None = None
    p_value: float | None = None  #: one-sided permutation test, searched > random
    random_n: int | None = None  #: the random runs RI (its point, interval and p) was computed on
    random_left_out: int = 0  #: random runs of seeds without a searched run (no partner: set aside)
    ri_note: str | None = None  #: why RI has no interval, when it has none
    settled: int | None = None  #: settled decisions summed over the row's runs (search rows)
    decisions_total: int | None = None  #: of that many decisions
    stopped: int = 0  #: runs whose retrain was stopped early (a row of their own: the recipe differs)
    #: per block and decision, the majority candidate over the row's runs (its seeds) and how many chose it
    seed_agreement: dict[str, dict[str, DecisionAgreement]] = field(default_factory=dict)
    decisions_agreeing: int = 0  #: decisions every run of the row chose alike
    decisions_compared: int = 0  #: decisions in ``seed_agreement``
    stop_rule: str | None = None  #: the runs' stop rule (search rows; "mixed" when they differ)
    stops_fired: int | None = None  #: runs whose rule fired
    arch_epoch_mean: float | None = None  #: mean epoch the architectures come from
    curvature_mean: float | None = None  #: mean curvature at those epochs (runs that measured it)
    #: decisions where the perturbation readout agreed with the argmax, of those read, over the row's runs
    pt_agreeing: int | None = None
    pt_decisions: int | None = None


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
    :data:`_NOT_RECIPE` and the sections its kind never reads."""
    flat = flatten(run.config().model_dump(mode="json"))
    unread = _UNREAD[kind]
    return {k: v for k, v in flat.items() if k not in _NOT_RECIPE and k.split(".", 1)[0] not in unread}


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
    value = (summary.retrain.model_extra or {}).get("val_top1") if summary.retrain else None
    return float(value) if isinstance(value, int | float) else None


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


def seed_agreement(runs: Sequence[RunResult]) -> dict[str, dict[str, DecisionAgreement]]:
    """Per block and decision: the candidate most runs chose and how many of the runs did (of ``of``):
    across seeds, the reproducibility a result can quote (*settled* is within one run)."""
    out: dict[str, dict[str, DecisionAgreement]] = {}
    for block in sorted({b for r in runs for b in r.decided}, key=int):
        names = sorted({d for r in runs for d in r.decided.get(block, {})})
        for name in names:
            chosen = [r.decided[block][name] for r in runs if name in r.decided.get(block, {})]
            choice, count = Counter(chosen).most_common(1)[0]
            out.setdefault(block, {})[name] = DecisionAgreement(choice, count, len(runs))
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


def _order(key: tuple[str, str, str]) -> tuple[int, str, int, str]:
    scope, kind, recipe_key = key
    letters = list(SCOPE_STAGES)
    if scope == BASELINE:
        rank, name = 0, ""
    elif scope in letters:
        rank, name = 1 + letters.index(scope), ""
    else:
        rank, name = len(letters) + 1, scope
    return (rank, name, KINDS.index(kind), recipe_key)


def _differences(groups: dict[tuple[str, str, str], list[RunResult]]) -> dict[tuple[str, str, str], Recipe]:
    """Per group, the recipe fields whose values differ between the groups of its scope and kind."""
    out: dict[tuple[str, str, str], Recipe] = {key: {} for key in groups}
    siblings: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for key in groups:
        siblings.setdefault(key[:2], []).append(key)
    for keys in siblings.values():
        if len(keys) < 2:
            continue
        recipes = [groups[k][0].recipe for k in keys]
        fields = sorted({f for r in recipes for f in r if len({json.dumps(x.get(f)) for x in recipes}) > 1})
        for key, rec in zip(keys, recipes):
            out[key] = {f: rec.get(f) for f in fields}
    return out


def _row(key: tuple[str, str, str], runs: Sequence[RunResult], differs: Recipe) -> TableRow:
    scope, kind, _ = key
    top1 = [r.top1 for r in runs if r.top1 is not None]
    sizes = sorted({r.image_size for r in runs if r.image_size is not None})
    agreement: dict[str, BlockAgreement] = {}
    for block in sorted({b for r in runs for b in r.choices}, key=int):
        choice, count = Counter(r.choices[block] for r in runs if block in r.choices).most_common(1)[0]
        agreement[block] = BlockAgreement(choice, count)
    names = {"baseline": "ResNet-50 (baseline)", "random": f"random-{scope}", "space": f"every-arch-{scope}"}
    model = names.get(kind, f"PResNet-50-{scope}")
    counted = [r for r in runs if r.settled is not None]
    per_decision = seed_agreement(runs) if kind == "search" else {}
    cells = [a for decisions in per_decision.values() for a in decisions.values()]
    row = TableRow(
        scope=scope,
        kind=kind,  # type: ignore[arg-type]
        model=model,
        n=len(runs),
        params_mean=stats.mean([r.params for r in runs if r.params is not None]),
        flops_mean=stats.mean([r.flops for r in runs if r.flops is not None]),
        image_size=sizes[0] if len(sizes) == 1 else None,
        top1_mean=stats.mean(top1),
        top1_std=stats.sample_std(top1),
        top1_ci95=stats.mean_ci95(top1, bounds=(0.0, 1.0)),
        search_s_mean=stats.mean([r.search_s for r in runs if r.search_s is not None]),
        blocks_agreeing=sum(1 for a in agreement.values() if a.runs == len(runs)),
        blocks=len(agreement),
        agreement=agreement,
        runs=[str(r.path) for r in runs],
        differs=differs,
        settled=sum(r.settled or 0 for r in counted) if counted else None,
        decisions_total=sum(r.decisions or 0 for r in counted) if counted else None,
        stopped=sum(r.stopped for r in runs),
        seed_agreement=per_decision,
        decisions_agreeing=sum(a.runs == a.of for a in cells),
        decisions_compared=len(cells),
    )
    _stops(row, runs)
    _readouts(row, runs)
    return row


def _stops(row: TableRow, runs: Sequence[RunResult]) -> None:
    """The row's stop rule, how many of its runs it stopped, and where their architectures come from."""
    stops = [r.stop for r in runs if r.stop]
    if not stops:
        return
    rules = {s.rule for s in stops}
    curv = [r.curvature for r in runs if r.curvature is not None]
    row.stop_rule = rules.pop() if len(rules) == 1 else "mixed"
    row.stops_fired = sum(bool(s.fired) for s in stops)
    row.arch_epoch_mean = stats.mean([float(s.architecture_epoch) for s in stops if s.architecture_epoch is not None])
    row.curvature_mean = stats.mean(curv) if curv else None


def _readouts(row: TableRow, runs: Sequence[RunResult]) -> None:
    """Decisions where the perturbation readout agreed with the argmax, of those read, over the row's runs."""
    read = [r.perturbation for r in runs if r.perturbation]
    if read:
        row.pt_agreeing, row.pt_decisions = sum(a for a, _ in read), sum(n for _, n in read)


def _against_random(row: TableRow, search: Sequence[RunResult], random: Sequence[RunResult]) -> None:
    done_s = [x for x in search if x.top1 is not None]
    done_r = [x for x in random if x.top1 is not None]
    s, r = [x.top1 for x in done_s if x.top1 is not None], [x.top1 for x in done_r if x.top1 is not None]
    seeds_s, seeds_r = [x.seed for x in done_s], [x.seed for x in done_r]
    paired = None not in seeds_s and None not in seeds_r
    ri = stats.ri_estimate(
        s,
        r,
        [int(x) for x in seeds_s if x is not None] if paired else None,
        [int(x) for x in seeds_r if x is not None] if paired else None,
    )
    row.ri_mean, row.ri_ci95, row.ri_note = ri.point, ri.ci95, ri.reason
    row.p_value = stats.permutation_p_value(ri.search, ri.random)
    row.random_n, row.random_left_out = len(ri.random), ri.left_out


def _random_recipe(search_recipe: Recipe) -> str:
    """The recipe key a random row must have to be the reference of a search row's recipe."""
    unread = _UNREAD["random"]
    return json.dumps({k: v for k, v in search_recipe.items() if k.split(".", 1)[0] not in unread}, sort_keys=True)


def table_rows(results: Sequence[RunResult]) -> list[TableRow]:
    """Table I's rows: the baseline first, then the scopes small to full, each search row followed
    by its random row; a search row with a random row of the same recipe carries RI and p."""
    groups: dict[tuple[str, str, str], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.scope, r.kind, json.dumps(r.recipe, sort_keys=True)), []).append(r)
    differs = _differences(groups)
    rows = []
    for key in sorted(groups, key=_order):
        row = _row(key, groups[key], differs[key])
        if key[1] == "search":
            reference = groups.get((key[0], "random", _random_recipe(groups[key][0].recipe)))
            if reference:
                _against_random(row, groups[key], reference)
        rows.append(row)
    return rows
