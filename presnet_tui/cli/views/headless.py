"""The headless run: rich progress bars, a line per epoch, a summary table.

The engine runs in this process (core.api.worker: its runner thread, signals); this
view only draws.  Ctrl+C, SIGTERM and SIGUSR1 ask the engine to checkpoint after the
current step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as ProgressBars
from rich.table import Table

from core.api.jobs import Job, JobResult
from core.api.state import RunState, reduce
from core.api.worker import run_to_end
from core.run.events import (
    AnyEvent,
    ArchitectureDerived,
    ConfidenceRecord,
    Converged,
    EpochEnd,
    Error,
    Progress,
    RetrainEpochEnd,
    RetrainStarted,
    SearchStarted,
    SearchStopped,
    SpaceWarning,
    StageEnd,
    StageStart,
    State,
    StopReason,
    Suspended,
    Tuning,
    Unstable,
)
from core.space import JOINT_DECISION, block_choice
from presnet_tui.cli.views.stages import stage_end_line, stage_line
from presnet_tui.shared.model import fmt_eta


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


def decisions_line(conf: ConfidenceRecord) -> str:
    """``5 of 8 decisions settled; unsettled: 11 kernel (margin 0.02), ...`` from a recorded confidence."""
    from core.api.confidence import Confidence

    return Confidence.from_dict(conf.model_dump(mode="json")).line()


#: One function per event type: the line it prints (None: none); :data:`_LINES` maps type -> function.
LineFn = Callable[["HeadlessView", Any], "str | None"]
_LINES: dict[type, LineFn] = {}


def line(kind: type) -> Callable[[LineFn], LineFn]:
    def register(fn: LineFn) -> LineFn:
        _LINES[kind] = fn
        return fn

    return register


class HeadlessView:
    """Lines and progress bars from the run's events; the run's facts come from the one reducer
    (:mod:`core.api.state`), folded before each line is written, so a line reads the state after it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.state = RunState()
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

    def handle(self, e: AnyEvent) -> None:
        reduce(self.state, e)
        write = _LINES.get(type(e))
        text = write(self, e) if write is not None else None
        if text is not None:  # one event, one line: logs stay greppable whatever the width
            self.console.print(text, soft_wrap=True, highlight=False)

    def summary(self, result: JobResult) -> None:
        table = Table(title=_title(result), show_header=False)
        table.add_row("run directory", result.run_dir)
        table.add_row("status", result.status + (f" — {result.message}" if result.message else ""))
        if result.search is not None:
            table.add_row(
                "search",
                f"{epochs(result.search.epoch)}, stopped: {result.search.reason}, {result.search.elapsed_s:.0f} s"
                + (stop_clause(self.state.stopped) if self.state.stopped else ""),
            )
            blocks = result.search.architecture.blocks
            table.add_row(
                "architecture",
                ", ".join(f"{b}: {c.kernel}x{c.kernel} {c.activation}" for b, c in sorted(blocks.items())),
            )
            if self.state.confidence:
                table.add_row("decisions", decisions_line(self.state.confidence))
        s = self.state
        if s.baseline_params is not None and s.arch_params is not None:  # a retrain started
            table.add_row("params", f"{s.arch_params:,} (baseline ResNet-50: {s.baseline_params:,})")
        if result.retrain is not None:
            table.add_row(
                "test top-1",
                f"{result.retrain.test_top1:.2%} (final weights, {epochs(result.retrain.epochs)}, measured once)",
            )
        self.console.print(table)


def epochs(n: int) -> str:
    """``1 epoch``, ``12 epochs``."""
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def _title(result: JobResult) -> str:
    """The closing table's title: what ran in this process (a search, a retrain, or both)."""
    if result.search is not None and result.retrain is not None:
        return "presnet run"
    return "presnet search" if result.search is not None else "presnet retrain"


# -- the lines, one function per event type ------------------------------------------------------
@line(SearchStarted)
def _search_started(view: HeadlessView, e: SearchStarted) -> str:
    verb = "resuming" if e.resumed else "searching"
    what = " · ".join(f"{d} {c}" for d, c in e.candidates.items())
    return f"[bold]{verb}[/] blocks {e.block_ids} · {what} · {e.params:,} params · {e.device}" + _tuned(e.tuning)


@line(Progress)
def _progress(view: HeadlessView, e: Progress) -> None:
    view.progress.update(
        view.task,
        description=f"{e.phase} {e.epoch}/{e.epochs}",
        total=e.steps_per_epoch,
        completed=e.step,
        ips=f"{e.images_per_s:,.0f}",
        eta=fmt_eta(e.eta_s),
    )


@line(EpochEnd)
def _epoch_end(view: HeadlessView, e: EpochEnd) -> str:
    val = f"  val {e.val_loss:.3f} / {e.val_top1:6.1%}" if e.val_loss is not None else ""
    cost = ""
    if e.expected_cost is not None:
        from presnet_tui.shared.units import human

        cost = f"  E[cost] {human(e.expected_cost, e.cost_metric or 'flops')}"
    curv = f"  λmax {e.curvature:.3g}" if e.curvature is not None else ""
    if e.perturbation is not None:  # the readout's agreement with the argmax (docs: Reading the search)
        agree, total = e.perturbation.agreement()
        curv += f"  PT=α {agree}/{total}"
    return (
        f"epoch {e.epoch:>3}/{e.epochs} {e.phase:<6} train {e.train_loss:.3f} / {e.train_top1:6.1%}{val}"
        f"  lr {e.lr:.4f}{cost}{curv}  │ {argmax_line(e.alphas, view.state.frozen)}"
    )


@line(Converged)
def _converged(view: HeadlessView, e: Converged) -> str:
    return f"[green]alphas converged at epoch {e.epoch}[/] (every decision settled)"


@line(Unstable)
def _unstable(view: HeadlessView, e: Unstable) -> str:
    how = f"{e.was} → {e.now}" if e.reason == "flip" else f"{e.now} lost its margin"
    return f"[yellow]unstable:[/] block {e.block} {e.decision} {how} at epoch {e.epoch}"


@line(StageStart)
def _stage_start(view: HeadlessView, e: StageStart) -> str:
    return f"[bold]stage {e.stage}/{e.stages}[/] from epoch {e.epoch}: {stage_line(e)}"


@line(StageEnd)
def _stage_end(view: HeadlessView, e: StageEnd) -> str:
    return f"[bold]stage {e.stage} ended[/] at epoch {e.epoch}: {stage_end_line(e)}"


@line(SpaceWarning)
def _space_warning(view: HeadlessView, e: SpaceWarning) -> str:
    return f"[yellow]warning:[/] {e.message}"


@line(State)
def _state(view: HeadlessView, e: State) -> str:
    return f"[yellow]{e.state}[/] at epoch {e.epoch}"


@line(SearchStopped)
def _search_stopped(view: HeadlessView, e: SearchStopped) -> str:
    return f"[bold]search stopped[/] after {epochs(e.epoch)} ({e.reason}){stop_clause(e)}"


@line(Suspended)
def _suspended(view: HeadlessView, e: Suspended) -> str:
    return f"[yellow]suspended[/] by {e.by} at {e.phase} epoch {e.epoch}, step {e.step}: {e.checkpoint}"


@line(ArchitectureDerived)
def _architecture_derived(view: HeadlessView, e: ArchitectureDerived) -> str:
    text = f"architecture → {e.path} ({e.params:,} params)"
    if e.confidence and e.confidence.all_settled:
        text += f"\n[green]{decisions_line(e.confidence)}[/]"  # otherwise the warning that follows says it
    from core.api.derive import latest_readout

    read = latest_readout({k: x.perturbation for k, x in view.state.epoch_ends.items()}, e.epoch)
    if read is not None:  # the second opinion at the architecture's epoch
        read_epoch, readout = read
        select = (e.architecture.get("source") or {}).get("select", "alpha")
        text += f"\nselected by {'perturbation' if select == 'perturbation' else 'alpha argmax'}; "
        text += readout.disagreement_line()
        text += f" (readout of epoch {read_epoch})" if read_epoch != e.epoch else ""
    return text


@line(RetrainStarted)
def _retrain_started(view: HeadlessView, e: RetrainStarted) -> str:
    how = f"resumed at epoch {e.start_epoch}/{e.epochs}" if e.resumed else "from scratch"
    return f"[bold]retraining[/] {how}: {e.params:,} params (ResNet-50 baseline {e.baseline_params:,})" + _tuned(
        e.tuning
    )


def _tuned(tuning: Tuning | None) -> str:
    """The speed settings ``auto`` chose, with the timings behind them (on the started line)."""
    return f" · {tuning.line()}" if tuning is not None and tuning.settings else ""


@line(RetrainEpochEnd)
def _retrain_epoch_end(view: HeadlessView, e: RetrainEpochEnd) -> str:
    held = f"val {e.val_loss:.3f} / {e.val_top1:6.1%}" if e.val_top1 is not None else ""
    return f"retrain {e.epoch:>3}/{e.epochs} train {e.train_loss:.3f} / {e.train_top1:6.1%}  {held}"


@line(Error)
def _error(view: HeadlessView, e: Error) -> str:
    return f"[red]error:[/] {e.message}"


def run_headless(job: Job, console: Console) -> int:
    """Run a prepared job to the end; returns the process exit code (core.api.worker's codes)."""
    view = HeadlessView(console)

    def said(name: str) -> None:
        why = "interrupted" if name == "SIGINT" else f"{name} (preempted)"
        console.print(f"[yellow]{why}:[/] writing a checkpoint after the current step…", highlight=False)

    with view.progress:
        outcome = run_to_end(job, view.handle, said)
    result = outcome.result
    view.summary(result)
    if result.status == "interrupted":
        nproc = f" --nproc {outcome.world_size}" if outcome.world_size > 1 else ""
        console.print(f"resume with: [bold]presnet resume {result.run_dir} --headless{nproc}[/]")
    return outcome.exit_code
