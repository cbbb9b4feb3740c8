"""`compare` over planted run directories with known numbers: each row's mean, std and 95 % interval,
the searched rows' RI over random with its Fieller interval and permutation p-value, all equal to
values computed by hand here; n = 1 and n = 2 edge cases; runs of differing configs kept apart."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from core.api.results import TableRow, compare
from core.config import dump_yaml
from core.results import stats
from presnet_tui.cli.views import compare as compare_view
from tests.conftest import tiny_config
from tests.support import invoke

#: Student's t quantiles t(0.975, df), from a table.
T975 = {1: 12.706204736174707, 2: 4.302652729749464, 3: 3.182446305284263}


def plant(folder: Path, name: str, kind: str, top1: float, scope: str = "s", **config) -> Path:
    """A finished run directory as compare reads it: config.yaml and summary.json (no arch.json: no FLOPs)."""
    run = folder / name
    run.mkdir(parents=True)
    cfg = tiny_config(folder, space={"scope": scope}, **config)
    (run / "config.yaml").write_text(dump_yaml(cfg))
    arch = {"blocks": {"1": {"kernel": 5, "activation": "mish"}}}
    summary: dict = {"params": 1_000_000, "retrain": {"test_top1": top1}}
    if kind == "baseline":
        summary |= {"baseline": True, "architecture": {"blocks": {}, "source": {"baseline": True}}}
    elif kind == "random":
        summary["architecture"] = arch | {"source": {"random": {"scope": scope, "seed": 0, "index": 0}}}
    else:
        summary |= {"architecture": arch, "search": {"scope": scope, "elapsed_s": 10.0}}
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def plant_all(folder: Path, kind: str, values: list[float], scope: str = "s", **config) -> list[Path]:
    return [plant(folder, f"{kind}-{scope}-{i}", kind, v, scope, **config) for i, v in enumerate(values)]


def rows_by_kind(paths: list[Path]) -> dict[tuple[str, str], dict]:
    """The rows as ``compare --json`` writes them (the JSON edge)."""
    return {(r["scope"], r["kind"]): r for r in compare(paths).as_dicts()}


def typed_rows(paths: list[Path]) -> dict[tuple[str, str], TableRow]:
    """The rows as the front ends receive them."""
    return {(r.scope, r.kind): r for r in compare(paths).rows}


def test_three_searched_against_four_random_and_one_baseline(tmp_path):
    search = plant_all(tmp_path, "search", [0.90, 0.92, 0.94])
    random = plant_all(tmp_path, "random", [0.80, 0.84, 0.82, 0.86])
    base = plant_all(tmp_path, "baseline", [0.88])
    rows = rows_by_kind(search + random + base)
    assert list(rows) == [("baseline", "baseline"), ("s", "search"), ("s", "random")]
    s, r, b = rows["s", "search"], rows["s", "random"], rows["baseline", "baseline"]
    assert (s["n"], r["n"], b["n"]) == (3, 4, 1)
    assert s["top1_mean"] == pytest.approx(0.92) and s["top1_std"] == pytest.approx(0.02)
    half = T975[2] * 0.02 / math.sqrt(3)  # = 0.049683
    assert s["top1_ci95"] == pytest.approx([0.92 - half, 0.92 + half])
    assert r["top1_mean"] == pytest.approx(0.83) and r["top1_std"] == pytest.approx(math.sqrt(0.002 / 3))
    half = T975[3] * math.sqrt(0.002 / 3) / 2
    assert r["top1_ci95"] == pytest.approx([0.83 - half, 0.83 + half])
    assert s["ri_mean"] == pytest.approx(100 * 0.09 / 0.83)  # 10.84 %
    # The three searched runs are the three best of the seven: 1 of the C(7, 3) = 35 splits does as well.
    assert s["p_value"] == pytest.approx(1 / 35) and s["random_n"] == 4
    lo, hi = s["ri_ci95"]
    assert lo < s["ri_mean"] < hi and lo >= 100 * (0.90 - 0.86) / 0.86 and hi <= 100 * (0.94 - 0.80) / 0.80
    assert r["ri_mean"] is None and r["p_value"] is None and b["ri_mean"] is None  # RI belongs to search rows
    assert b["top1_std"] is None and b["top1_ci95"] is None  # n = 1: no spread is known
    assert s["params_mean"] == 1_000_000 and s["search_s_mean"] == 10.0 and s["blocks_agreeing"] == 1


def test_two_against_two_has_a_welch_fieller_interval_known_by_hand(tmp_path):
    """Runs of one seed (0) cannot be paired by seed: the Welch form. Its ends are the ratios rho
    where (ms - rho mr)^2 = t^2 (vs/ns + rho^2 vr/nr), with t at the Welch-Satterthwaite df at rho-hat."""
    rows = rows_by_kind(plant_all(tmp_path, "search", [0.90, 0.94]) + plant_all(tmp_path, "random", [0.80, 0.86]))
    s = rows["s", "search"]
    assert s["ri_mean"] == pytest.approx(100 * (0.92 - 0.83) / 0.83)
    ws, wr, rho = 0.0008 / 2, 0.0018 / 2, 0.92 / 0.83
    df = (ws + rho**2 * wr) ** 2 / (ws**2 + rho**4 * wr**2)
    from scipy.stats import t

    crit = t.ppf(0.975, df)
    for ri_end in s["ri_ci95"]:
        r = 1 + ri_end / 100
        assert (0.92 - r * 0.83) ** 2 == pytest.approx(crit**2 * (ws + r * r * wr), rel=1e-9)
    lo, hi = s["ri_ci95"]
    assert lo < 0 < s["ri_mean"] < hi  # 2 vs 2 runs this close: no evidence either way
    assert s["p_value"] == pytest.approx(1 / 6)  # C(4, 2) = 6 splits; only the observed one reaches 1.84
    half = T975[1] * math.sqrt(2 * 0.02**2) / math.sqrt(2)  # std of (0.90, 0.94) = 0.02 * sqrt 2
    assert s["top1_ci95"] == pytest.approx([0.92 - half, min(0.92 + half, 1.0)])
    assert s["top1_ci95"][1] == 1.0  # clipped: a top-1 is at most 100 %


def test_one_run_each_has_ri_but_no_spread_interval_or_p(tmp_path):
    rows = rows_by_kind(plant_all(tmp_path, "search", [0.91]) + plant_all(tmp_path, "random", [0.85]))
    s, r = rows["s", "search"], rows["s", "random"]
    assert s["ri_mean"] == pytest.approx(100 * 0.06 / 0.85)
    assert s["ri_ci95"] is None and s["p_value"] is None  # one run a side: nothing to resample or permute
    assert s["top1_std"] is None and s["top1_ci95"] is None and r["top1_std"] is None
    rendered = compare_view.markdown(compare([*Path(tmp_path).glob("*-s-0")]).rows)
    assert "| 91.00 |" in rendered and "±" not in rendered


def test_permutation_p_counts_ties():
    assert stats.permutation_p_value([0.5, 0.5], [0.5, 0.5]) == 1.0  # every split ties the observed one
    assert stats.permutation_p_value([0.1], [0.2, 0.3]) == 1.0  # searched worst: every split does as well
    assert stats.permutation_p_value([0.3], [0.1, 0.2]) == pytest.approx(1 / 3)
    assert stats.permutation_p_value([0.3, 0.2], [0.1]) == pytest.approx(1 / 3)


def test_runs_of_differing_configs_get_rows_of_their_own_that_say_what_differs(tmp_path):
    small = plant_all(tmp_path / "a", "search", [0.90, 0.92], data={"image_size": 32})
    large = plant_all(tmp_path / "b", "search", [0.95, 0.97], data={"image_size": 64})
    random = plant_all(tmp_path / "c", "random", [0.80, 0.82], data={"image_size": 32})
    seeds = plant_all(tmp_path / "d", "random", [0.81], data={"image_size": 32}, run={"seed": 7})
    rows = compare(small + large + random + seeds).rows
    search = [r for r in rows if r.kind == "search"]
    assert [(r.n, r.differs) for r in search] == [(2, {"data.image_size": 32}), (2, {"data.image_size": 64})]
    rand = [r for r in rows if r.kind == "random"]
    assert len(rand) == 1 and rand[0].n == 3 and rand[0].differs == {}  # the seed is what a row averages
    assert search[0].random_n == 3 and search[0].ri_mean == pytest.approx(100 * (0.91 - 0.81) / 0.81)
    assert search[1].ri_mean is None  # no random run at 64 px: no RI against another recipe's randoms
    table, notes = compare_view.terminal_table(rows)
    assert notes[:2] == ["[1] s search: data.image_size=32", "[2] s search: data.image_size=64"]


def test_compare_json_markdown_and_an_80_column_table(tmp_path):
    paths = plant_all(tmp_path, "search", [0.9421, 0.9456, 0.9388], scope="f")
    paths += plant_all(tmp_path, "random", [0.9301, 0.9333, 0.9290, 0.9312, 0.9276, 0.9350], scope="f")
    paths += plant_all(tmp_path, "baseline", [0.9350, 0.9372, 0.9301])
    res = invoke("compare", *paths, "--json")
    assert res.exit_code == 0, res.stderr
    rows = json.loads(res.stdout)
    keys = {"scope", "kind", "n", "params_mean", "flops_mean", "top1_mean", "top1_std", "top1_ci95"}
    assert all(keys <= set(r) for r in rows)
    search = next(r for r in rows if r["kind"] == "search")
    assert {"ri_mean", "ri_ci95", "p_value"} <= set(search) and len(search["ri_ci95"]) == 2
    md = invoke("compare", *paths, "--markdown").stdout.splitlines()
    assert len(md) == 5 and [line.split(" | ")[2] for line in md[2:]] == ["baseline", "search", "random"]
    table, _ = compare_view.terminal_table(compare(paths).rows)
    console = Console(width=80, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text, text
    assert "94.22±0.34" in text and "f random" in text and "f search" in text
    wide = Console(width=80, record=True, color_system=None)
    wide_table, _ = compare_view.terminal_table(compare(paths).rows, wide=True)
    wide.print(wide_table)
    assert "…" in wide.export_text()  # --wide does not fit 80 columns: the command widens its console instead
    res = invoke("compare", *paths, "--wide")
    assert res.exit_code == 0 and "…" not in res.stdout and "seeds agree" in res.stdout
    res = invoke("compare", *paths, "--wide", "--json")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1 and "--wide" in res.stderr


def test_table_one_figure_has_random_bars_beside_searched_ones_from_zero_and_greyscale_styles(tmp_path, monkeypatch):
    import presnet_tui.cli.views.figures as figures

    paths = plant_all(tmp_path, "search", [0.90, 0.94]) + plant_all(tmp_path, "random", [0.80, 0.86, 0.83])
    paths += plant_all(tmp_path, "search", [0.91], scope="m") + plant_all(tmp_path, "baseline", [0.85, 0.87])
    saved = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: saved.append(fig))
    figures.table1(compare(paths).rows, tmp_path / "t.png")
    ax = saved[0].axes[0]
    assert ax.get_ylim()[0] == 0  # bars start from 0
    bars = [p for p in ax.patches if p.get_height() > 0]
    assert sorted(round(p.get_height(), 2) for p in bars) == [83.0, 91.0, 92.0]  # s search, s random, m search
    hatches = {round(p.get_height(), 2): p.get_hatch() for p in bars}
    assert hatches[83.0] and not hatches[92.0]  # random bars hatched: told apart without colour
    s_search, s_random = (next(p for p in bars if round(p.get_height(), 2) == h) for h in (92.0, 83.0))
    assert s_search.get_x() < s_random.get_x() < 1 - s_random.get_width() / 2  # side by side, under scope s
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(saved[0]).get_renderer()  # the figure was closed after its save
    legend = ax.get_legend()
    box, axes_box = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
    assert box.x0 >= axes_box.x1  # the legend sits outside the data
    texts = [t.get_text() for t in legend.get_texts()]
    assert any("random" in t for t in texts) and any("baseline" in t for t in texts)
    assert any(line.get_linestyle() == "--" for line in ax.get_lines())  # the baseline: a dashed line


def test_settled_decisions_are_summed_over_a_rows_runs(tmp_path):
    """The settled column is k/n over every decision of the row's runs; random and baseline rows have none."""
    search = plant_all(tmp_path, "search", [0.90, 0.92])
    for path, (settled, total) in zip(search, [(5, 6), (6, 6)]):
        summary = json.loads((path / "summary.json").read_text())
        summary["search"] |= {"settled": settled, "decisions_total": total}
        (path / "summary.json").write_text(json.dumps(summary))
    rows = typed_rows(search + plant_all(tmp_path, "random", [0.85]))
    assert (rows["s", "search"].settled, rows["s", "search"].decisions_total) == (11, 12)
    assert rows["s", "random"].decisions_total is None
    assert compare_view.settled(rows["s", "search"]) == "11/12"
    assert "| 11/12 |" in compare_view.markdown(list(rows.values()))


def test_runs_of_each_stop_rule_get_a_row_with_where_their_architectures_come_from(tmp_path):
    def stopped(paths: list[Path], rule: str, fired: bool, epoch: int) -> list[Path]:
        for p in paths:
            s = json.loads((p / "summary.json").read_text())
            s["search"] |= {
                "stop_rule": {"rule": rule, "fired": fired, "fired_at": None, "architecture_epoch": epoch},
                "curvature": [[epoch - 1, 0.5], [epoch, 0.25]],
            }
            (p / "summary.json").write_text(json.dumps(s))
        return paths

    margin = stopped(
        plant_all(tmp_path / "m", "search", [0.90, 0.91], search={"stop_rule": "margin"}), "margin", True, 9
    )
    curv = stopped(
        plant_all(tmp_path / "c", "search", [0.92, 0.93], search={"stop_rule": "curvature"}), "curvature", True, 14
    )
    rows = sorted((r for r in compare(margin + curv).rows if r.kind == "search"), key=lambda r: str(r.stop_rule))
    assert [(r.differs, r.stop_rule, r.stops_fired, r.arch_epoch_mean) for r in rows] == [
        ({"search.stop_rule": "curvature"}, "curvature", 2, 14.0),
        ({"search.stop_rule": "margin"}, "margin", 2, 9.0),
    ]
    assert rows[0].curvature_mean == 0.25  # at the architecture's epoch
    assert compare_view.stop(rows[0]) == "curvature 2/2 @14" and compare_view.curvature(rows[0]) == "0.25"
