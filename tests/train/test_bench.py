"""The benchmark runs end to end on a tiny setting (figures themselves are not asserted: machines are noisy)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from presnet_tui.cli import app


def main(args: list[str]):
    """``presnet bench ARGS`` through the Typer app, as a user runs it."""
    return CliRunner().invoke(app, ["bench", *args], catch_exceptions=False)


@pytest.mark.parametrize(
    "precision,scopes",
    [
        ([], ["s", "f"]),
        (["--amp", "bf16", "--channels-last", "on"], ["s"]),  # the CUDA defaults, run on the CPU
    ],
)
@pytest.mark.slow
def test_bench_json_smoke(precision, scopes):
    res = main(
        [
            "--device",
            "cpu",
            "--width",
            "0.125",
            "--depths",
            "1,1,1,1",
            "--batch-size",
            "8",
            "--repeats",
            "1",
            "--warmup",
            "1",
            "--epoch-images",
            "32",
            "--scopes",
            ",".join(scopes),
            "--json",
            *precision,
        ]
    )
    assert res.exit_code == 0, res.stderr
    result = json.loads(res.stdout)
    assert [s["scope"] for s in result["scopes"]] == scopes
    assert result["amp"] == ("torch.bfloat16" if precision else "off")
    fmt = {s["name"]: s for s in result["tuning"]["settings"]}["channels_last"]
    if precision:  # given: never measured
        assert result["channels_last"] and fmt["how"] == "explicit" and not fmt["seconds"]
    else:  # auto: both formats timed, the faster one kept and reported
        assert fmt["how"] == "measured" and set(fmt["seconds"]) == {"on", "off"}
        assert fmt["choice"] in fmt["seconds"] and "paired rounds" in fmt["note"]
        assert result["channels_last"] == (fmt["choice"] == "on")
    for s in result["scopes"]:
        for key in (
            "pinned_ratio",
            "uniform_ratio",
            "two_path_ratio",
            "all_paths_ratio",
            "epoch_ratio",
            "weight_bytes",
            "arch_bytes",
            "darts_bytes",
        ):
            assert s[key] > 0
        # DARTS-style keeps every path's activations: never less than the one-path step
        assert s["darts_bytes"] >= s["weight_bytes"]
    assert result["pipeline"]["images_per_s"] > 0 and result["plain"]["activation_bytes"] > 0


@pytest.mark.parametrize(
    "args,named",
    [
        (["--depths", "3,x"], "--depths"),
        (["--depths", "3,4"], "--depths"),
        (["--scopes", "s,q"], "--scopes"),
        (["--repeats", "0"], "--repeats"),
        (["--width", "-1"], "--width"),
        (["--batch-size", "abc"], "--batch-size"),
        (["--image-size", "4"], "--image-size"),
        (["--device", "foo"], "--device"),
    ],
)
def test_bad_arguments_are_one_line_errors_before_any_work(args, named, monkeypatch):
    import core.perf.bench

    monkeypatch.setattr(core.perf.bench, "run", lambda settings: pytest.fail("measured despite a bad argument"))
    res = main(args)
    assert res.exit_code == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and named in err[0], err


def test_bench_help_lists_its_options_like_every_command():
    res = main(["--help"])
    assert res.exit_code == 0
    for option in ("--device", "--depths", "--scopes", "--repeats", "--json"):
        assert option in res.stdout
