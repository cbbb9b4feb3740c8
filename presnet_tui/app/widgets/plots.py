"""Plot widgets: a block's alpha trajectories, scalar curves, and the all-block heat map."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from presnet_tui.shared.model import Curves, RunModel
from presnet_tui.shared.trajectory import COLORS, Trajectory, draw_decision, legend_labels, thin

SHORT = {"leakyrelu": "lrelu", "hardswish": "hswsh"}

#: Rows a plot panel needs to show a trajectory usefully: 4 of frame, title and ticks, 5 of data, a legend.
PANEL_ROWS = 10
#: plotext colour names that rich spells differently.
RICH_COLOURS = {"orange": "dark_orange"}


def legend_text(labels: list[tuple[str, str]], width: int = 1000) -> Text:
    """``━ 3x3  ━ 5x5`` in the lines' colours: a legend outside the plot, so no panel is too short for one.
    Lines break between entries, never inside one, within ``width`` columns."""
    text, used = Text(), 0
    for i, (label, colour) in enumerate(labels):
        entry = len(label) + 2
        if i and used + 2 + entry > width:
            text.append("\n")
            used = 0
        elif i:
            text.append("  ")
            used += 2
        text.append("━ ", style=RICH_COLOURS.get(colour, colour))
        text.append(label)
        used += entry
    return text


def bars_text(title: str, probs: Mapping[str, str | float], width: int = 6) -> Text:
    """A decision's current probabilities as one bar per candidate: the compact view of a marginal."""
    text = Text(title + "\n", style="bold")
    for i, (label, p) in enumerate(probs.items()):
        filled = round(float(p) * width)
        colour = COLORS[i % len(COLORS)]
        text.append(f"{SHORT.get(label, label):<6.6} ")
        text.append("█" * filled, style=RICH_COLOURS.get(colour, colour))
        text.append("░" * (width - filled), style="dim")
        text.append(f" {100 * float(p):3.0f}%\n")
    return text


class BlockPlot(Vertical):
    """Kernel (top) and activation (bottom) probabilities of one block over (fractional) epochs;
    with joint candidates the pair probabilities come first and the two panels show their marginals.

    Stacked, so each panel gets the full width: time series need width more than height.  Each panel has
    its legend on a line of its own.  When the three joint panels do not fit (80x24), the pairs keep their
    plot and the marginals shrink to bars of their current values; the block list on the left is the
    compact view of the other blocks.
    """

    def compose(self) -> ComposeResult:
        for decision in ("op", "kernel", "activation"):
            with Vertical(id=f"{decision}-panel", classes="panel"):
                yield PlotextPlot(id=f"{decision}-plot")
                yield Static(id=f"{decision}-legend", classes="legend")
        with Horizontal(id="marginal-bars"):
            yield Static(id="kernel-bars")
            yield Static(id="activation-bars")

    def draw(
        self,
        traj: Trajectory,
        block: str | None,
        marker: float | None = None,
        change: dict[str, float] | None = None,
    ) -> None:
        """``change``: the block's last per-epoch total variation per decision, shown in the titles."""
        decisions = traj.decisions()
        joint = "op" in decisions
        roomy = self.size.height >= PANEL_ROWS * len(decisions)
        plotted = decisions if roomy or not joint else ["op"]
        for decision in ("op", "kernel", "activation"):
            self.query_one(f"#{decision}-panel").display = decision in plotted
        self.query_one("#marginal-bars").display = joint and not roomy and block is not None
        for decision in plotted:
            self._panel(traj, block, decision, marker, (change or {}).get(decision), joint)
        if joint and not roomy and block is not None:
            for decision in ("kernel", "activation"):
                series = traj.series.get(block, {}).get(decision, {})
                latest = {(f"{k}x{k}" if decision == "kernel" else k): ys[-1] for k, ys in series.items() if ys}
                self.query_one(f"#{decision}-bars", Static).update(bars_text(f"{decision} (marginal)", latest))

    def _panel(
        self, traj: Trajectory, block: str | None, decision: str, marker: float | None, tv: float | None, joint: bool
    ) -> None:
        plot = self.query_one(f"#{decision}-plot", PlotextPlot)
        legend = self.query_one(f"#{decision}-legend", Static)
        if block is None:
            plot.plt.clear_data()
            plot.plt.title("waiting for alphas…")
            legend.update("")
        else:
            name = "kernel/activation pairs" if decision == "op" else decision
            if decision == "op" and plot.size.width < 60:
                name = "pairs"
            draw_decision(
                plot.plt,
                traj,
                block,
                decision,
                width=max(plot.size.width - 8, 10),
                title=f"block {block} · {name}"
                + (" (marginal)" if joint and decision != "op" else "")
                + (f" · Δ {100 * tv:.1f} pts/ep" if tv is not None else ""),
                marker=marker,
                height=plot.size.height,
                legend=False,
                xlabel=False,
            )
            labels = legend_labels(traj, block, decision)
            if decision == "kernel":
                labels = [(f"{k}x{k}", colour) for k, colour in labels]
            legend.update(legend_text(labels, max(legend.size.width - 2, 20)))
        plot.refresh()


class CurvesPlot(PlotextPlot):
    """A few per-epoch series of one quantity (loss, or top-1).

    ``log``: a logarithmic y axis, for losses -- a first retrain epoch's test loss can be
    263,518 and later ones ~0.3, which flattens a linear axis into one line.  Top-1 series (fractions in
    the events) are drawn in %, as every text beside them says it.
    """

    def __init__(self, title: str, keys: list[str], *, log: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.percent = all("top1" in key for key in keys)
        self.title_text = f"{title} (%)" if self.percent else title
        self.keys = keys
        self.log_scale = log

    def draw(self, curves: Curves) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title(self.title_text)
        legend = self.size.height >= len(self.keys) + 6
        series = []
        for key in self.keys:
            values = curves.values.get(key, [])
            if self.log_scale:  # a log axis has no place for 0 or below
                values = [v if v is not None and v > 0 else None for v in values]
            if self.percent:
                values = [100 * v if v is not None else None for v in values]
            series.append((key, *thin(curves.epochs, values, max(self.size.width - 8, 10))))
        # plotext cannot scale an empty log axis: linear until there is a point
        plt.yscale("log" if self.log_scale and any(xs for _, xs, _ in series) else "linear")
        for i, (key, xs, ys) in enumerate(series):
            if xs:
                plt.plot(
                    xs,
                    ys,
                    label=key.replace("_", " ") if legend else None,
                    color=COLORS[i % len(COLORS)],
                    marker="braille",
                )
        plt.xlabel("epoch")
        self.refresh()


def _cell(p: float) -> Text:
    """A probability as a shaded percentage: the brighter, the more certain."""
    level = int(round(p * 255))
    fg = "black" if level > 140 else "white"
    return Text(f"{100 * p:3.0f}", style=f"{fg} on rgb({level // 3},{level // 2},{level})")


class AlphaHeatmap(Static):
    """Every block at once: one row per block, one shaded cell per candidate."""

    def show(self, model: RunModel) -> None:
        if not model.alphas:
            self.update("waiting for alphas…")
            return
        table = Table(box=None, padding=(0, 1), show_edge=False, title="softmax(alpha) in %", title_justify="left")
        table.add_column("blk", justify="right")
        table.add_column("stg")
        first = model.block_probs(str(model.block_ids[0])) if model.block_ids else {}
        kernels = model.candidates.get("kernel") or list(first.get("kernel", {}))  # joint: the marginals' labels
        acts = model.candidates.get("activation") or list(first.get("activation", {}))
        for k in kernels:
            table.add_column(f"{k}x{k}", justify="right", no_wrap=True)
        for a in acts:
            table.add_column(SHORT.get(a, a), justify="right", no_wrap=True)
        for block in model.block_ids:
            probs = model.block_probs(str(block))
            row: list[str | Text] = [str(block), str(model.stages.get(str(block), ""))]
            row += [_cell(probs.get("kernel", {}).get(k, 0.0)) for k in kernels]
            row += [_cell(probs.get("activation", {}).get(a, 0.0)) for a in acts]
            table.add_row(*row)
        self.update(table)
