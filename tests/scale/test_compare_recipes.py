"""`compare` keeps runs that did not follow their recipe out of its rows: a retrain stopped early."""

from __future__ import annotations

import json

from rich.console import Console

from core.api.results import DecisionAgreement, compare
from presnet_tui.cli.views import compare as compare_view
from tests.scale.test_compare_stats import plant_all


def test_a_retrain_stopped_early_gets_a_row_of_its_own_marked_stopped(tmp_path):
    full = plant_all(tmp_path, "search", [0.90, 0.92])
    short = plant_all(tmp_path / "short", "search", [0.70])
    summary_file = short[0] / "summary.json"
    summary = json.loads(summary_file.read_text())
    summary["retrain"] |= {"stopped": True, "epochs": 1}
    summary_file.write_text(json.dumps(summary))
    rows = compare(full + short).rows
    assert sorted((r.n, r.stopped) for r in rows) == [(1, 1), (2, 0)]
    (stopped,) = [r for r in rows if r.stopped]
    assert stopped.top1_mean == 0.70 and stopped.differs == {"retrain.stopped_at_epoch": 1}
    table, _ = compare_view.terminal_table(rows)
    console = Console(width=80, record=True)
    console.print(table)
    assert "s search (stopped)" in console.export_text()
    assert "(stopped)" in compare_view.markdown(rows)


def test_compare_shows_per_decision_how_many_seeds_chose_the_majority_candidate(tmp_path):
    runs = plant_all(tmp_path, "search", [0.90, 0.92, 0.94])
    kernels, activations = [5, 5, 3], ["mish", "mish", "mish"]
    for run, k, a in zip(runs, kernels, activations, strict=True):
        summary = json.loads((run / "summary.json").read_text())
        summary["architecture"]["blocks"] = {"1": {"kernel": k, "activation": a}, "2": {"kernel": 3, "activation": a}}
        summary["search"] |= {"settled": 3, "decisions_total": 4}
        (run / "summary.json").write_text(json.dumps(summary))
    result = compare(runs)
    (as_json,) = result.as_dicts()  # the JSON edge keeps its shape
    assert as_json["seed_agreement"]["1"]["kernel"] == {"choice": "5", "runs": 2, "of": 3}
    assert as_json["seed_agreement"]["1"]["activation"] == {"choice": "mish", "runs": 3, "of": 3}
    (row,) = result.rows
    assert row.seed_agreement["1"]["kernel"] == DecisionAgreement("5", 2, 3)
    assert (row.decisions_agreeing, row.decisions_compared) == (3, 4)
    table, notes = compare_view.terminal_table([row])
    console = Console(width=80, record=True)
    console.print(table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "9/12" in text  # settled k/n summed over the row's runs
    assert any("seeds agree on 3/4 decisions" in n for n in notes)
    assert any("1 kernel 5 (2/3)" in n and "1 activation mish (3/3)" in n for n in notes)
    assert "3/4 decisions" in compare_view.markdown([row])


def test_table_one_figure_keeps_its_n_ri_p_labels_clear_of_the_title(tmp_path, monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    import presnet_tui.cli.views.figures as figures
    from tests.scale.test_compare_stats import plant_all as plant

    paths = plant(tmp_path, "search", [0.99, 0.995, 1.0]) + plant(tmp_path, "random", [0.97, 0.99, 0.98])
    saved = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: saved.append(fig))
    figures.table1(compare(paths).rows, tmp_path / "t.png")
    fig = saved[0]
    ax = fig.axes[0]
    renderer = FigureCanvasAgg(fig).get_renderer()
    title = ax.title.get_window_extent(renderer)
    notes = [t for t in ax.texts if "n=" in t.get_text()]
    assert len(notes) == 2 and any("p=" in t.get_text() for t in notes)
    for note in notes:
        box = note.get_window_extent(renderer)
        assert box.y1 < title.y0 and not box.overlaps(title)
