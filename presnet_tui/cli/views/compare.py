"""Table I as text: the terminal table (80 columns; ``--wide`` for every column), Markdown and CSV.

Rows are :class:`core.api.results.TableRow` records (CSV flattens them here, at the edge).  A row of one run shows its
top-1 without a spread (one run has none); intervals read ``lo–hi``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.table import Table

from core.api.results import TableRow

Row = TableRow


def pct(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}"


def top1(r: Row, sep: str = " ± ") -> str:
    """Mean ± std in %, or the mean alone for n = 1 (never ``± 0.00``)."""
    if r.top1_mean is None:
        return "-"
    return pct(r.top1_mean) + ("" if r.top1_std is None else f"{sep}{pct(r.top1_std)}")


def interval(ci: Sequence[float] | None, scale: float = 100.0, digits: int = 2, signed: bool = False) -> str:
    """``[lo, hi]`` (``scale`` 100: fractions as %)."""
    if ci is None:
        return "-"
    fmt = f"{{:{'+' if signed else ''}.{digits}f}}"
    return f"[{fmt.format(scale * ci[0])}, {fmt.format(scale * ci[1])}]"


def ri(r: Row) -> str:
    return "-" if r.ri_mean is None else f"{r.ri_mean:+.2f}"


def p_value(r: Row) -> str:
    p = r.p_value
    return "-" if p is None else (f"{p:.3f}" if p >= 0.001 else "<0.001")


def params(r: Row) -> str:
    return "-" if r.params_mean is None else f"{r.params_mean / 1e6:.2f}M"


def differs(r: Row) -> str:
    return ", ".join(f"{k}={v}" for k, v in r.differs.items())


def stopped_mark(r: Row) -> str:
    """`` (stopped)`` for a row of retrains stopped early: a shorter recipe, never averaged with the full one."""
    return " (stopped)" if r.stopped else ""


def _label(r: Row) -> str:
    return (r.scope if r.kind == "baseline" else f"{r.scope} {r.kind}") + stopped_mark(r)


NARROW = ["scope/kind", "n", "params", "top-1 %", "RI %", "RI 95% CI", "p", "settled"]
WIDE = ["model", "scope", "kind", "n", "params", "FLOPs", "top-1 %", "top-1 95% CI", "RI %", "RI 95% CI", "p"]
WIDE += ["search", "seeds agree", "settled", "stop", "λmax", "PT=α", "differs"]


def agree(r: Row) -> str:
    """Decisions every seed of a searched row chose alike, of those searched (``6/8``); ``-`` elsewhere."""
    if r.kind != "search" or not r.decisions_compared:
        return "-"
    return f"{r.decisions_agreeing}/{r.decisions_compared}"


def agreement_note(r: Row) -> str | None:
    """Per decision, how many seeds chose the majority candidate: ``10 kernel 3 (3/3), ...``."""
    per = r.seed_agreement
    if r.kind != "search" or not per:
        return None
    cells = [f"{block} {name} {a.choice} ({a.runs}/{a.of})" for block, ds in per.items() for name, a in ds.items()]
    return f"{_label(r)}: seeds agree on {agree(r)} decisions: " + ", ".join(cells)


def _wide_cells(r: Row) -> list[str]:
    flops = "-" if r.flops_mean is None else f"{r.flops_mean / 1e9:.3f}G @{r.image_size or '?'}px"
    search = "-" if r.search_s_mean is None else f"{r.search_s_mean:.0f} s"
    agreed = "-" if agree(r) == "-" else f"{agree(r)} decisions"
    cells = [r.model + stopped_mark(r), r.scope, r.kind, str(r.n), params(r), flops, top1(r)]
    cells.append(interval(r.top1_ci95))
    cells += [ri(r), interval(r.ri_ci95, 1.0, signed=True), p_value(r), search, agreed, settled(r)]
    return [*cells, stop(r), curvature(r), readout(r), differs(r) or "-"]


def stop(r: Row) -> str:
    """``curvature 2/3 @14``: the rule, how many of the row's runs it stopped, the mean epoch their
    architectures come from (a rollback's, for the curvature rule)."""
    if r.stop_rule is None:
        return "-"
    return f"{r.stop_rule} {r.stops_fired}/{r.n} @{r.arch_epoch_mean:.0f}"


def curvature(r: Row) -> str:
    """Mean largest Hessian eigenvalue at the architectures' epochs."""
    return "-" if r.curvature_mean is None else f"{r.curvature_mean:.3g}"


def readout(r: Row) -> str:
    """``5/8``: decisions where the perturbation readout agreed with the alphas' argmax at the
    architectures' epochs, summed over the row's runs (``-``: no readout)."""
    return "-" if r.pt_decisions is None else f"{r.pt_agreeing}/{r.pt_decisions}"


def settled(r: Row) -> str:
    """Decisions the stop criterion settled, summed over the row's runs (k/n): how much of the
    architecture is a decision rather than rounding noise."""
    return "-" if r.decisions_total is None else f"{r.settled}/{r.decisions_total}"


def terminal_table(rows: Sequence[Row], wide: bool = False) -> tuple[Table, list[str]]:
    """The rich table and its footnotes (what differs between rows of one scope and kind).

    Narrow (the default) fits 80 columns: one label column, n, params, top-1 mean ± std, RI and
    its interval, p, settled k/n; below it, per searched row, the decisions its seeds agree on;
    ``wide`` has every column."""
    table = Table(title="Table I: test top-1 per scope and kind", box=box.SIMPLE_HEAD, pad_edge=False)
    notes: list[str] = []
    for col in WIDE if wide else NARROW:
        table.add_column(col, no_wrap=True, justify="left" if col in ("scope/kind", "model", "differs") else "right")
    for r in rows:
        if wide:
            table.add_row(*_wide_cells(r))
            continue
        label = _label(r)
        if r.differs:
            notes.append(f"[{len(notes) + 1}] {label}: {differs(r)}")
            label += f" [{len(notes)}]"
        ci = interval(r.ri_ci95, 1.0, 1, True)
        table.add_row(label, str(r.n), params(r), top1(r, "±"), ri(r), ci, p_value(r), settled(r))
    notes += [n for n in (agreement_note(r) for r in rows) if n]
    notes += [n for n in (ri_note(r) for r in rows) if n]
    return table, notes


def ri_note(r: Row) -> str | None:
    """Why a searched row's RI interval reads ``-`` (none bounded), and which random runs it left out."""
    parts = []
    if r.ri_mean is not None and r.ri_ci95 is None and r.ri_note:
        parts.append(f"RI 95% CI -: {r.ri_note}")
    if r.random_left_out:
        parts.append(
            f"RI, CI and p use the {r.random_n} random runs of the searched seeds "
            f"({r.random_left_out} of other seeds set aside: no searched run to pair with)"
        )
    return f"{_label(r)}: " + "; ".join(parts) if parts else None


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(WIDE) + " |", "|" + "---|" * len(WIDE)]
    lines += ["| " + " | ".join(_wide_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


CSV_FIELDS = ["scope", "model", "n", "params_mean", "flops_mean", "image_size", "top1_mean", "top1_std"]
CSV_FIELDS += ["search_s_mean", "blocks_agreeing", "blocks", "kind", "top1_ci95_lo", "top1_ci95_hi", "ri_mean"]
CSV_FIELDS += ["ri_ci95_lo", "ri_ci95_hi", "p_value", "random_n", "settled", "decisions_total", "differs"]
CSV_FIELDS += ["decisions_agreeing", "decisions_compared"]


def as_csv(rows: Sequence[Row]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        flat: dict[str, Any] = dataclasses.asdict(r)
        for key in ("top1_ci95", "ri_ci95"):
            lo, hi = flat[key] if flat[key] is not None else (None, None)
            flat[f"{key}_lo"], flat[f"{key}_hi"] = lo, hi
        flat["differs"] = differs(r)
        writer.writerow(flat)
    return buf.getvalue()
