"""The run header: phase, epoch/step progress, images/s and ETA."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from presnet_tui.shared.model import RunModel, fmt_eta


class RunHeader(Horizontal):
    def compose(self) -> ComposeResult:
        yield Static(id="run-status")
        yield ProgressBar(id="run-progress", show_eta=False)

    def show(self, model: RunModel, retrain: bool = False) -> None:
        """``retrain``: the retrain screen; the search screen shows the retrain too once the run is in it
        (attached to a run that searched and went on retraining), counting that phase's own epochs."""
        retrain = retrain or model.phase == "retrain"
        total = model.retrain_epochs if retrain else model.epochs
        finished = model.retrain_done is not None if retrain else model.search_done
        state = "retrain" if retrain else "search" if finished else phase_name(model.phase)
        if model.paused:
            state += " paused"
        elif finished:
            state += " done"
        stage = f" · {model.stage}" if model.stage and not retrain else ""  # a progressive search's stage
        text = f"[b]{state}[/b]{stage} · epoch {model.epoch}/{total} · step {model.step}/{model.steps_per_epoch}"
        if not (finished or model.paused):  # a stopped or paused run has no time left to estimate
            text += f" · {model.images_per_s:,.0f} img/s · ETA {fmt_eta(model.eta_s)}"
        if model.device:
            text += f" · {model.device}"
        self.query_one("#run-status", Static).update(text)
        bar = self.query_one("#run-progress", ProgressBar)
        bar.update(total=max(model.steps_per_epoch, 1), progress=model.step)


def phase_name(phase: str) -> str:
    """The header's word for a search's phase: ``starting``, ``warm-up`` or ``search``."""
    return {"warmup": "warm-up", "starting": "starting"}.get(phase, "search")
