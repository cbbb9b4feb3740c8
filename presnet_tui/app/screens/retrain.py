"""The retrain screen: progress, curves, the architecture against the baseline, the result."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Static

from core.run.events import AnyEvent, Error, RetrainDone, RetrainStarted
from core.space import RESNET50_DEPTHS, block_positions
from presnet_tui.app.screens.run_screen import RunScreen
from presnet_tui.app.session import Session
from presnet_tui.app.widgets.header import RunHeader
from presnet_tui.app.widgets.plots import CurvesPlot


def architecture_flops(arch: dict[str, Any], image_size: int) -> str | None:
    """``FLOPs at N px: ...`` for an architecture (as events carry it), counted by core on the meta device."""
    from core.api.arch import event_arch_flops
    from presnet_tui.shared.units import human

    flops = event_arch_flops(arch, image_size)
    return None if flops is None else f"FLOPs at {image_size} px: {human(flops)}"


class RetrainScreen(RunScreen):
    BINDINGS = [("s", "stop", "Stop retrain")]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A finished retrain offers no Stop."""
        return not (action == "stop" and self.model.retrain_done is not None)

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.flops: str | None = None  #: the retrained architecture's FLOPs at the run's input size

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunHeader(id="run-header")
        with Horizontal(id="retrain-body"):
            with Vertical(id="left"):
                yield DataTable(id="arch-table")
                yield Static(id="retrain-info")
            with Vertical(id="retrain-plots"):
                yield CurvesPlot("loss", ["train_loss", "val_loss"], log=True, id="retrain-loss")
                yield CurvesPlot("top-1", ["train_top1", "val_top1"], id="retrain-top1")
        yield Footer(show_command_palette=False)  # ctrl+p still works; ? lists it

    def on_mount(self) -> None:
        self.sub_title = "retrain"
        table = self.query_one("#arch-table", DataTable)
        table.add_columns("blk", "stg", "kernel", "activation")

    def on_run_event(self, event: AnyEvent) -> None:
        match event:
            case RetrainStarted():
                self.fill_architecture()
            case Error():
                self.notify(event.message, title="error", severity="error", timeout=15)
            case RetrainDone():
                self.refresh_bindings()
                self.notify(f"test top-1 {event.test_top1:.2%}", title="retrain done")

    def fill_architecture(self) -> None:
        arch = self.model.architecture or {}
        blocks = arch.get("blocks", {})
        table = self.query_one("#arch-table", DataTable)
        table.clear()
        for pos in sorted(block_positions(arch.get("depths", RESNET50_DEPTHS)), key=lambda p: p.block_id):
            b = blocks.get(str(pos.block_id)) or blocks.get(pos.block_id)
            if b is None:
                continue
            table.add_row(str(pos.block_id), str(pos.stage + 1), f"{b['kernel']}x{b['kernel']}", b["activation"])
        run_dir = self.session.run_dir
        if run_dir.config_file.is_file():  # the input size is the run's; without its config, no FLOPs line
            self.flops = architecture_flops(arch, run_dir.config().data.image_size)

    def redraw(self) -> None:
        m = self.model
        self.query_one(RunHeader).show(m, retrain=True)
        self.query_one("#retrain-loss", CurvesPlot).draw(m.retrain_curves)
        self.query_one("#retrain-top1", CurvesPlot).draw(m.retrain_curves)
        lines = []
        if m.arch_params is not None and m.baseline_params:
            lines.append(f"params {m.arch_params:,} ({m.arch_params / m.baseline_params:.3f}x ResNet-50)")
        if self.flops is not None:
            lines.append(self.flops)
        tops = m.retrain_curves.values.get("val_top1", [])
        if tops and m.retrain_done is None:  # the test set is read once, at the end
            lines.append(f"val top-1 {tops[-1]:.2%} (last epoch)")
        if m.retrain_done is not None:  # at 80x24 the panel is 34 columns wide: short lines, every one shown
            d = m.retrain_done
            lines.append(f"[b]done[/b]: test top-1 {d.test_top1:.2%} (once)")
            lines.append(f"weights {d.weights}")
            lines.append(f"arch    {self.session.run_dir.retrain_arch_file}")
            lines.append(f"summary {self.session.run_dir.summary_file}")
        if m.errors:
            lines.append(f"[red]{m.errors[-1]}[/]")
        self.query_one("#retrain-info", Static).update("\n".join(lines))

    def action_stop(self) -> None:
        self.session.stop_now()
        self.notify("stopping the retrain after the current step; the test set is still measured, once")
