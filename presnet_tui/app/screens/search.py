"""The search screen: live alphas per block, all blocks at once, curves; stop, pause, derive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from core.api.arch import Architecture
from core.api.confidence import Confidence, settled_of
from core.api.derive import derive
from core.config import check_stop_at
from core.errors import PresnetError
from core.run.events import AnyEvent, Converged, Error, RetrainDone, SearchStopped, SpaceWarning, Unstable
from presnet_tui.app.screens.dialogs import NumberScreen
from presnet_tui.app.screens.run_screen import RunScreen
from presnet_tui.app.session import Session
from presnet_tui.app.widgets.blocks import BlockTable
from presnet_tui.app.widgets.curvature import CurvatureStrip
from presnet_tui.app.widgets.header import RunHeader
from presnet_tui.app.widgets.plots import AlphaHeatmap, BlockPlot, CurvesPlot
from presnet_tui.app.widgets.readout import ReadoutStrip


class SearchScreen(RunScreen):
    #: Short words: at 80 columns the footer shows every main key (s e p d r, and the app's q and ?);
    #: the rest ([ ] o b c) are in the ``?`` list.
    BINDINGS = [
        Binding("s", "stop_now", "Stop"),
        Binding("e", "stop_at", "Stop at"),
        Binding("p", "toggle_pause", "Pause/continue"),
        Binding("left_square_bracket", "pick(-1)", "Pick epoch -1", key_display="[", show=False),
        Binding("right_square_bracket", "pick(1)", "Pick epoch +1", key_display="]", show=False),
        Binding("d", "derive", "Derive"),
        Binding("r", "retrain", "Retrain"),
        Binding("o", "show_tab('overview')", "Overview tab", show=False),
        Binding("b", "show_tab('block')", "Block tab", show=False),
        Binding("c", "show_tab('curves')", "Curves tab", show=False),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A finished run offers no Stop or Pause (a sweep's done runs, a stopped search), and only a run
        of this app can be retrained from here (an attached run retrains by itself)."""
        if action in ("stop_now", "stop_at", "toggle_pause"):
            return not (self.model.search_done or not self.session.running)
        if action == "retrain":
            return self.session.local and self.on_retrain is not None
        return True

    def __init__(
        self, session: Session, on_retrain: Callable[[Session, Architecture, int], None] | None = None
    ) -> None:
        super().__init__(session)
        self.on_retrain = on_retrain
        self.picked_epoch: int | None = None
        self.derived: Architecture | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunHeader(id="run-header")
        with Horizontal(id="search-body"):
            with Vertical(id="left"):
                yield BlockTable(id="blocks")
                yield CurvatureStrip(id="curvature-strip")  # beside the alpha plot: the plots keep their rows
                yield ReadoutStrip(id="readout-strip")  # the perturbation readout of the plotted block
                yield Static(id="search-info")
            with TabbedContent(id="tabs", initial="block"):
                with TabPane("Block", id="block"):
                    yield BlockPlot(id="block-plot")
                with TabPane("Overview", id="overview"):
                    yield AlphaHeatmap(id="heatmap")
                with TabPane("Curves", id="curves"):
                    with Horizontal():
                        yield CurvesPlot("loss", ["train_loss", "val_loss"], log=True, id="loss-plot")
                        yield CurvesPlot("top-1", ["train_top1", "val_top1"], id="top1-plot")
        yield Footer(show_command_palette=False)  # ctrl+p still works; ? lists it

    def on_mount(self) -> None:
        self.sub_title = "attached" if not self.session.local else "search"

    # -- events ------------------------------------------------------------------------------
    def on_run_event(self, event: AnyEvent) -> None:
        match event:
            case Error():
                self.refresh_bindings()
                self.notify(event.message, title="error", severity="error", timeout=15)
            case RetrainDone():
                self.refresh_bindings()
            case Unstable():
                how = f"{event.was} → {event.now}" if event.reason == "flip" else f"{event.now} lost its margin"
                self.notify(f"block {event.block} {event.decision}: {how}", title="unstable", severity="warning")
            case SpaceWarning():
                self.notify(event.message, title="warning", severity="warning", timeout=15)
            case Converged():
                self.notify(f"every decision settled at epoch {event.epoch}", title="converged")
            case SearchStopped():
                self.refresh_bindings()
                self.notify(
                    f"search stopped after epoch {event.epoch} ({event.reason}); "
                    "pick an epoch with [ ], d to derive, r to retrain",
                    title="search stopped",
                )

    def redraw(self) -> None:
        model = self.model
        self.query_one(RunHeader).show(model)
        table = self.query_one(BlockTable)
        table.show(model)
        tabs = self.query_one(TabbedContent)
        if tabs.active == "block":
            marker = float(self.picked_epoch) if self.picked_epoch is not None else None
            block = table.selected_block
            change = model.change.get(block, {}) if block is not None else {}
            self.query_one(BlockPlot).draw(model.trajectory, block, marker, change)
        elif tabs.active == "overview":
            self.query_one(AlphaHeatmap).show(model)
        else:
            self.query_one("#loss-plot", CurvesPlot).draw(model.search_curves)
            self.query_one("#top1-plot", CurvesPlot).draw(model.search_curves)
        self.query_one(CurvatureStrip).show(model.curvature(), model.stop_verdicts(), self.picked_epoch)
        found = model.readout(self.picked_epoch)
        self.query_one(ReadoutStrip).show(found, table.selected_block, model.readout() is not None)
        self.query_one("#search-info", Static).update(self.info_text())

    def info_text(self) -> str:
        m = self.model
        lines = [f"epochs done {m.epochs_done}/{m.epochs}"]
        if m.expected_cost is not None:
            from presnet_tui.shared.units import human

            lines.append(f"expected cost {human(*m.expected_cost)}")
        if m.change:  # the paper's "erratic" signal: how far each decision moved in the last epoch
            block, decision, tv = max(
                ((b, d, v) for b, ds in m.change.items() for d, v in ds.items()), key=lambda t: t[2]
            )
            lines.append(f"Δ/epoch max {100 * tv:.1f} pts (block {block} {decision})")
        if m.converged_at:
            lines.append(f"[green]converged at epoch {m.converged_at}[/]")
        if m.search_done:
            back = f" · arch from {m.arch_epoch}" if m.arch_epoch is not None and m.arch_epoch != m.epochs_done else ""
            lines.append(f"stopped: {m.stop_reason}{back}")
        verdicts = m.stop_verdicts()
        if verdicts is not None and verdicts.curvature is not None:
            c = verdicts.curvature
            lines.append(f"[magenta]λ rose ×{c.ratio:.2f} by {c.detected}: back to {c.rollback}[/]")
        if self.picked_epoch is not None:
            picked = m.epoch_ends.get(self.picked_epoch)
            curv = f" · λmax {picked.curvature:.3g}" if picked is not None and picked.curvature is not None else ""
            lines.append(f"picked epoch {self.picked_epoch}{curv}")
        if self.derived is not None:
            arch = ", ".join(f"{b}:{c.kernel}/{c.activation}" for b, c in sorted(self.derived.blocks.items()))
            settled = settled_of(self.derived.source)
            lines.append(
                f"derived @{(self.derived.source or {}).get('epoch', '?')}: {arch}"
                + (f" · {settled} settled" if settled else "")
            )
        if m.warnings:
            lines.append(f"[yellow]{m.warnings[-1]}[/]")
        if m.errors:
            lines.append(f"[red]{m.errors[-1]}[/]")
        return "\n".join(lines)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.redraws.request()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.redraws.now()

    # -- actions -----------------------------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_stop_now(self) -> None:
        if self.model.search_done:
            self.notify("the search has already stopped")
            return
        self.session.stop_now()
        self.notify("stopping after the current step…")

    def action_stop_at(self) -> None:
        def chosen(epoch: Any) -> None:
            if epoch is not None:
                try:  # inside the warm-up the search would end before its first architecture step
                    ended = self.model.epochs_done  # read now: an epoch may have ended while the dialog was open
                    check_stop_at(self.session.run_dir.config().search, epoch, "e (stop at)", ended)
                except PresnetError as err:
                    self.notify(err.line(), severity="error")
                    return
                self.session.stop_at(epoch)
                self.notify(f"the search will stop after epoch {epoch}")

        self.app.push_screen(
            NumberScreen(
                "Stop the search after epoch:",
                default=max(self.model.epochs_done + 1, 1),
                maximum=self.model.epochs or None,
            ),
            chosen,
        )

    def action_toggle_pause(self) -> None:
        if self.session.pause_requested():
            self.session.cont()
            self.notify("continuing")
        else:
            self.session.pause()
            self.notify("pausing after the current step")

    def action_pick(self, delta: int) -> None:
        done = self.model.epochs_done
        if not done:
            return
        current = self.picked_epoch if self.picked_epoch is not None else done
        self.picked_epoch = min(max(current + delta, 1), done)
        self.redraws.request()

    def action_derive(self) -> None:
        try:
            self.derived = derive(self.model.snapshots(str(self.session.run_dir.path)), self.picked_epoch)
        except PresnetError as err:
            self.notify(err.line(), severity="error")
            return
        conf = self.derived.source or {}
        line = Confidence.from_dict(conf).line() if "decisions" in conf else ""
        count = settled_of(conf)
        unsettled = count is not None and count.settled != count.total
        self.notify(
            f"architecture derived from epoch {conf['epoch']}" + (f": {line}" if line else ""),
            severity="warning" if line and unsettled else "information",
        )
        self.redraws.request()

    def action_retrain(self) -> None:
        if not self.model.search_done:
            self.notify("stop the search first (s, or e to stop at an epoch)", severity="warning")
            return
        if not self.session.local or self.on_retrain is None:
            self.notify("the attached run retrains by itself; watch it here", severity="warning")
            return
        if self.session.running:
            self.notify("the search is still finishing", severity="warning")
            return
        if self.derived is None:
            self.action_derive()
        if self.derived is not None:
            count = settled_of(self.derived.source)
            if count is not None and not count.searched:
                self.notify(
                    "no architecture step was taken: this is the plain network, not a searched one", severity="warning"
                )
            self.ask_retrain_length(self.derived)

    def ask_retrain_length(self, arch: Architecture) -> None:
        """The retrain's length, asked before it starts: the config's (the paper's 200, the quickstart's 40)
        is the default, but a first look at a derived architecture often wants a shorter one."""
        on_retrain = self.on_retrain
        retrain = self.model.search_config.get("retrain", {})  # the config the search started with
        default = retrain.get("epochs") or self.session.run_dir.config().retrain.epochs

        def chosen(epochs: int | None) -> None:
            if epochs is not None and on_retrain is not None:
                on_retrain(self.session, arch, epochs)

        self.app.push_screen(
            NumberScreen(
                f"Retrain the derived architecture from scratch for how many epochs? (config: {default})", default
            ),
            chosen,
        )
