"""`compare` keeps runs that did not follow their recipe out of its rows: a retrain stopped early."""

from __future__ import annotations

import json

from rich.console import Console

from core.api.results import compare
from presnet_tui import compare_view
from tests.scale.test_compare_stats import plant_all


def test_a_retrain_stopped_early_gets_a_row_of_its_own_marked_stopped(tmp_path):
    full = plant_all(tmp_path, "search", [0.90, 0.92])
    short = plant_all(tmp_path / "short", "search", [0.70])
    summary_file = short[0] / "summary.json"
    summary = json.loads(summary_file.read_text())
    summary["retrain"] |= {"stopped": True, "epochs": 1}
    summary_file.write_text(json.dumps(summary))
    rows = compare(full + short).as_dicts()
    assert sorted((r["n"], r["stopped"]) for r in rows) == [(1, 1), (2, 0)]
    (stopped,) = [r for r in rows if r["stopped"]]
    assert stopped["top1_mean"] == 0.70 and stopped["differs"] == {"retrain.stopped_at_epoch": 1}
    table, _ = compare_view.terminal_table(rows)
    console = Console(width=80, record=True)
    console.print(table)
    assert "s search (stopped)" in console.export_text()
    assert "(stopped)" in compare_view.markdown(rows)
