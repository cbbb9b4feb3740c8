"""Publication figures with matplotlib (the optional ``plots`` extra): the paper's Fig. 3 and Table I.

Terminal plots stay plotext (:mod:`presnet_tui.plots`); these are files for papers and
slides.  matplotlib is imported here lazily, with the Agg backend (no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import PresnetError, import_extra
from presnet_tui.plots import Trajectory

#: Suffixes matplotlib writes for us; others stay with plotext (.txt, .html).
IMAGE_SUFFIXES = (".png", ".svg", ".pdf")


def _pyplot() -> Any:
    matplotlib = import_extra("matplotlib", "plots", where="--save", instead="or save as .txt/.html")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    """Write through a temp file beside ``path`` so a failed save never leaves half a figure."""
    from core.io import atomic_write

    fmt = path.suffix.lstrip(".").lower()
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=150, bbox_inches="tight"))


def fig3(
    traj: Trajectory,
    blocks: Sequence[str],
    path: Path,
    stop_epoch: float | None = None,
    title: str = "",
    stages: Sequence[tuple[float, str]] = (),
) -> None:
    """Each block's kernel and activation probabilities over epochs (one row per block), with the
    stop epoch marked: the paper's Fig. 3.  ``stages``: a progressive search's stage boundaries
    (see :func:`mark_stages`)."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(blocks), 2, figsize=(9, 1.9 * len(blocks) + 0.6), squeeze=False, sharex=True)
    for row, block in enumerate(blocks):
        for col, decision in enumerate(("kernel", "activation")):
            ax = axes[row][col]
            for label, ys in traj.series.get(block, {}).get(decision, {}).items():
                name = f"{label}x{label}" if decision == "kernel" else label
                ax.plot(traj.x[: len(ys)], ys, label=name, linewidth=1.4)
            if stop_epoch is not None:
                ax.axvline(stop_epoch, color="black", linestyle="--", linewidth=1, label=f"stop (epoch {stop_epoch:g})")
            mark_stages(ax, stages, label=row == 0 and col == 1)
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            ax.set_title(f"block {block} · {decision}", fontsize=9)
            if col == 0:
                ax.set_ylabel("probability")
            if row == len(blocks) - 1:
                ax.set_xlabel("epoch")
            if row == 0:
                ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def mark_stages(ax: Any, stages: Sequence[tuple[float, str]], label: bool = False) -> None:
    """A progressive search's stage boundaries on one axis: a dotted line where each stage after the
    first begins (``(epoch, name)``: x at the end of the epoch before it), its name at the top."""
    for x, name in stages:
        ax.axvline(x, color="grey", linestyle=":", linewidth=1)
        if label:
            ax.text(x, 1.0, f" {name}", fontsize=7, color="grey", va="top", ha="left")


def table1(rows: Sequence[dict[str, Any]], path: Path, title: str = "Test top-1 per search scope") -> None:
    """Top-1 mean per scope with its standard deviation over seeds as error bars, and the baseline
    as a horizontal line (with its own band): Table I at a glance."""
    plt = _pyplot()
    scopes = [r for r in rows if r["scope"] != "baseline" and r["top1_mean"] is not None]
    base = next((r for r in rows if r["scope"] == "baseline" and r["top1_mean"] is not None), None)
    if not scopes and base is None:
        raise PresnetError("no finished run with a test top-1", where=str(path), hint="let a run finish first")
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(scopes) + 2), 3.6))
    xs = list(range(len(scopes)))
    means = [100 * r["top1_mean"] for r in scopes]
    errs = [100 * (r["top1_std"] or 0.0) for r in scopes]
    ax.bar(xs, means, yerr=errs, capsize=5, color="tab:blue", alpha=0.8, label="PResNet-50 (mean ± std)")
    for x, r, m, e in zip(xs, scopes, means, errs):
        ax.annotate(f"n={r['n']}", (x, m + e), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7)
    lows = [m - e for m, e in zip(means, errs)]
    if base is not None:
        b, e = 100 * base["top1_mean"], 100 * (base["top1_std"] or 0.0)
        ax.axhline(b, color="tab:red", linestyle="--", label=f"ResNet-50 baseline (n={base['n']})")
        if e > 0:
            ax.axhspan(b - e, b + e, color="tab:red", alpha=0.12)
        lows.append(b - e)
    ax.set_xticks(xs, [r["scope"] for r in scopes])
    ax.set_xlabel("search scope")
    ax.set_ylabel("test top-1 (%)")
    # Bars from zero would hide differences of a few tenths: start the axis just below the data.
    floor = max(0.0, min(lows) - 5) if lows else 0.0
    ax.set_ylim(floor, 100)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
