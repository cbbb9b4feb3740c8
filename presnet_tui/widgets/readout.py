"""The perturbation readout beside the alpha plot (under the curvature strip): for the block the plot
shows, each decision's perturbation choice, its strength (its pinned accuracy minus the argmax's, in
points) and whether it agrees with the alphas' argmax (``=α``) or not (``≠α``); and how many of all
decisions agree.  At the picked epoch (``[``/``]``) when one is picked: the latest readout at or
before it (the probes' budget may skip epochs).

Two rows of text in the left column, so the plots keep their rows; hidden while the run has no
readout (older runs, ``search.perturbation.enabled: false``)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.run.events import PerturbationReadout
from presnet_tui.widgets.plots import SHORT

#: the decisions' short names (the block table's columns)
SHORT_DECISION = {"kernel": "k", "activation": "a", "op": "op"}


def _label(decision: str, choice: str) -> str:
    return f"{choice}x{choice}" if decision == "kernel" else SHORT.get(choice, choice)


def readout_text(found: tuple[int, PerturbationReadout] | None, block: str | None) -> Text:
    """``PT@12 blk 10 · agree 3/8`` over ``k 5x5 +6.2≠α  a mish =α``."""
    if found is None:
        return Text("PT: none yet", style="dim")
    epoch, read = found
    agree, total = read.agreement()
    text = Text(f"PT@{epoch} ", style="bold")
    text.append(f"blk {block} · " if block else "", style="dim")
    text.append(f"agree {agree}/{total}\n", style="green" if agree == total else "yellow")
    decisions = read.decisions.get(block or "", {})
    if not decisions:
        text.append("(block not read)", style="dim")
    for i, (d, r) in enumerate(decisions.items()):
        text.append(("  " if i else "") + f"{SHORT_DECISION.get(d, d)} {_label(d, r.choice)}")
        if r.agrees:
            text.append(" =α", style="green")
        else:
            text.append(f" {r.strength:+.3g}≠α", style="bold yellow")
    return text


class ReadoutStrip(Static):
    """The strip; :meth:`show` redraws it for a block at an epoch."""

    def show(self, found: tuple[int, PerturbationReadout] | None, block: str | None, any_readout: bool) -> None:
        self.display = any_readout
        if any_readout:
            self.update(readout_text(found, block))
