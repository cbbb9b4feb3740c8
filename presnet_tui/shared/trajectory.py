"""Alpha trajectories (the series folded from events) and their plotext figures, shared by
``presnet plot`` and the TUI's plot widgets (:mod:`presnet_tui.app.widgets.plots`).

``plt`` is either the plotext module or a textual-plotext widget's ``plt``: both
speak the same API, so the curves look the same in a terminal dump and live.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.run.events import Alphas, AlphaSnapshot, EpochEnd
from core.space import JOINT_DECISION, marginals

#: One colour per candidate position, stable across blocks.
COLORS = ["cyan", "orange", "green", "magenta", "red", "blue", "yellow"]


@dataclass
class Trajectory:
    """softmax(alpha) over (fractional) epochs for every block, decision and candidate."""

    x: list[float] = field(default_factory=list)
    series: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)

    def add(self, x: float, alphas: AlphaSnapshot) -> None:
        cut_back(self.x, x, (col for b in self.series.values() for d in b.values() for col in d.values()))
        self.x.append(x)
        for block, decisions in alphas.items():
            b = self.series.setdefault(block, {})
            if JOINT_DECISION in decisions:  # joint: the pair probabilities, and their two marginals
                decisions = {**decisions, **marginals(decisions[JOINT_DECISION])}
            for decision, probs in decisions.items():
                d = b.setdefault(decision, {})
                for label, p in probs.items():
                    d.setdefault(label, []).append(p)

    def blocks(self) -> list[str]:
        return sorted(self.series, key=int)

    def decisions(self) -> list[str]:
        """What to draw per block: kernel and activation, with the pairs first in joint mode."""
        joint = any(JOINT_DECISION in b for b in self.series.values())
        return [JOINT_DECISION, "kernel", "activation"] if joint else ["kernel", "activation"]


def cut_back(xs: list[float], x: float, columns: Iterable[list[Any]]) -> None:
    """A resumed run re-emits points: before adding ``x``, drop every point at or after it,
    so that ``xs`` (and the columns of values beside it) stay strictly increasing in x."""
    if xs and x <= xs[-1]:
        keep = bisect_left(xs, x)
        del xs[keep:]
        for column in columns:
            del column[keep:]


def trajectory_from_events(events: Iterable[Any]) -> Trajectory:
    traj = Trajectory()
    for e in events:
        point = event_point(e)
        if point is not None:
            traj.add(*point)
    return traj


def event_point(e: Any) -> tuple[float, AlphaSnapshot] | None:
    """(x in epochs, alphas) of an ``alphas`` or ``epoch_end`` event, else None."""
    if isinstance(e, Alphas):
        return (e.epoch - 1) + e.step / max(e.steps_per_epoch, 1), e.alphas
    if isinstance(e, EpochEnd) and e.phase == "search":
        return float(e.epoch), e.alphas
    return None


def thin(xs: list[float], ys: Sequence[float | None], width: int) -> tuple[list[float], list[float]]:
    """Finite points only, at most ~width of them, always keeping the newest: a plot never needs more."""
    pairs = [(a, b) for a, b in zip(xs, ys) if b is not None and math.isfinite(b)]
    x, y = [p[0] for p in pairs], [p[1] for p in pairs]
    if len(x) <= width or width <= 0:
        return x, y
    step = len(x) / width
    idx = sorted({int(i * step) for i in range(width)} | {len(x) - 1})
    return [x[i] for i in idx], [y[i] for i in idx]


#: Even ticks on the probability axis: five where the panel has the rows, else three.
Y_TICKS = ([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])
Y_TICKS_SHORT = ([0, 0.5, 1], ["0", ".5", "1"])


def draw_decision(  # noqa: PLR0913 -- panel options, all keyword-only
    plt: Any,
    traj: Trajectory,
    block: str,
    decision: str,
    *,
    width: int = 200,
    title: str | None = None,
    marker: float | None = None,
    height: int = 100,
    legend: bool | None = None,
    xlabel: bool = True,
) -> None:
    """One panel: every candidate's probability of one decision of one block.

    ``legend``: inside the plot (None: where the panel has a row per candidate to spare); the TUI
    passes False and draws its own legend beside the panel (:func:`legend_labels`), so a short panel
    keeps one too.  The probability axis has even ticks (0, .25, .5, .75, 1) whenever it has the rows.
    """
    plt.clear_data()
    plt.title(title or f"block {block} · {decision}")
    probs = traj.series.get(block, {}).get(decision, {})
    if legend is None:
        legend = height >= len(probs) + 6
    for i, (label, ys) in enumerate(probs.items()):
        xs, ys2 = thin(traj.x, ys, width)
        if xs:
            plt.plot(xs, ys2, label=label if legend else None, color=COLORS[i % len(COLORS)], marker="braille")
    plt.ylim(0, 1)
    plt.yticks(*(Y_TICKS if height - (5 if xlabel else 4) >= 5 else Y_TICKS_SHORT))
    plt.xlabel("epoch" if xlabel else None)
    if marker is not None:
        plt.vline(marker, "white")


def legend_labels(traj: Trajectory, block: str, decision: str) -> list[tuple[str, str]]:
    """(label, colour) of each line :func:`draw_decision` draws, in its order and colours."""
    probs = traj.series.get(block, {}).get(decision, {})
    return [(label, COLORS[i % len(COLORS)]) for i, label in enumerate(probs)]


def figure(
    plt: Any, traj: Trajectory, blocks: list[str], width: int, height_per_block: int = 12, scroll: bool = False
) -> None:
    """The paper's Fig. 3 layout: one row per block, kernel left and activation right
    (joint candidates: the pair probabilities first, then the two marginals).  ``scroll``: printed to a
    terminal, the figure keeps ``height_per_block`` rows a block however short the window (plotext would
    squeeze it to the window's height: a row a panel at 80x24)."""
    decisions = traj.decisions()
    if hasattr(plt, "main"):  # plotext clears only the active subplot: go back to the whole figure first
        plt.main()
    plt.clear_figure()
    plt.subplots(len(blocks), len(decisions))
    if scroll:
        plt.limit_size(False, False)
    plt.plotsize(width, height_per_block * len(blocks))
    for row, block in enumerate(blocks, start=1):
        for col, decision in enumerate(decisions, start=1):
            plt.subplot(row, col)
            draw_decision(plt, traj, block, decision, width=width // len(decisions))
