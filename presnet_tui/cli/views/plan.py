"""``presnet plan``'s table (rich, fits 80 columns), from :class:`core.perf.plan.Plan`."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text

from core.api.plan import Plan


def plan_table(plan: Plan, human: Callable[[float], str]) -> Group:
    budget = f", budget {human(plan.budget_s)}" if plan.budget_s is not None else ""
    head = Text(
        f"plan on {plan.device}: {plan.image_size} px, batch {plan.batch_size}, "
        f"{plan.search_steps_per_epoch}/{plan.retrain_steps_per_epoch} steps per search/retrain epoch{budget}"
    )
    table = Table(box=None, padding=(0, 1, 0, 0), header_style="bold")
    heads = ("scope", "blk", "real/void", "search/ep", "retrain/ep", "epochs", "run", "sweep", "fits")
    for name in heads:
        table.add_column(name, justify="left" if name == "scope" else "right", no_wrap=True)
    for r in plan.rows:
        table.add_row(
            _short(r.scope),
            str(r.blocks),
            f"{r.real_choices}/{r.void_choices}",
            human(r.search_epoch_s),
            human(r.retrain_epoch_s),
            f"{r.search_epochs}+{r.retrain_epochs}" + ("*" if r.stages else ""),
            human(r.run_s),
            human(r.sweep_s),
            "-" if plan.budget_s is None else ("yes" if r.fits else "[red]no[/]"),
        )
    random = f" + {plan.random} random per scope and seed" if plan.random else ""
    baseline = f" + baseline {human(plan.baseline_s)}" if plan.baseline_s else ""
    fits = "" if plan.budget_s is None else (": fits" if plan.total_fits else ": [red]does not fit[/]")
    foot = Text.from_markup(
        f"sweep: x{plan.seeds} seeds{random}; s,m,l,f{baseline} = {human(plan.total_s)}{fits}\n"
        "* progressive: worst case (early stages end as soon as they can settle, the last runs to its budget)\n"
        "times: training steps only (no data pipeline, no test pass); retrain on each scope's largest kernels"
    )
    shares = [
        f"{_short(r.scope)} {r.curvature_share:.1%}/{r.perturbation_share:.1%} → {r.probes_share:.1%}"
        for r in plan.rows
        if (r.curvature_share or r.perturbation_share) and not r.stages
    ]
    if shares:  # what the probes would add to a search epoch, and what the budget holds them to (core.train.probes)
        foot.append(
            "\nprobes, curvature/perturbation per search epoch → their share of the search within "
            "search.probe_budget: " + ", ".join(shares)
        )
    return Group(head, table, foot)


def _short(scope: str) -> str:
    scope = scope.replace("progressive ", "prog ")
    return scope if len(scope) <= 14 else scope[:13] + "…"
