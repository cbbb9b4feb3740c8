"""The benchmark runs end to end on a tiny setting (figures themselves are not asserted: machines are noisy)."""

from __future__ import annotations

import json

from core.bench import main


def test_bench_json_smoke(capsys):
    assert main(["--device", "cpu", "--width", "0.125", "--depths", "1,1,1,1", "--batch-size", "8",
                 "--repeats", "1", "--warmup", "1", "--epoch-images", "32", "--scopes", "s,f", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [s["scope"] for s in result["scopes"]] == ["s", "f"]
    for s in result["scopes"]:
        for key in ("pinned_ratio", "uniform_ratio", "two_path_ratio", "all_paths_ratio", "epoch_ratio",
                    "weight_bytes", "arch_bytes", "darts_bytes"):
            assert s[key] > 0
        # DARTS-style keeps every path's activations: never less than the one-path step
        assert s["darts_bytes"] >= s["weight_bytes"]
    assert result["pipeline"]["images_per_s"] > 0 and result["plain"]["activation_bytes"] > 0
