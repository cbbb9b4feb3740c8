"""The block list: id, stage, current argmax per decision, settled / unstable marks."""

from __future__ import annotations

from textual.widgets import DataTable

from presnet_tui.model import RunModel
from presnet_tui.widgets.plots import SHORT


def _change(tv: dict[str, float]) -> str:
    """The largest per-epoch change (total variation) of a block's decisions, in points of probability:
    near 0 when still; a settled block whose value rises again is wandering (the paper's erratic phase)."""
    return f"{100 * max(tv.values()):3.1f}" if tv else "-"


class BlockTable(DataTable):
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
            cells = {
                "kernel": f"{k}x{k} {100 * pk:3.0f}%" if k != "-" else "-",
                "activation": f"{SHORT.get(a, a)} {100 * pa:3.0f}%" if a != "-" else "-",
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
