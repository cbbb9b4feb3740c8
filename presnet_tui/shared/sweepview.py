"""The sweep's terminal display: one rich progress line per run (state, phase, epoch, top-1)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.api.sweeps import RunStatus

STATE_STYLE = {"pending": "dim", "running": "cyan", "incomplete": "yellow", "failed": "red", "done": "green"}


def status_cells(s: RunStatus) -> tuple[str, str, str]:
    """(state, phase epoch/epochs, top-1) as text: shared by the progress lines and the table."""
    where = f"{s.phase} {s.epoch}/{s.epochs}" if s.phase and s.epoch is not None else "-"
    top1 = f"{100 * s.top1:.1f} %" if s.top1 is not None else "-"
    return s.state, where, top1


class SweepView:
    """A progress line per run; ``update`` is the sweep executor's ``on_poll`` callback."""

    def __init__(self, console: Console, statuses: Sequence[RunStatus]) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.fields[name]:<18}"),
            TextColumn("{task.fields[state]:<20}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[where]:<16}"),
            TextColumn("top-1 {task.fields[top1]:>7}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            refresh_per_second=2,
        )
        self.tasks: dict[str, TaskID] = {}
        self.last: dict[str, str] = {}
        self.started: set[str] = set()
        for s in statuses:
            # The clock of a run starts when it does (pending runs wait at 0:00:00).
            task = self.progress.add_task("", total=1, start=False, name=s.name, state="", where="", top1="")
            self.tasks[s.name] = task
        self.update(statuses)

    def update(self, statuses: Sequence[RunStatus]) -> None:
        for s in statuses:
            state, where, top1 = status_cells(s)
            style = STATE_STYLE.get(state, "")
            done = s.state == "done"
            total = max(1, s.epochs or 1)
            task = self.tasks[s.name]
            if s.state == "running" and s.name not in self.started:
                self.progress.start_task(task)
                self.started.add(s.name)
            self.progress.update(
                task,
                state=f"[{style}]{state}[/]",
                where=where,
                top1=top1,
                total=total,
                completed=total if done else (s.epoch or 0),
            )
            if self.last.get(s.name) != state and state in ("done", "failed"):  # a log line when a run ends
                msg = f" — {escape(s.message)}" if s.message else ""
                self.console.print(f"{s.name}: [{style}]{state}[/] top-1 {top1}{msg}", soft_wrap=True, highlight=False)
            self.last[s.name] = state


def status_table(statuses: Sequence[RunStatus], title: str) -> Table:
    """The runs of a sweep (their directories are runs/NAME in it)."""
    table = Table(title=title)
    for col in ("run", "state", "epoch", "top-1"):
        table.add_column(col, no_wrap=True)
    for s in statuses:
        state, where, top1 = status_cells(s)
        table.add_row(s.name, state, where, top1)
    return table
