"""The setup screen: scope, candidates, data and run settings; load/save configs; start."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Header,
    Input,
    Label,
    OptionList,
    RadioSet,
    Select,
    Static,
)
from textual.widgets.option_list import Option

from core.api.config import override_config
from core.api.files import atomic_write_text
from core.config import (
    DEVICE_KINDS,
    VOID_KERNELS_FIX,
    Config,
    ConfigError,
    ConfigOverrides,
    Dataset,
    Setting,
    dump_yaml,
    load_config,
    setting,
    void_kernels_fact,
)
from core.errors import PresnetError
from core.space import ACTIVATIONS, CANDIDATE_MODES, KERNELS, SCOPE_STAGES
from presnet_tui.app.widgets.candidates import CandidateBox, ChoiceButton

if TYPE_CHECKING:
    from core.api.listing import RunRecord

SCOPES = [*SCOPE_STAGES, "custom"]

#: The form's rows of declared settings (core.config.settings: name, key, label, type).  A field is a
#: whole-number box (int), a choice (CHOICES) or a text box, read back by the same rule, so that a
#: setting joins the form by its name here.  Scope, kernels and activations have widgets of their own.
ROWS: tuple[tuple[str, ...], ...] = (
    ("image_size", "candidates"),
    ("dataset", "data_dir"),
    ("epochs", "warmup_epochs", "device", "seed"),
)
CHOICES: dict[str, list[str]] = {
    "candidates": list(CANDIDATE_MODES),
    "dataset": list(get_args(Dataset)),
    "device": list(DEVICE_KINDS),
}


def field_id(declared: Setting) -> str:
    """The widget id of a setting's field (``image-size``); its error line is ``err-`` + this."""
    return declared.name.replace("_", "-")


#: Which error label shows a problem with which config field.
ERROR_SLOTS = {
    "space.scope": "scope",
    "space.kernels": "kernels",
    "space.activations": "activations",
    "search.stop_at_epoch": "epochs",
} | {setting(name).key: field_id(setting(name)) for row in ROWS for name in row}


def config_value(config: Config, key: str) -> object:
    """The value at a dotted key (``search.warmup_epochs``) of a loaded config."""
    value: object = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def void_line(cfg: Config) -> str:
    """The live warning: which kernel choices are void at this scope, kernel set and input size
    (arithmetic on map sizes: cheap enough for every keystroke)."""
    fact = void_kernels_fact(cfg.geometry(), cfg.data.image_size)
    if fact is None:
        return ""
    if cfg.space.void_kernels == "prune":
        return f"⚠ {fact} — pruned: only the smallest kernel of each equal group is searched"
    return f"⚠ {fact} ({VOID_KERNELS_FIX})"


class SetupScreen(Screen[None]):
    class StartRequested(Message):
        """The form holds a valid config: the app starts a search with it (or calls ``on_error``)."""

        def __init__(self, config: Config, on_error: Callable[[str], None]) -> None:
            super().__init__()
            self.config = config
            self.on_error = on_error

    class AttachRequested(Message):
        """A live run was chosen from the list: the app attaches to it."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    BINDINGS = [
        Binding("ctrl+s", "start", "Start search"),
        Binding("ctrl+l", "load", "Load config"),
        Binding("ctrl+w", "save", "Save config"),
    ]

    def __init__(self, config: Config, config_dir: Path | None = None) -> None:
        super().__init__()
        self.config = config
        self.config_dir = config_dir or Path("sample_configs")

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        c = self.config
        scope = c.space.scope if isinstance(c.space.scope, str) else "custom"
        yield Header()
        with VerticalScroll(id="setup"):
            yield Label("Live runs (Enter attaches)", classes="section", id="live-title")
            yield OptionList(id="live-runs")
            yield Label("Search scope", classes="section")
            with RadioSet(id="scope"):
                for s in SCOPES:
                    label = (
                        f"{s} ({SCOPE_STAGES[s]} deepest stage{'s' if SCOPE_STAGES[s] > 1 else ''})"
                        if s != "custom"
                        else "custom blocks"
                    )
                    yield ChoiceButton(label, value=s == scope, id=f"scope-{s}")
            custom = ",".join(map(str, c.space.scope)) if isinstance(c.space.scope, list) else ""
            yield Input(
                custom, placeholder="block ids, 1 = deepest, e.g. 1,2,5", id="custom-blocks", select_on_focus=False
            )
            yield Label("", id="err-scope", classes="error")
            yield Static("loading torch to count the network…", id="facts")
            yield Label("Candidate kernels", classes="section")
            with Horizontal(classes="toggles"):
                for k in KERNELS:
                    yield CandidateBox(f"{k}x{k}", value=k in c.space.kernels, id=f"k-{k}")
            yield Label("", id="err-kernels", classes="error")
            yield Label("Candidate activations", classes="section")
            with Horizontal(classes="toggles"):
                for a in ACTIVATIONS:
                    yield CandidateBox(a, value=a in c.space.activations, id=f"a-{a}")
            yield Label("", id="err-activations", classes="error")
            yield from self._row(ROWS[0])
            yield Label("", id="void-warning", classes="warning")
            yield Label("Data and run", classes="section")
            for row in ROWS[1:]:
                yield from self._row(row)
            samples = sorted(self.config_dir.glob("*.yaml")) if self.config_dir.is_dir() else []
            if samples:
                yield Label("Sample configs", classes="section")
                yield Select([(p.name, str(p)) for p in samples], prompt="sample configs", id="samples")
            yield Label("", id="err-general", classes="error")
        # one row under the form, always in view at 80x24: the config file's path, Load, Save and Start
        with Horizontal(id="setup-actions"):
            yield Input(placeholder="config file: path/to/config.yaml", id="config-path")
            yield Button("Load", id="load", compact=True)
            yield Button("Save", id="save", compact=True)
            yield Button("Start search", variant="primary", id="start", compact=True)
        yield Footer(show_command_palette=False)  # ctrl+p still works; ? lists it

    def _row(self, names: tuple[str, ...]) -> ComposeResult:
        """One row of declared settings' fields, each labelled as the table says, and their error lines."""
        declared = [setting(name) for name in names]
        yield Horizontal(*(self._field(s) for s in declared), classes="fields")
        for s in declared:
            yield Label("", id=f"err-{field_id(s)}", classes="error")

    def _field(self, declared: Setting) -> Vertical:
        value = config_value(self.config, declared.key)
        widget: Input | Select[str]
        if declared.name in CHOICES:  # a device "cuda:1" shows as its kind, cuda
            choices = CHOICES[declared.name]
            shown = value if value in choices else str(value).split(":")[0]
            widget = Select([(c, c) for c in choices], value=shown, allow_blank=False, id=field_id(declared))
        else:
            widget = Input(str(value), type="integer" if declared.kind is int else "text", id=field_id(declared))
        return Vertical(Label(declared.form or declared.name), widget, classes="field")

    def on_mount(self) -> None:
        self.title = "presnet · setup"
        self.counting = False  # the facts need a helper process (torch): asked once the screen has been painted
        self._facts_asked = 0
        self.update_facts()
        self.call_after_refresh(self.set_timer, 0.1, self._start_counting)
        for widget in (self.query_one("#live-title"), self.query_one("#live-runs")):
            widget.display = False  # shown once a live run is found
        self.find_live_runs(Path(self.config.run.runs_dir))
        # The first choice, so Space and Enter act at once (the scroll container would take them otherwise).
        self.query_one("#scope", RadioSet).focus()

    # -- reading the form ----------------------------------------------------------------------
    def form_overrides(self) -> ConfigOverrides:
        """The form as the CLI's overrides object: the same fields, the same merge and validation.

        A number that cannot be read is refused here (None would mean "keep the config's value")."""
        scope_set = self.query_one("#scope", RadioSet)
        button = scope_set.pressed_button
        pressed = button.id.removeprefix("scope-") if button is not None and button.id else None
        scope = pressed  # none pressed: the config's own (e.g. progressive)
        if pressed == "custom":  # the text as typed: the config reads "1,2,5" (core.space.validate_scope)
            scope = self.query_one("#custom-blocks", Input).value
        unreadable: list[str] = []
        fields = {name: self._read(setting(name), unreadable) for row in ROWS for name in row}
        overrides = ConfigOverrides.of(
            fields,
            scope=scope,
            kernels=",".join(str(k) for k in KERNELS if self.query_one(f"#k-{k}", Checkbox).value),
            activations=",".join(a for a in ACTIVATIONS if self.query_one(f"#a-{a}", Checkbox).value),
        )
        if unreadable:
            raise ConfigError(unreadable)
        return overrides

    def _read(self, declared: Setting, unreadable: list[str]) -> object:
        """A field's value for the overrides: None keeps the config's (a text left as the file has it, or a
        number that cannot be read, noted in ``unreadable``: None would otherwise mean "keep")."""
        if declared.name in CHOICES:
            return str(self.query_one(f"#{field_id(declared)}", Select).value)
        text = self.query_one(f"#{field_id(declared)}", Input).value
        if declared.kind is int:
            if not text.strip().lstrip("-").isdigit():
                unreadable.append(f"{declared.key}: type a whole number")
                return None
            return int(text.strip())
        if text == str(config_value(self.config, declared.key)):
            return None  # unchanged: as the file has it
        return Path(text) if declared.kind is Path else text

    def build_config(self) -> Config:
        return override_config(self.config, self.form_overrides())

    def show_problems(self, problems: list[str]) -> None:
        slots: dict[str, list[str]] = {}
        for line in problems:
            field_path, _, message = line.partition(": ")
            slots.setdefault(ERROR_SLOTS.get(field_path, "general"), []).append(
                message if field_path in ERROR_SLOTS else line
            )
        for label in self.query("Label.error").results(Label):
            slot = (label.id or "").removeprefix("err-")
            text = "\n".join(slots.get(slot, []))
            label.update(text)
            label.display = bool(text)  # an empty error line takes no row
        shown = [label for label in self.query("Label.error") if label.display]
        if shown:  # at 80x24 the form scrolls: bring the first problem into sight
            self.call_after_refresh(shown[0].scroll_visible, animate=False)

    @on(RadioSet.Changed)
    @on(Checkbox.Changed)
    @on(Input.Changed, "#custom-blocks")
    @on(Input.Changed, "#image-size")
    @on(Select.Changed, "#candidates")
    def update_facts(self) -> None:
        try:
            cfg = self.build_config()
        except ConfigError as err:
            self.workers.cancel_group(self, "facts")  # no older answer may land after this
            self.show_problems(err.problems)
            self.query_one("#facts", Static).update("")
            self._warn("")
            return
        self.show_problems([])
        self._warn(void_line(cfg))
        if self.counting:
            self.count_facts(cfg)

    def _start_counting(self) -> None:
        self.counting = True
        self.update_facts()

    def _warn(self, text: str) -> None:
        warning = self.query_one("#void-warning", Label)
        warning.update(text)
        warning.display = bool(text)

    @work(thread=True, exclusive=True, group="live")
    def find_live_runs(self, folder: Path) -> None:
        """The runs a process writes now under the runs folder (their locks, their events), off the UI thread."""
        from core.api.listing import live_runs

        runs = live_runs(folder)
        if runs:
            self.app.call_from_thread(self._show_live, runs)

    def _show_live(self, runs: list[RunRecord]) -> None:
        if not self.is_mounted:
            return
        options = self.query_one("#live-runs", OptionList)
        for r in runs:
            label = f"{Path(r.path).name} · {r.phase} epoch {r.epoch}/{r.epochs} · pid {r.pid} on {r.host}"
            options.add_option(Option(label, id=r.path))
        for widget in (self.query_one("#live-title"), options):
            widget.display = True
        options.focus()

    @on(OptionList.OptionSelected, "#live-runs")
    def live_run_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.post_message(self.AttachRequested(Path(event.option.id)))

    def count_facts(self, cfg: Config) -> None:
        """The space's report, from the helper process (presnet_tui.app.facts: torch never loads in the app),
        waited for on a daemon thread -- not a Textual thread worker, whose executor the app's exit would
        join, so that quitting never waits for the count.  A newer keystroke's answer wins."""
        self._facts_asked += 1
        asked, app = self._facts_asked, self.app  # a plain thread has no active app: taken here

        def ask() -> None:
            from presnet_tui.app.facts import FACTS

            text = FACTS.ask(cfg)
            if asked == self._facts_asked and app.is_running:
                app.call_from_thread(self._show_facts, text)

        threading.Thread(target=ask, name="presnet-facts", daemon=True).start()

    def _show_facts(self, text: str) -> None:
        if self.is_mounted:
            self.query_one("#facts", Static).update(text)

    # -- actions -----------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        handler = {"start": self.action_start, "load": self.action_load, "save": self.action_save}.get(
            event.button.id or ""
        )
        if handler:
            handler()

    @on(Select.Changed, "#samples")
    def sample_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.query_one("#config-path", Input).value = event.value
            self.action_load()

    def action_load(self) -> None:
        path = self.query_one("#config-path", Input).value.strip()
        if not path:
            self.show_problems(["config: type a path, or pick a sample config"])
            return
        try:
            config = load_config(Path(path))
        except PresnetError as err:
            self.show_problems(err.problems)
            return
        self.config = config
        self.app.switch_screen(SetupScreen(config, self.config_dir))
        self.notify(f"loaded {path}")

    def action_save(self) -> None:
        path = self.query_one("#config-path", Input).value.strip()
        try:
            config = self.build_config()
            if not path:
                raise PresnetError("no file name", where="config", hint="type a path to save to")
            atomic_write_text(Path(path), dump_yaml(config))
        except PresnetError as err:
            self.show_problems(err.problems)
            return
        self.notify(f"saved {path}")

    def action_start(self) -> None:
        try:
            config = self.build_config()
        except ConfigError as err:
            self.show_problems(err.problems)
            return
        self.show_problems([])
        self.query_one("#start", Button).disabled = True
        self.post_message(self.StartRequested(config, on_error=self.start_failed))

    def start_failed(self, message: str) -> None:
        self.query_one("#start", Button).disabled = False
        self.show_problems([message])
