"""The headless run: rich progress bars, a line per epoch, a summary table.

The engine runs in its runner thread; this (main) thread only drains the event
queue and draws.  Ctrl+C asks the engine to checkpoint after the current step.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as ProgressBars
from rich.table import Table

from core.run.events import (
    AnyEvent,
    ArchitectureDerived,
    Converged,
    EpochEnd,
    Error,
    Progress,
    QueueSink,
    RetrainEpochEnd,
    RetrainStarted,
    SearchStarted,
    SearchStopped,
    SpaceWarning,
    StageEnd,
    StageStart,
    State,
    StopReason,
    Unstable,
)
from core.space import JOINT_DECISION, block_choice
from core.train.job import Job, JobResult
from core.train.runner import Runner
from presnet_tui.model import fmt_eta
from presnet_tui.stages import stage_end_line, stage_line

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def argmax_line(alphas: dict[str, dict[str, dict[str, float]]], frozen: dict[str, dict[str, str]] | None = None) -> str:
    """Each block's argmax path; a progressive search's frozen decisions count as certain (a block
    may have one decision frozen and the other still open, or every decision frozen)."""
    frozen = frozen or {}
    parts = []
    for block in sorted(set(alphas) | set(frozen), key=int):
        probs = dict(alphas.get(block, {})) | {d: {c: 1.0} for d, c in frozen.get(block, {}).items()}
        if JOINT_DECISION not in probs and not {"kernel", "activation"} <= set(probs):
            parts.append(f"{block}:?")  # a decision frozen before this view joined (never in practice)
            continue
        k, a = block_choice(probs)
        parts.append(f"{block}:{k}x{k}/{a}")
    return " ".join(parts)


def stop_clause(e: SearchStopped) -> str:
    """`` · rule curvature fired at epoch 30 · architecture from epoch 24`` (empty for older event files)."""
    if e.rule is None:
        return ""
    fired = e.reason in (StopReason.CONVERGED, StopReason.CURVATURE)
    head = f" · rule {e.rule} " + (f"fired at epoch {e.epoch}" if fired else "did not fire")
    return head + f" · architecture from epoch {e.architecture_epoch if e.architecture_epoch is not None else e.epoch}"


def decisions_line(conf: dict[str, Any]) -> str:
    """``5 of 8 decisions settled; unsettled: 11 kernel (margin 0.02), ...`` from a recorded confidence."""
    from core.train.convergence import Confidence

    return Confidence.from_dict(conf).line()


class HeadlessView:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.frozen: dict[str, dict[str, str]] = {}  #: a progressive search's frozen decisions, by block
        self.progress = ProgressBars(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[ips]} img/s"),
            TextColumn("ETA {task.fields[eta]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            refresh_per_second=4,
        )
        self.task = self.progress.add_task("starting", total=1, ips="-", eta="--:--")
        self.retrain_started: RetrainStarted | None = None  # its parameter counts go into the summary
        self.confidence: dict[str, Any] | None = None  # the derived architecture's, for the closing lines
        self.stopped: SearchStopped | None = None  # which rule ended the search, for the closing lines

    def handle(self, e: AnyEvent) -> None:  # noqa: C901, PLR0912 -- one case per event type (match by type)
        def p(text: str) -> None:  # one event, one line: logs stay greppable whatever the width
            self.console.print(text, soft_wrap=True, highlight=False)

        match e:
            case SearchStarted():
                verb = "resuming" if e.resumed else "searching"
                what = " · ".join(f"{d} {c}" for d, c in e.candidates.items())
                p(f"[bold]{verb}[/] blocks {e.block_ids} · {what} · {e.params:,} params · {e.device}")
                if e.progressive:  # a resumed progressive search: what its earlier stages froze
                    self.frozen = {b: dict(d) for b, d in e.progressive["frozen"].items()}
            case Progress():
                self.progress.update(
                    self.task,
                    description=f"{e.phase} {e.epoch}/{e.epochs}",
                    total=e.steps_per_epoch,
                    completed=e.step,
                    ips=f"{e.images_per_s:,.0f}",
                    eta=fmt_eta(e.eta_s),
                )
            case EpochEnd():
                val = f"  val {e.val_loss:.3f} / {e.val_top1:6.1%}" if e.val_loss is not None else ""
                cost = ""
                if e.expected_cost is not None:
                    from core.space.cost import human

                    cost = f"  E[cost] {human(e.expected_cost, e.cost_metric or 'flops')}"
                curv = f"  λmax {e.curvature:.3g}" if e.curvature is not None else ""
                p(
                    f"epoch {e.epoch:>3}/{e.epochs} {e.phase:<6} train {e.train_loss:.3f} / {e.train_top1:6.1%}{val}"
                    f"  lr {e.lr:.4f}{cost}{curv}  │ {argmax_line(e.alphas, self.frozen)}"
                )
            case Converged():
                p(f"[green]alphas converged at epoch {e.epoch}[/] (every decision settled)")
            case Unstable():
                how = f"{e.was} → {e.now}" if e.reason == "flip" else f"{e.now} lost its margin"
                p(f"[yellow]unstable:[/] block {e.block} {e.decision} {how} at epoch {e.epoch}")
            case StageStart():
                p(f"[bold]stage {e.stage}/{e.stages}[/] from epoch {e.epoch}: {stage_line(e)}")
            case StageEnd():
                for block, decisions in e.frozen.items():
                    self.frozen.setdefault(block, {}).update(decisions)
                p(f"[bold]stage {e.stage} ended[/] at epoch {e.epoch}: {stage_end_line(e)}")
            case SpaceWarning():
                p(f"[yellow]warning:[/] {e.message}")
            case State():
                p(f"[yellow]{e.state}[/] at epoch {e.epoch}")
            case SearchStopped():
                p(f"[bold]search stopped[/] after {e.epoch} epochs ({e.reason}){stop_clause(e)}")
                self.stopped = e
            case ArchitectureDerived():
                p(f"architecture → {e.path} ({e.params:,} params)")
                self.confidence = e.confidence
                if e.confidence and e.confidence.get("settled") == e.confidence.get("decisions_total"):
                    p(f"[green]{decisions_line(e.confidence)}[/]")  # otherwise the warning that follows says it
            case RetrainStarted():
                how = f"resumed at epoch {e.start_epoch}/{e.epochs}" if e.resumed else "from scratch"
                p(f"[bold]retraining[/] {how}: {e.params:,} params (ResNet-50 baseline {e.baseline_params:,})")
                self.retrain_started = e
            case RetrainEpochEnd():
                held = f"val {e.val_loss:.3f} / {e.val_top1:6.1%}" if e.val_top1 is not None else ""
                p(f"retrain {e.epoch:>3}/{e.epochs} train {e.train_loss:.3f} / {e.train_top1:6.1%}  {held}")
            case Error():
                p(f"[red]error:[/] {e.message}")

    def summary(self, result: JobResult) -> None:
        table = Table(title="presnet run", show_header=False)
        table.add_row("run directory", result.run_dir)
        table.add_row("status", result.status + (f" — {result.message}" if result.message else ""))
        if result.search is not None:
            table.add_row(
                "search",
                f"{result.search.epoch} epochs, stopped: {result.search.reason}, {result.search.elapsed_s:.0f} s"
                + (stop_clause(self.stopped) if self.stopped else ""),
            )
            blocks = result.search.architecture.blocks
            table.add_row(
                "architecture",
                ", ".join(f"{b}: {c.kernel}x{c.kernel} {c.activation}" for b, c in sorted(blocks.items())),
            )
            if self.confidence:
                table.add_row("decisions", decisions_line(self.confidence))
        started = self.retrain_started
        if started is not None:
            table.add_row("params", f"{started.params:,} (baseline ResNet-50: {started.baseline_params:,})")
        if result.retrain is not None:
            table.add_row(
                "test top-1",
                f"{result.retrain.test_top1:.2%} (final weights, {result.retrain.epochs} epochs, measured once)",
            )
        self.console.print(table)


def run_headless(job: Job, console: Console) -> int:
    """Run a prepared job to the end; returns the process exit code."""
    sink = QueueSink()
    job.bus.subscribe(sink)
    view = HeadlessView(console)
    runner = Runner(job).start()
    with view.progress:
        try:
            _pump(runner, sink, view)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted:[/] writing a checkpoint after the current step…")
            runner.interrupt()
            _pump(runner, sink, view)
    result = runner.wait()
    assert result is not None
    view.summary(result)
    if result.status == "interrupted":
        from core.train.dist_ops import current

        world = current().world_size
        nproc = f" --nproc {world}" if world > 1 else ""
        console.print(f"resume with: [bold]presnet resume {result.run_dir} --headless{nproc}[/]")
        return EXIT_INTERRUPTED
    return EXIT_OK if result.status == "done" else EXIT_FAILED


def _pump(runner: Runner, sink: QueueSink, view: HeadlessView) -> None:
    while True:
        alive = runner.alive  # read before draining: events emitted before the runner ended are all drained
        for e in sink.drain():
            view.handle(e)
        if not alive:
            return
        time.sleep(0.25)
