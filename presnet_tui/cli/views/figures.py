"""Publication figures with matplotlib (the optional ``plots`` extra): the paper's Fig. 3 and Table I.

Terminal plots stay plotext (:mod:`presnet_tui.shared.trajectory`); these are files for papers and
slides.  matplotlib is imported here lazily, with the Agg backend (no display needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.api.results import TableRow
from core.errors import PresnetError, import_extra
from presnet_tui.shared.trajectory import Trajectory

#: Suffixes matplotlib writes for us; others stay with plotext (.txt, .html).
IMAGE_SUFFIXES = (".png", ".svg", ".pdf")


def _pyplot() -> Any:
    matplotlib = import_extra("matplotlib", "plots", where="--save", instead="or save as .txt/.html")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    """Write through a temp file beside ``path`` so a failed save never leaves half a figure."""
    from core.api.files import atomic_write

    fmt = path.suffix.lstrip(".").lower()
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=150, bbox_inches="tight"))


#: One look per line that survives greyscale printing: a dash pattern and a marker, besides the colour.
LINE_STYLES = [("-", None), ("--", "o"), (":", "s"), ("-.", "^"), ((0, (5, 1, 1, 1, 1, 1)), "v"), ((0, (1, 3)), "D")]


#: (epoch, curvature) points and (epoch, label) marks of the stop rules, for :func:`fig3`'s last row
CurvatureMarks = tuple[Sequence[tuple[int, float]], Sequence[tuple[int, str]]]
#: per epoch with a perturbation readout: (epoch, block -> decision -> (choice, its probability, agrees))
ReadoutMarks = Sequence[tuple[int, dict[str, dict[str, tuple[str, float, bool]]]]]


def line_style(i: int) -> dict[str, Any]:
    dash, marker = LINE_STYLES[i % len(LINE_STYLES)]
    return {"linestyle": dash, "marker": marker, "markevery": 0.12, "markersize": 3.5}


def fig3(  # noqa: PLR0913 -- the figure's overlays, each optional and named at the call
    traj: Trajectory,
    blocks: Sequence[str],
    path: Path,
    *,
    stop_epoch: float | None = None,
    title: str = "",
    decisions: Sequence[Mapping[str, Any]] = (),
    stages: Sequence[tuple[float, str]] = (),
    curvature: CurvatureMarks | None = None,
    readouts: ReadoutMarks = (),
) -> None:
    """Each block's kernel and activation probabilities over epochs (one row per block), with the
    stop epoch marked: the paper's Fig. 3.  Joint candidates: the pair probabilities first, then their
    kernel and activation marginals.  Every line has its own dash pattern and marker as well as its colour,
    so the figure reads in greyscale.  ``stages``: a progressive search's stage boundaries (see
    :func:`mark_stages`).  ``curvature``: (epoch, largest Hessian eigenvalue) per measured epoch, drawn
    in a last row, with its marks ((epoch, label): the stop rules' epochs) there and on every panel.
    ``readouts``: the perturbation readout's choice on each panel, a marker at the chosen candidate's
    probability (filled: it differs from the argmax, hollow: it agrees)."""
    plt = _pyplot()
    panels = traj.decisions()  # ["op", "kernel", "activation"] for joint candidates
    points, marks = curvature or ((), ())
    rows = len(blocks) + (1 if points else 0)
    fig, axes = plt.subplots(
        rows, len(panels), figsize=(4.5 * len(panels), 1.9 * rows + 0.6), squeeze=False, sharex=True
    )
    if points:
        curvature_panel(axes[-1], points, marks)
    for row, block in enumerate(blocks):
        for col, decision in enumerate(panels):
            ax = axes[row][col]
            for i, (label, ys) in enumerate(traj.series.get(block, {}).get(decision, {}).items()):
                name = f"{label}x{label}" if decision == "kernel" else label
                ax.plot(traj.x[: len(ys)], ys, label=name, linewidth=1.4, **line_style(i))
            if stop_epoch is not None:
                ax.axvline(stop_epoch, color="black", linestyle="--", linewidth=1, label=f"stop (epoch {stop_epoch:g})")
            mark_stages(ax, stages, label=row == 0 and col == 1)
            for epoch, label in marks:
                ax.axvline(epoch, **MARK_STYLE[label.split()[0]])
            mark_readouts(ax, readouts, block, decision)
            ax.set_ylim(0, 1.02)
            ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
            ax.grid(alpha=0.3)
            what = {"op": "kernel/activation pairs"}.get(decision, decision)
            marginal = " (marginal)" if len(panels) == 3 and decision != "op" else ""
            ax.set_title(f"block {block} · {what}{marginal}", fontsize=9)
            if col == 0:
                ax.set_ylabel("probability")
            if row == rows - 1:
                ax.set_xlabel("epoch")
            if row == 0:
                ax.legend(fontsize=7, loc="upper left", ncol=2 if decision == "op" else 1)
    mark_unsettled(axes, blocks, decisions, panels)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


#: the stop rules' epochs: margin converged, curvature rule's rollback and detection (greyscale-safe dashes)
MARK_STYLE: dict[str, dict[str, Any]] = {
    "margin": {"color": "tab:green", "linestyle": (0, (1, 1)), "linewidth": 1.2},
    "rollback": {"color": "tab:purple", "linestyle": "-.", "linewidth": 1.2},
    "rise": {"color": "tab:red", "linestyle": (0, (4, 1, 1, 1)), "linewidth": 1.2},
}


def mark_readouts(ax: Any, readouts: ReadoutMarks, block: str, decision: str) -> None:
    """The perturbation's choice at each readout epoch, on the chosen candidate's probability."""
    for agrees, style in ((True, {"facecolors": "none", "edgecolors": "black"}), (False, {"color": "black"})):
        pts = [
            (e, at[block][decision][1])
            for e, at in readouts
            if decision in at.get(block, {}) and at[block][decision][2] == agrees
        ]
        if pts:
            label = "perturbation choice" + ("" if agrees else " ≠ argmax")
            ax.scatter(
                [e for e, _ in pts],
                [y for _, y in pts],
                marker="*" if not agrees else "o",
                s=22,
                zorder=3,
                label=label,
                **style,
            )


def curvature_panel(
    row_axes: Sequence[Any], points: Sequence[tuple[int, float]], marks: Sequence[tuple[int, str]]
) -> None:
    """The last row: the curvature per epoch (log scale) across the first panel, with the rules' marks
    labelled; the row's other panels stay empty."""
    ax = row_axes[0]
    ax.plot([e for e, _ in points], [v for _, v in points], color="black", linewidth=1.2, marker="o", markersize=2.5)
    for epoch, label in marks:
        ax.axvline(epoch, label=f"{label} (epoch {epoch})", **MARK_STYLE[label.split()[0]])
    if min(v for _, v in points) > 0:
        ax.set_yscale("log")
    ax.set_ylabel("λmax")
    ax.set_title("largest eigenvalue of the relaxed validation loss's Hessian w.r.t. the alphas", fontsize=9)
    ax.grid(alpha=0.3)
    if marks:
        ax.legend(fontsize=7, loc="upper left")
    for other in row_axes[1:]:
        other.axis("off")


def mark_unsettled(
    axes: Any,
    blocks: Sequence[str],
    decisions: Sequence[Mapping[str, Any]],
    panels: Sequence[str] = ("kernel", "activation"),
) -> None:
    """Mark each panel whose decision the stop criterion did not settle (``summary.json``'s
    ``search.decisions``): its title says so with the margin, its frame is dashed and grey, so a
    reader does not take a choice within the noise for a result."""
    rows = {block: row for row, block in enumerate(blocks)}
    for d in decisions:
        row = rows.get(str(d["block"]))
        if row is None or d["settled"] or d["decision"] not in panels:
            continue
        ax = axes[row][list(panels).index(d["decision"])]  # joint: the pairs come first
        ax.set_title(f"{ax.get_title()} · unsettled (margin {d['margin']:.2f})", fontsize=9, color="tab:red")
        for spine in ax.spines.values():
            spine.set_linestyle("--")
            spine.set_edgecolor("tab:red")


#: Greyscale-safe styles: the kinds differ by hatch and edge as well as by colour.
_KIND_STYLE = {
    "search": {"color": "#4c72b0", "hatch": "", "label": "searched (PResNet-50)"},
    "random": {"color": "#dddddd", "hatch": "///", "label": "random from the same space"},
}


def mark_stages(ax: Any, stages: Sequence[tuple[float, str]], label: bool = False) -> None:
    """A progressive search's stage boundaries on one axis: a dotted line where each stage after the
    first begins (``(epoch, name)``: x at the end of the epoch before it), its name at the top."""
    for x, name in stages:
        ax.axvline(x, color="grey", linestyle=":", linewidth=1)
        if label:
            ax.text(x, 1.0, f" {name}", fontsize=7, color="grey", va="top", ha="left")


def table1(rows: Sequence[TableRow], path: Path, title: str = "Test top-1 per search scope") -> None:
    """Per scope, the searched and the random architectures' mean top-1 side by side (bars from 0,
    95 % CI of the mean as error bars, n, RI and p written at their feet), and the baseline as a dashed line:
    Table I at a glance, readable in greyscale (hatches and line styles, not colour alone)."""
    plt = _pyplot()
    bars = [r for r in rows if r.kind in _KIND_STYLE and r.top1_mean is not None]
    base = next((r for r in rows if r.kind == "baseline" and r.top1_mean is not None), None)
    if not bars and base is None:
        raise PresnetError("no finished run with a test top-1", where=str(path), hint="let a run finish first")
    scopes = list(dict.fromkeys(_bar_scope(r) for r in bars))
    kinds = [k for k in _KIND_STYLE if any(r.kind == k for r in bars)]
    width = 0.8 / max(1, len(kinds))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(scopes) + 2.5), 3.8))
    for i, kind in enumerate(kinds):
        style = _KIND_STYLE[kind]
        for r in (r for r in bars if r.kind == kind):
            x = scopes.index(_bar_scope(r)) + (i - (len(kinds) - 1) / 2) * width
            m = 100 * (r.top1_mean or 0.0)  # bars hold rows with a mean
            ci = r.top1_ci95
            err = [[m - 100 * ci[0]], [100 * ci[1] - m]] if ci is not None else None
            ax.bar(
                x,
                m,
                width,
                yerr=err,
                capsize=4,
                color=style["color"],
                hatch=style["hatch"],
                edgecolor="black",
                linewidth=0.8,
                label=style["label"],
            )
            note = f"n={r.n}" + (f"\nRI {r.ri_mean:+.1f}%" if r.ri_mean is not None else "")
            note += f"\np={r.p_value:.3f}" if r.p_value is not None else ""
            # inside the bar, at its foot: above it a top-1 near 100 % (and its CI) would put the
            # note over the title; every bar starts at 0, so its foot is always in the axes
            ax.annotate(
                note,
                (x, 0),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                va="bottom",
                fontsize=6,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.0},
            )
    if base is not None:
        b = 100 * (base.top1_mean or 0.0)  # a base has a mean
        ax.axhline(b, color="black", linestyle="--", linewidth=1.2, label=f"ResNet-50 baseline (n={base.n})")
        if base.top1_ci95 is not None:
            lo, hi = (100 * v for v in base.top1_ci95)
            ax.axhline(lo, color="black", linestyle=":", linewidth=0.8, label="baseline 95 % CI")
            ax.axhline(hi, color="black", linestyle=":", linewidth=0.8)
    _table1_axes(ax, scopes, title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _table1_axes(ax: Any, scopes: list[str], title: str) -> None:
    """Table I's axes: scope ticks, a 0-105 % top-1 scale, one legend entry per label, outside the bars."""
    ax.set_xticks(range(len(scopes)), scopes)
    ax.set_xlabel("search scope")
    ax.set_ylabel("test top-1 (%), mean and 95 % CI")
    ax.set_ylim(0, 105)  # from 0: a bar's length is its value; the written RI carries the small differences
    ax.set_title(title, fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)


def _bar_scope(row: TableRow) -> str:
    """A bar group's label: the scope, and what differs when one scope has rows of several recipes."""
    extra = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in row.differs.items())
    return row.scope + (f"\n{extra}" if extra else "")
