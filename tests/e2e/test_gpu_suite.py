"""`presnet bench --suite gpu` keeps working where there is no GPU: the whole suite at its tiny CPU sizes.

The figures themselves are not asserted (machines are noisy); what is asserted is that every part
ran, produced the figures the GPU run is for, and that each check judged what it claims to judge.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from core.space.proxyless import Mode, PathSampler
from presnet_tui.cli import app
from scripts.gpu_suite import REPORT_FILE, ReplaySampler


@pytest.mark.slow
def test_gpu_suite_runs_on_the_cpu_and_every_check_passes(tmp_path):
    out = tmp_path / "suite"
    res = CliRunner().invoke(app, ["bench", "--suite", "gpu", "--device", "cpu", "--out", str(out)])
    assert res.exit_code == 0, res.output
    printed = res.stdout
    assert "all checks passed" in printed and "search+retrain" in printed
    report = json.loads((out / REPORT_FILE).read_text())
    assert report["passed"] and not report["errors"] and report["device"] == "cpu"

    # 1. the benchmark: a JSON per size, with the figures core.perf.bench measures
    sizes = report["settings"]["bench_sizes"]
    for size in sizes:
        bench = json.loads((out / f"bench-{size}px.json").read_text())
        assert bench["settings"]["image_size"] == size
        assert [s["scope"] for s in bench["scopes"]] == report["settings"]["bench_scopes"]
        assert all(s["darts_bytes"] >= s["weight_bytes"] > 0 for s in bench["scopes"])

    # 2. a search + retrain per scope through the Job path, its images/s and the memory comparison
    assert [r["scope"] for r in report["runs"]] == report["settings"]["run_scopes"]
    for row in report["runs"]:
        assert row["status"] == "done" and row["search_images_per_s"] > 0 and row["retrain_images_per_s"] > 0
        assert row["memory"]["total_darts_over_proxyless"] > 0 and row["table1_row_hours"]["total"] > 0
        assert row["search_peak_bytes"] is None  # the allocator peak exists on CUDA only
        summary = json.loads((tmp_path / "suite" / "runs" / f"search-{row['scope']}" / "summary.json").read_text())
        assert summary["search"]["epochs"] == report["settings"]["search_epochs"]

    # 3. the checks, by what each judged
    checks = {c["name"]: c for c in report["checks"]}
    bf16 = checks["bf16 alphas match fp32"]["figures"]
    assert bf16["fp32_change_norm"] > 0 and bf16["cosine"] >= bf16["min_cosine"]
    fp16 = checks["fp16 architecture scaler keeps alphas finite"]["figures"]
    assert fp16["non_finite_steps"] == 0 and fp16["forced_overflow_skipped"] and fp16["max_alpha_change"] > 0
    kill = checks["kill -9 then resume: history duplicate-free"]["figures"]
    assert kill["killed_while_running"] and kill["epochs"] == list(range(1, report["settings"]["warmup_epochs"] + 3))
    assert kill["event_lines_at_kill"] < kill["event_lines_final"]
    assert all(c["passed"] for c in report["checks"])


def test_gpu_suite_refuses_a_used_out_before_any_work(tmp_path):
    out = tmp_path / "suite"
    (out / "runs").mkdir(parents=True)
    res = CliRunner().invoke(app, ["bench", "--suite", "gpu", "--device", "cpu", "--out", str(out)])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--out" in lines[0] and "Traceback" not in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["runs"]  # nothing written


def test_replay_sampler_returns_the_same_draws_again():
    """The bf16-vs-fp32 check relies on it: both precisions train exactly the same paths."""
    logits = np.zeros((4, 3))
    sampler = ReplaySampler(5)
    first = [sampler.draw(logits, Mode.TWO_PATH) for _ in range(6)]
    sampler.replay()
    assert [sampler.draw(logits + 9.0 * i, Mode.TWO_PATH) for i in range(6)] == first  # logits are ignored
    fresh = PathSampler(5)
    assert [fresh.draw(logits, Mode.TWO_PATH) for _ in range(6)] == first  # and drawn as PathSampler draws
