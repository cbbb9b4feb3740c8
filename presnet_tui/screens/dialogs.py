"""Small modal dialogs: yes/no, and one number."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [("escape", "dismiss(False)", "Cancel"), ("y", "dismiss(True)", "Yes"), ("n", "dismiss(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            with Horizontal(classes="buttons"):
                yield Button("Yes", variant="primary", id="yes")
                yield Button("No", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


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

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text.isdigit() or int(text) < 1:
            self.query_one("#number-error", Label).update("enter a whole number of at least 1")
            return
        if self.maximum is not None and int(text) > self.maximum:
            self.query_one("#number-error", Label).update(f"at most {self.maximum}")
            return
        self.dismiss(int(text))
