"""TensorBoard event files from presnet's event stream (live, or converted from ``events.jsonl``).

A subscriber of the event bus like any other: it maps typed events to scalars, so the
engine knows nothing of TensorBoard.  Tags:

* ``search/train_loss``, ``search/train_top1``, ``search/val_loss``, ``search/val_top1``, ``lr``,
  ``search/expected_cost`` (cost-aware search) -- x axis: search epoch;
* ``alpha/<block>/<decision>/<choice>``: softmax(alpha) of every candidate -- x: search epoch;
* ``search/curvature`` (the relaxed loss Hessian's largest eigenvalue) and ``entropy/<block>/<decision>``
  (normalised) -- x: search epoch;
* ``perturbation/<block>/<decision>/<choice>``: each candidate's pinned accuracy minus the argmax's (its
  strength), ``perturbation/<block>/<decision>/agrees`` (1: the readout's choice is the argmax) and
  ``perturbation/top1`` (the argmax architecture on the readout's subset) -- x: search epoch;
* ``retrain/train_loss``, ``retrain/val_loss``, ``retrain/val_top1`` (older files: ``retrain/test_*``),
  ``retrain/lr`` -- x: retrain epoch;
* ``images_per_s`` (live only: progress events are not kept in ``events.jsonl``) -- x: report count.

``torch.utils.tensorboard`` needs the ``tensorboard`` package; it is imported only here, on use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import import_extra
from core.run.events import EpochEnd, Progress, RetrainEpochEnd, read_events

#: The folder of a run directory that holds the TensorBoard event files.
TB_DIR = "tensorboard"


def _summary_writer(log_dir: Path) -> Any:
    tb = import_extra("torch.utils.tensorboard", "tensorboard", where="run.tensorboard", what="the tensorboard package")
    return tb.SummaryWriter(log_dir=str(log_dir))


def require_tensorboard() -> None:
    """Fail before a run starts, not at its first event, when ``run.tensorboard`` cannot be honoured."""
    import_extra("tensorboard", "tensorboard", where="run.tensorboard", what="the tensorboard package")


def alpha_tags(alphas: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    """``alpha/<block>/<decision>/<choice>`` -> probability, for one alpha snapshot."""
    return {
        f"alpha/{block}/{decision}/{choice}": p
        for block, decisions in alphas.items()
        for decision, probs in decisions.items()
        for choice, p in probs.items()
    }


class TensorBoardSink:
    """Writes the scalars of each event it is handed; call :meth:`close` at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)
        self.writer = _summary_writer(self.log_dir)
        self._progress = 0

    def __call__(self, event: Any) -> None:
        w = self.writer
        if isinstance(event, EpochEnd):
            self._epoch_end(event)
        elif isinstance(event, RetrainEpochEnd):
            step = event.epoch
            w.add_scalar("retrain/train_loss", event.train_loss, step)
            for tag, value in (
                ("retrain/val_loss", event.val_loss),
                ("retrain/val_top1", event.val_top1),
                ("retrain/test_loss", event.test_loss),  # older event files only
                ("retrain/test_top1", event.test_top1),
            ):
                if value is not None:
                    w.add_scalar(tag, value, step)
            w.add_scalar("retrain/lr", event.lr, step)
            w.flush()
        elif isinstance(event, Progress):
            self._progress += 1
            w.add_scalar("images_per_s", event.images_per_s, self._progress)

    def _epoch_end(self, event: EpochEnd) -> None:
        w, step = self.writer, event.epoch
        w.add_scalar("search/train_loss", event.train_loss, step)
        w.add_scalar("search/train_top1", event.train_top1, step)
        if event.val_loss is not None:
            w.add_scalar("search/val_loss", event.val_loss, step)
        if event.val_top1 is not None:
            w.add_scalar("search/val_top1", event.val_top1, step)
        w.add_scalar("lr", event.lr, step)
        if event.expected_cost is not None:
            w.add_scalar("search/expected_cost", event.expected_cost, step)
        for tag, p in alpha_tags(event.alphas).items():
            w.add_scalar(tag, p, step)
        if event.curvature is not None:
            w.add_scalar("search/curvature", event.curvature, step)
        for block, decisions in event.entropy.items():
            for decision, h in decisions.items():
                w.add_scalar(f"entropy/{block}/{decision}", h, step)
        if event.perturbation is not None:
            w.add_scalar("perturbation/top1", event.perturbation.top1, step)
            for block, readouts in event.perturbation.decisions.items():
                for decision, r in readouts.items():
                    for choice, strength in r.strengths().items():
                        w.add_scalar(f"perturbation/{block}/{decision}/{choice}", strength, step)
                    w.add_scalar(f"perturbation/{block}/{decision}/agrees", float(r.agrees), step)
        w.flush()

    def close(self) -> None:
        self.writer.close()


def convert_events(events_file: Path, log_dir: Path) -> int:
    """Write TensorBoard files for a past run's ``events.jsonl``; returns the number of events read."""
    events = read_events(Path(events_file))
    sink = TensorBoardSink(log_dir)
    try:
        for e in events:
            sink(e)
    finally:
        sink.close()
    return len(events)
