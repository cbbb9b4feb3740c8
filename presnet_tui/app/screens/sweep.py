"""The sweep screen (``presnet-tui --attach SWEEP``): every run of a sweep with its state; Enter opens one."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from core.api.sweeps import RunStatus, Sweep
from presnet_tui.app.screens.search import SearchScreen
from presnet_tui.app.session import Session
from presnet_tui.shared.sweepview import status_cells

#: Seconds between rereads of the runs' directories (their event files' tails).
REFRESH_S = 2.0


class AttachedRunScreen(SearchScreen):
    """A sweep's run, watched like ``--attach RUN``; Escape goes back to the sweep's list."""

    BINDINGS = [*SearchScreen.BINDINGS, Binding("escape", "app.pop_screen", "Back")]


class SweepScreen(Screen[None]):
    BINDINGS = [Binding("enter", "open_run", "Open run"), Binding("g", "refresh", "Refresh")]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.sweep = Sweep.open(path)
        self.statuses: list[RunStatus] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="sweep-info")
        yield DataTable(id="sweep-runs", cursor_type="row", zebra_stripes=True)
        yield Footer(show_command_palette=False)  # ctrl+p still works; ? lists it

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("run", "kind", "scope", "seed", "state", "epoch", "top-1"):
            table.add_column(col, key=col)
        self.action_refresh()
        self.set_interval(REFRESH_S, self.action_refresh)
        table.focus()

    def action_refresh(self) -> None:
        table = self.query_one(DataTable)
        self.statuses = self.sweep.observed_statuses()
        for s in self.statuses:
            state, where, top1 = status_cells(s)
            cells = (s.name, s.kind, s.scope or "-", str(s.seed), state, where, top1)
            if s.name in table.rows:
                for col, value in zip(("state", "epoch", "top-1"), cells[4:]):
                    table.update_cell(s.name, col, value)
            else:
                table.add_row(*cells, key=s.name)
        done = sum(s.state == "done" for s in self.statuses)
        self.query_one("#sweep-info", Static).update(
            f"sweep {self.sweep.path} · {done}/{len(self.statuses)} runs done · Enter opens a run · "
            f"`presnet compare {self.sweep.path}` for Table I"
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._open(str(event.row_key.value))

    def action_open_run(self) -> None:
        table = self.query_one(DataTable)
        if self.statuses:
            self._open(self.statuses[table.cursor_row].name)

    def _open(self, name: str) -> None:
        status = next(s for s in self.statuses if s.name == name)
        if status.state == "pending":
            self.notify(f"{name} has not started yet", severity="warning")
            return
        self.app.push_screen(AttachedRunScreen(Session(status.path)))
