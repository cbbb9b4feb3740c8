"""The block list: id, stage, current argmax per decision, settled / unstable marks."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from core.space import JOINT_DECISION, parse_joint
from presnet_tui.app.widgets.plots import SHORT
from presnet_tui.shared.model import RunModel


def _change(tv: dict[str, float]) -> str:
    """The largest per-epoch change (total variation) of a block's decisions, in points of probability:
    near 0 when still; a settled block whose value rises again is wandering (the paper's erratic phase)."""
    return f"{100 * max(tv.values()):3.1f}" if tv else "-"


def _frozen(decision: str, frozen: dict[str, str]) -> Text | None:
    """A decision a progressive search froze: its choice, greyed (no probability: it is no longer searched)."""
    choice = frozen.get(decision)
    if choice is None and JOINT_DECISION in frozen:
        k, a = parse_joint(frozen[JOINT_DECISION])
        choice = str(k) if decision == "kernel" else a
    if choice is None:
        return None
    label = f"{choice}x{choice}" if decision == "kernel" else SHORT.get(choice, choice)
    return Text(f"{label} frz", style="dim")


class BlockTable(DataTable[str | Text]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label, key in (
            ("blk", "block"),
            ("st", "stage"),
            ("kernel", "kernel"),
            ("act", "activation"),
            ("", "status"),
            ("Δ/ep", "change"),
        ):
            self.add_column(label, key=key)

    def show(self, model: RunModel) -> None:
        for block in model.block_ids:
            key = str(block)
            k, pk = model.argmax(key, "kernel")
            a, pa = model.argmax(key, "activation")
            frozen = model.frozen.get(key, {})
            cells = {
                "kernel": _frozen("kernel", frozen) or (f"{k}x{k} {100 * pk:3.0f}%" if k != "-" else "-"),
                "activation": _frozen("activation", frozen)
                or (f"{SHORT.get(a, a)} {100 * pa:3.0f}%" if a != "-" else "-"),
                "status": model.status(block),
                "change": _change(model.change.get(key, {})),
            }
            if key not in self.rows:
                self.add_row(
                    key,
                    str(model.stages.get(key, "")),
                    cells["kernel"],
                    cells["activation"],
                    cells["status"],
                    cells["change"],
                    key=key,
                )
            else:
                for column, value in cells.items():
                    self.update_cell(key, column, value, update_width=True)

    @property
    def selected_block(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value
