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
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.results import stats
from core.results.run_result import BASELINE as BASELINE
from core.results.run_result import KINDS as KINDS
from core.results.run_result import UNREAD, Recipe
from core.results.run_result import Kind as Kind
from core.results.run_result import RunResult as RunResult
from core.results.run_result import collect as collect
from core.results.run_result import flatten as flatten
from core.results.run_result import recipe as recipe
from core.results.run_result import run_result as run_result
from core.space import SCOPE_STAGES


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
    unread = UNREAD["random"]
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
