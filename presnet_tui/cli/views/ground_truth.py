"""``presnet compare``'s ground-truth section: the variance split in plain words, every architecture's
rank, where each search's pick falls, and the power of a planned Table I (80 columns)."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table

from core.api.results import GroundTruth, PowerPlan


def _pts(x: float) -> str:
    return f"{100 * x:.1f}"


def _ci(ci: tuple[float, float] | None, scale: float = 100.0, digits: int = 1) -> str:
    return "-" if ci is None else f"{scale * ci[0]:.{digits}f}-{scale * ci[1]:.{digits}f}"


def split_lines(truth: GroundTruth) -> list[str]:
    """The heading and the variance split (points: percentage points of top-1)."""
    head = f"Ground truth, scope {truth.scope}: {len(truth.archs)} architectures, {truth.runs} runs"
    s = truth.split
    if s is None:
        return [head, "  no variance split: no architecture has two runs yet"]
    first, _, second = s.sentence().partition("; ")
    return [
        head,
        f"  {first};",
        f"  {second}",
        f"  SD between architectures {_pts(s.between_sd)} points (95% CI {_ci(s.between_sd_ci95)}),",
        f"  within (seeds) {_pts(s.within_sd)} ({_ci(s.within_sd_ci95)}); share between (ICC) "
        f"{s.icc:.2f} ({_ci(s.icc_ci95, 1.0, 2)})",
        f"  F {s.f_stat:.2f}, p {s.p_value:.2g}, {s.n0:.1f} runs per architecture",
        f"  {s.method}",
    ]


def arch_table(truth: GroundTruth) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="every architecture, best mean first")
    for col in ("rank", "architecture", "n", "top-1 % ± sd", "val %", "pct"):
        table.add_column(col, no_wrap=True, justify="left" if col == "architecture" else "right")
    for a in truth.archs:
        sd = f" ± {_pts(a.sd)}" if a.sd is not None else ""
        val = _pts(a.val_mean) if a.val_mean is not None else "-"
        table.add_row(str(a.rank), a.label, str(a.n), f"{_pts(a.mean)}{sd}", val, f"{a.percentile:.0f}")
    return table


def placement_table(truth: GroundTruth) -> Table | None:
    """Each searched run's pick: its rank of all and percentile, with bootstrap intervals."""
    if not truth.placements:
        return None
    blocks = ", ".join(str(b) for b, _, _ in truth.archs[0].key)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="searches placed on it (95% CI: bootstrap over repeats)")
    for col in ("run", f"pick ({blocks})", "rank (CI)", "pct (CI)"):
        table.add_column(col, no_wrap=True, justify="right" if "CI" in col else "left")
    for p in truth.placements:
        pick = " ".join(part.partition(":")[2] for part in p.label.split())
        if p.rank is None:
            table.add_row(p.run, pick, "not in space", "-")
            continue
        rank = f"{p.rank}/{p.of}" + (f" ({p.rank_ci95[0]}-{p.rank_ci95[1]})" if p.rank_ci95 else "")
        pct = f"{p.percentile:.0f} ({_ci(p.percentile_ci95, 1.0, 0)})"
        table.add_row(p.run, pick, rank, pct)
    return table


def tau_table(truth: GroundTruth) -> Table | None:
    """Kendall's tau between each of the supernet's orderings (alphas, perturbation readout) and the
    ground truth, per searched run: a table of its own, so that two orderings still fit 80 columns."""
    names = sorted({t.ordering for p in truth.placements for t in p.taus})
    if not names:
        return None
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="Kendall τ with the ground truth (95% CI: bootstrap)")
    table.add_column("run", no_wrap=True)
    for name in names:
        table.add_column(f"τ {name}", no_wrap=True, justify="right")
    for p in truth.placements:
        taus = {t.ordering: f"{t.tau:+.2f} ({t.ci95[0]:+.2f},{t.ci95[1]:+.2f})" for t in p.taus}
        table.add_row(p.run, *[taus.get(n, "-") for n in names])
    return table


def power_lines(plans: Sequence[PowerPlan]) -> list[str]:
    """One line per planned design: the smallest gain it detects, and the power for a named one."""
    if not plans:
        return []
    out = ["  smallest gain a Table I at this noise finds with 80 % power (RI's 95% CI > 0):"]
    for p in plans:
        line = f"    {p.seeds} seeds x {p.random} random: +{_pts(p.min_gain)} points (RI +{p.min_ri:.1f} %)"
        if p.gain is not None and p.gain_power is not None:
            line += f"; power for +{_pts(p.gain)}: {100 * p.gain_power:.0f} %"
        out.append(line)
    return out
