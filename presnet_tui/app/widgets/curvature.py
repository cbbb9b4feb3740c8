"""The curvature strip beside the alpha plot (under the block list): the relaxed loss Hessian's largest
eigenvalue per epoch as a sparkline, with the stop rules' epochs marked under it (R rollback,
D detection, M margin converged, ^ picked).

Two rows of text, so it fits beside the alpha plot at 80x24 without taking a row from it; the
values span orders of magnitude, so the bars are on a log scale.  The marks are the rules
replayed over the recorded epochs (:func:`core.api.stops.rule_verdicts`), whichever rule the run
itself stops by.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from core.api.stops import RuleVerdicts

BARS = "▁▂▃▄▅▆▇█"


def _columns(epochs: Sequence[int], width: int) -> dict[int, int]:
    """Epoch -> column: one column per epoch while they fit, else spread over ``width``."""
    first, last = epochs[0], epochs[-1]
    if last - first + 1 <= width:
        return {e: e - first for e in epochs}
    return {e: (e - first) * (width - 1) // max(1, last - first) for e in epochs}


def strip_text(
    points: Sequence[tuple[int, float]],
    verdicts: RuleVerdicts | None,
    picked: int | None = None,
    width: int = 40,
) -> Text:
    """Two lines: ``λ <sparkline> <last value>`` and the marks under the epochs they belong to."""
    if not points:
        return Text("λmax: none yet (after each\nsearch epoch)", style="dim")
    label_w = 2
    last_txt = f" {points[-1][1]:.3g}@{points[-1][0]}"
    cols = max(8, width - label_w - len(last_txt))
    epochs = [e for e, _ in points]
    col = _columns(epochs, cols)
    logs = [math.log10(max(v, 1e-12)) for _, v in points]
    lo, hi = min(logs), max(logs)
    cells = [" "] * (max(col.values()) + 1)
    for (e, _), lv in zip(points, logs):
        level = 0 if hi - lo < 1e-9 else round((lv - lo) / (hi - lo) * (len(BARS) - 1))
        c = col[e]
        cells[c] = max(cells[c], BARS[level]) if cells[c] != " " else BARS[level]
    text = Text("λ ", style="bold")
    text.append("".join(cells), style="cyan")
    text.append(last_txt + "\n", style="dim")
    marks = [" "] * len(cells)
    legend = []

    def mark(epoch: int | None, char: str, what: str, style: str) -> None:
        if epoch is None:
            return
        nearest = min(col, key=lambda e: abs(e - epoch))
        marks[col[nearest]] = char
        legend.append((f"{char} {what} {epoch}", style))

    if verdicts is not None:
        mark(verdicts.margin, "M", "margin", "green")
        if verdicts.curvature is not None:
            mark(verdicts.curvature.rollback, "R", "rollback", "magenta")
            mark(verdicts.curvature.detected, "D", "rise", "red")
    if picked is not None and epochs[0] <= picked <= epochs[-1]:
        mark(picked, "^", "picked", "yellow")
    text.append(" " * label_w + "".join(marks))
    room = width - label_w - len(marks) - 1
    tail = " ".join(s for s, _ in legend)
    if legend and len(tail) <= room:
        text.append(" ")
        for i, (s, style) in enumerate(legend):
            text.append(("" if i == 0 else " ") + s, style=style)
    return text


class CurvatureStrip(Static):
    """The strip; :meth:`show` redraws it from the model's points and the rules' verdicts."""

    def show(self, points: Sequence[tuple[int, float]], verdicts: RuleVerdicts | None, picked: int | None) -> None:
        self.update(strip_text(points, verdicts, picked, max(self.size.width - 2, 30)))
