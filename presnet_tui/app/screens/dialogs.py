"""Small modal dialogs: one number, the list of every key of a screen, and detach-or-stop on leaving.

All of them fit 80x24: the text wraps (``height: auto``) and the box is at most the screen's width."""

from __future__ import annotations

from rich.table import Table
from textual.app import App, ComposeResult
from textual.binding import ActiveBinding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static


class NumberScreen(ModalScreen[int | None]):
    """Ask for one positive integer; shows what is wrong instead of closing on bad input."""

    BINDINGS = [("escape", "dismiss(None)", "Cancel")]

    def __init__(self, question: str, default: int | None = None, maximum: int | None = None) -> None:
        super().__init__()
        self.question = question
        self.default = default
        self.maximum = maximum

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            yield Input(value="" if self.default is None else str(self.default), id="number")
            yield Label("", id="number-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#number", Input).focus()
        self.query_one("#number-error", Label).display = False  # an empty error takes no (red) row

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text.isdigit() or int(text) < 1:
            self._error("enter a whole number of at least 1")
            return
        if self.maximum is not None and int(text) > self.maximum:
            self._error(f"at most {self.maximum}")
            return
        self.dismiss(int(text))

    def _error(self, message: str) -> None:
        label = self.query_one("#number-error", Label)
        label.update(message)
        label.display = True


class HelpScreen(ModalScreen[None]):
    """``?``: every key the screen behind accepts, the ones the footer leaves out at 80 columns too."""

    BINDINGS = [
        ("escape", "dismiss(None)", "Close"),
        ("question_mark", "dismiss(None)", "Close"),
        ("q", "dismiss(None)", "Close"),
    ]

    def __init__(self, bindings: dict[str, ActiveBinding]) -> None:
        super().__init__()
        self.bindings = bindings

    def rows(self) -> list[tuple[str, str]]:
        """(key, what it does), once per action: ctrl+c and q both quit, one is listed."""
        out: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()

        def rank(item: tuple[str, ActiveBinding]) -> int:  # the screen's own keys first, then the app's
            node = item[1].node
            return 0 if isinstance(node, Screen) else 1 if isinstance(node, App) else 2

        for key, active in sorted(self.bindings.items(), key=rank):
            b = active.binding
            if not b.description or (b.action, b.description) in seen or key in ("tab", "shift+tab"):
                continue
            seen.add((b.action, b.description))
            out.append((b.key_display or self.app.get_key_display(b), b.description))
        return [*out, ("tab", "next field or panel")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, what in self.rows():
            table.add_row(key, what)
        with Vertical(classes="dialog", id="help"):
            yield Label("Keys (Escape closes)", classes="section")
            with VerticalScroll():
                yield Static(table, id="keys")


class LeaveScreen(ModalScreen[str | None]):
    """Quitting with a run going: detach (it goes on), stop (checkpoint, resumable) or cancel.

    Leaving never stops a run unasked: the run is its own process, so detaching is the default."""

    BINDINGS = [
        ("escape", "dismiss(None)", "Cancel"),
        ("c", "dismiss(None)", "Cancel"),
        ("d", "dismiss('detach')", "Detach"),
        ("s", "dismiss('stop')", "Stop"),
    ]

    def __init__(self, runs: list[str]) -> None:
        super().__init__()
        self.runs = runs

    def compose(self) -> ComposeResult:
        which = self.runs[0] if len(self.runs) == 1 else f"{len(self.runs)} runs"
        with Vertical(classes="dialog"):
            yield Label(
                f"{which} goes on without this window. Detach (d): it runs on, attach again later. "
                "Stop (s): it checkpoints after the current step, resumable. Cancel (Escape): stay."
            )
            with Horizontal(classes="buttons"):
                yield Button("Detach", variant="primary", id="detach")
                yield Button("Stop", id="stop")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)
