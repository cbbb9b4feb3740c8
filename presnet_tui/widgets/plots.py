"""Plot widgets: a block's alpha trajectories, scalar curves, and the all-block heat map."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from presnet_tui.model import Curves, RunModel
from presnet_tui.trajectory import COLORS, Trajectory, draw_decision, thin


class BlockPlot(Vertical):
    """Kernel (top) and activation (bottom) probabilities of one block over (fractional) epochs;
    with joint candidates the pair probabilities come first and the two panels show their marginals.

    Stacked, so each panel gets the full width: time series need width more than height.
    """

    def compose(self) -> ComposeResult:
        pairs = PlotextPlot(id="op-plot")
        pairs.display = False  # shown for joint candidates only
        yield pairs
        yield PlotextPlot(id="kernel-plot")
        yield PlotextPlot(id="activation-plot")

    def draw(
        self,
        traj: Trajectory,
        block: str | None,
        marker: float | None = None,
        change: dict[str, float] | None = None,
    ) -> None:
        """``change``: the block's last per-epoch total variation per decision, shown in the titles."""
        decisions = traj.decisions()
        change = change or {}
        self.query_one("#op-plot", PlotextPlot).display = "op" in decisions
        for decision in decisions:
            plot = self.query_one(f"#{decision}-plot", PlotextPlot)
            if block is None:
                plot.plt.clear_data()
                plot.plt.title("waiting for alphas…")
            else:
                draw_decision(
                    plot.plt,
                    traj,
                    block,
                    decision,
                    width=max(plot.size.width - 8, 10),
                    title=f"block {block} · {decision if decision != 'op' else 'kernel/activation pairs'}"
                    + (" (marginal)" if "op" in decisions and decision != "op" else "")
                    + (f" · Δ {100 * change[decision]:.1f} pts/epoch" if decision in change else ""),
                    marker=marker,
                    height=plot.size.height,
                )
            plot.refresh()


class CurvesPlot(PlotextPlot):
    """A few per-epoch series of one quantity (loss, or top-1).

    ``log``: a logarithmic y axis, for losses -- a first retrain epoch's test loss can be
    263,518 and later ones ~0.3, which flattens a linear axis into one line.
    """

    def __init__(self, title: str, keys: list[str], *, log: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title_text = title
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


SHORT = {"leakyrelu": "lrelu", "hardswish": "hswsh"}


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
            row = [str(block), str(model.stages.get(str(block), ""))]
            row += [_cell(probs.get("kernel", {}).get(k, 0.0)) for k in kernels]
            row += [_cell(probs.get("activation", {}).get(a, 0.0)) for a in acts]
            table.add_row(*row)
        self.update(table)
