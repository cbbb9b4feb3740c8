"""The setup screen: scope, candidates, data and run settings; load/save configs; start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, RadioSet, Select, Static
from textual.worker import get_current_worker

from core.config import (
    DEVICE_KINDS,
    VOID_KERNELS_FIX,
    Config,
    ConfigError,
    Dataset,
    dump_yaml,
    load_config,
    validate,
    void_kernels_fact,
)
from core.errors import PresnetError
from core.io import atomic_write_text
from core.space import ACTIVATIONS, CANDIDATE_MODES, KERNELS, SCOPE_STAGES
from presnet_tui.widgets.candidates import CandidateBox, ChoiceButton

if TYPE_CHECKING:  # torch: the facts are counted on a worker thread, after the first paint
    from core.api.space import SpaceReport

SCOPES = [*SCOPE_STAGES, "custom"]
DATASETS = list(get_args(Dataset))
DEVICES = list(DEVICE_KINDS)

#: Which error label shows a problem with which config field.
ERROR_SLOTS = {
    "space.scope": "scope",
    "space.kernels": "kernels",
    "space.activations": "activations",
    "search.epochs": "epochs",
    "search.warmup_epochs": "warmup",
    "search.stop_at_epoch": "epochs",
    "run.seed": "seed",
    "run.device": "device",
    "data.dataset": "data",
    "data.data_dir": "data",
    "data.image_size": "image-size",
}


def space_facts(report: SpaceReport) -> str:
    """Facts about a choice of scope and candidates, as one short paragraph, with the FLOPs range of
    the space's architectures at the form's input size."""
    from core.space.cost import human

    f, flops = report.facts, report.flops
    return (
        f"stages {', '.join(map(str, f.stages))} · {len(f.block_ids)} search blocks "
        f"({', '.join(map(str, f.block_ids))})\n"
        f"{f.architectures:,} architectures · super-network {f.supernet_params:,} params (plain {f.baseline_params:,})"
        f"\nFLOPs at {report.image_size} px: {human(flops.min)} to {human(flops.max)} (plain {human(flops.baseline)})"
    )


def void_line(cfg: Config) -> str:
    """The live warning: which kernel choices are void at this scope, kernel set and input size
    (arithmetic on map sizes: cheap enough for every keystroke)."""
    fact = void_kernels_fact(cfg.geometry(), cfg.data.image_size)
    if fact is None:
        return ""
    if cfg.space.void_kernels == "prune":
        return f"⚠ {fact} — pruned: only the smallest kernel of each equal group is searched"
    return f"⚠ {fact} ({VOID_KERNELS_FIX})"


class SetupScreen(Screen):
    class StartRequested(Message):
        """The form holds a valid config: the app starts a search with it (or calls ``on_error``)."""

        def __init__(self, config: Config, on_error: Callable[[str], None]) -> None:
            super().__init__()
            self.config = config
            self.on_error = on_error

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
            yield Input(custom, placeholder="block ids, 1 = deepest, e.g. 1,2,5", id="custom-blocks")
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
            with Horizontal(classes="fields"):
                yield self._field("image size", Input(str(c.data.image_size), type="integer", id="image-size"))
                yield self._field(
                    "candidates",
                    Select(
                        [(m, m) for m in CANDIDATE_MODES], value=c.space.candidates, allow_blank=False, id="candidates"
                    ),
                )
            yield Label("", id="err-image-size", classes="error")
            yield Label("", id="void-warning", classes="warning")
            yield Label("Data and run", classes="section")
            with Horizontal(classes="fields"):
                yield self._field(
                    "dataset", Select([(d, d) for d in DATASETS], value=c.data.dataset, allow_blank=False, id="dataset")
                )
                yield self._field("data dir", Input(str(c.data.data_dir), id="data-dir"))
            yield Label("", id="err-data", classes="error")
            with Horizontal(classes="fields"):
                yield self._field("epochs", Input(str(c.search.epochs), type="integer", id="epochs"))
                yield self._field("warm-up", Input(str(c.search.warmup_epochs), type="integer", id="warmup"))
                yield self._field(
                    "device",
                    Select([(d, d) for d in DEVICES], value=c.run.device.split(":")[0], allow_blank=False, id="device"),
                )
                yield self._field("seed", Input(str(c.run.seed), type="integer", id="seed"))
            for slot in ("epochs", "warmup", "device", "seed"):
                yield Label("", id=f"err-{slot}", classes="error")
            yield Label("Config file", classes="section")
            with Horizontal(classes="fields"):
                yield Input(placeholder="path/to/config.yaml", id="config-path")
                yield Button("Load", id="load")
                yield Button("Save", id="save")
            samples = sorted(self.config_dir.glob("*.yaml")) if self.config_dir.is_dir() else []
            if samples:
                yield Select([(p.name, str(p)) for p in samples], prompt="sample configs", id="samples")
            yield Label("", id="err-general", classes="error")
            yield Button("Start search", variant="primary", id="start")
        yield Footer(show_command_palette=False)  # ctrl+p still works; ? lists it

    @staticmethod
    def _field(label: str, widget: Any) -> Vertical:
        return Vertical(Label(label), widget, classes="field")

    def on_mount(self) -> None:
        self.title = "presnet · setup"
        self.counting = False  # the facts need torch: counted once the screen has been painted
        self.update_facts()
        self.call_after_refresh(self.set_timer, 0.1, self._start_counting)
        # The first choice, so Space and Enter act at once (the scroll container would take them otherwise).
        self.query_one("#scope", RadioSet).focus()

    # -- reading the form ----------------------------------------------------------------------
    def form_values(self) -> dict[str, Any]:
        """The form as config overrides; unreadable numbers become None and fail validation."""
        scope_set = self.query_one("#scope", RadioSet)
        pressed = scope_set.pressed_button.id.removeprefix("scope-") if scope_set.pressed_button else None
        scope: Any = pressed or self.config.space.scope  # none pressed: the config's own (e.g. progressive)
        if pressed == "custom":  # the text as typed: the config reads "1,2,5" (core.space.validate_scope)
            scope = self.query_one("#custom-blocks", Input).value

        def number(widget_id: str) -> int | None:
            text = self.query_one(f"#{widget_id}", Input).value.strip()
            return int(text) if text.lstrip("-").isdigit() else None

        return {
            "space.scope": scope,
            "space.kernels": [k for k in KERNELS if self.query_one(f"#k-{k}", Checkbox).value],
            "space.activations": [a for a in ACTIVATIONS if self.query_one(f"#a-{a}", Checkbox).value],
            "data.dataset": self.query_one("#dataset", Select).value,
            "data.data_dir": self.query_one("#data-dir", Input).value,
            "data.image_size": number("image-size"),
            "space.candidates": self.query_one("#candidates", Select).value,
            "search.epochs": number("epochs"),
            "search.warmup_epochs": number("warmup"),
            "run.device": self.query_one("#device", Select).value,
            "run.seed": number("seed"),
        }

    def build_config(self) -> Config:
        data = self.config.model_dump(mode="json")
        for dotted, value in self.form_values().items():
            section, key = dotted.split(".")
            data[section][key] = value
        return validate(data)

    def show_problems(self, problems: list[str]) -> None:
        slots: dict[str, list[str]] = {}
        for line in problems:
            field_path, _, message = line.partition(": ")
            slots.setdefault(ERROR_SLOTS.get(field_path, "general"), []).append(
                message if field_path in ERROR_SLOTS else line
            )
        for label in self.query("Label.error"):
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

    @work(thread=True, exclusive=True, group="facts")
    def count_facts(self, cfg: Config) -> None:
        """The space's report off the UI thread: it needs torch (seconds to import on a busy machine)
        and a meta-device FLOPs count; a newer keystroke's worker replaces this one, its answer wins."""
        from core.api.space import space_report

        text = space_facts(space_report(cfg))
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_facts, text)

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
