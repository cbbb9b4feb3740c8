"""The `presnet` CLI: happy paths on tiny configs, and every bad input exits 2 naming the field."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import yaml

from core.config import load_config, quickstart
from core.space.arch import load_arch
from core.space.network import build_plain, count_params
from tests.support import REPO, invoke


def test_sample_configs_are_valid_and_quickstart_is_the_embedded_default():
    for path in sorted((REPO / "sample_configs").glob("*.yaml")):
        load_config(path)
        assert invoke("config", "check", path).exit_code == 0
    file_qs = load_config(REPO / "sample_configs" / "quickstart.yaml")
    assert file_qs.model_dump(exclude={"run"}) == quickstart().model_dump(exclude={"run"})


def test_inspect_scope_json():
    res = invoke("inspect", "--scope", "s", "--json")
    data = json.loads(res.stdout)
    assert data["search_blocks"] == [1, 2, 3] and data["architectures"] == 6**3
    assert data["supernet_params"] > data["baseline_params"] == 23_528_522
    res = invoke("inspect", "--scope", "1,5", "--kernels", "3,5,7", "--activations", "relu,gelu", "--json")
    data = json.loads(res.stdout)
    assert data["search_blocks"] == [1, 5] and data["architectures"] == 36


def test_inspect_arch_file(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"blocks": {}}')
    assert json.loads(invoke("inspect", path, "--json").stdout)["params"] == 23_528_522
    path.write_text('{"blocks": {"1": {"kernel": 5, "activation": "mish"}}}')
    res = invoke("inspect", path)
    assert res.exit_code == 0 and "mish" in res.stdout


@pytest.mark.parametrize(
    "args,field",
    [
        (["inspect", "--scope", "x"], "space.scope"),
        (["inspect", "--scope", "17"], "space.scope"),
        (["inspect", "--scope", "s", "--kernels", "4"], "space.kernels"),
        (["inspect", "--scope", "s", "--kernels", "three"], "space.kernels"),
        (["inspect", "--scope", "1,x"], "space.scope"),
        (["inspect", "--scope", "s", "--activations", "tanh"], "space.activations"),
        (["run", "--headless", "--device", "tpu"], "run.device"),
        (["run", "--headless", "--dataset", "mnist"], "data.dataset"),
    ],
)
def test_bad_values_exit_2_naming_the_field(args, field, no_run):
    res = invoke(*args)
    assert res.exit_code == 2
    assert field in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize(
    "content,field",
    [
        ("{", "malformed JSON"),
        ('{"blocks": {"17": {"kernel": 3}}}', "block id 17 is out of range"),
        ('{"blocks": {"1": {"kernel": 4}}}', "blocks.1.kernel"),
        ('{"blocks": {"1": {"activation": "tanh"}}}', "blocks.1.activation"),
        ('{"blocks": {}, "colour": 1}', "colour"),
    ],
)
def test_bad_architecture_files(tmp_path, content, field):
    path = tmp_path / "a.json"
    path.write_text(content)
    res = invoke("inspect", path)
    assert res.exit_code == 2 and field in res.stderr


def test_config_check_reports_every_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("search:\n  epochs: 0\n  lr: -1\nspace:\n  kernels: [4]\n  scop: s\n")
    res = invoke("config", "check", path)
    assert res.exit_code == 2
    for fieldpath in ("search.epochs", "search.lr", "space.kernels", "space.scop"):
        assert fieldpath in res.stderr


def test_config_show_resolves_paths_against_the_file(tiny_yaml):
    res = invoke("config", "show", "--config", tiny_yaml)
    shown = yaml.safe_load(res.stdout)
    assert shown["run"]["runs_dir"] == str(tiny_yaml.parent / "runs")
    assert shown["search"]["lr"] == 0.05  # a default filled in


@pytest.mark.slow
def test_full_workflow(tiny_yaml, tmp_path):
    out = tmp_path / "r1"
    res = invoke("run", "--headless", "--config", tiny_yaml, "--out", out)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "test top-1" in res.stdout and (out / "summary.json").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["search"]["epochs"] == 2 and "test_top1" in summary["retrain"]

    arch = json.loads(invoke("derive", out, "--epoch", "2", "--json").stdout)
    assert set(arch["blocks"]) == {"1"}  # depths [1, 1, 2, 1]: scope s (stage 4) is block 1 alone
    res = invoke("derive", out, "--epoch", "9")
    assert res.exit_code == 2 and "no epoch 9" in res.stderr

    res = invoke("plot", out)
    assert res.exit_code == 0 and "kernel" in res.stdout and "\x1b[" not in res.stdout  # not a terminal: no colour
    fig = tmp_path / "alphas.txt"
    assert invoke("plot", out, "--save", fig).exit_code == 0 and fig.stat().st_size > 0
    assert invoke("plot", out, "--block", "7").exit_code == 2

    assert invoke("run", "--headless", "--config", tiny_yaml, "--out", out).exit_code == 2  # existing run refused
    res = invoke("resume", out, "--headless")  # already finished: nothing to redo, refused like stop (issue 39)
    assert res.exit_code == 2 and "has finished" in res.stderr

    control = (out / "control.json").read_bytes()
    res = invoke("stop", out, "--at-epoch", "3")  # a finished run: nothing to stop, and nothing is filed
    assert res.exit_code == 2 and "has finished" in res.stderr
    assert (out / "control.json").read_bytes() == control

    base = tmp_path / "base"
    assert invoke("baseline", "--config", tiny_yaml, "--out", base).exit_code == 0
    table = json.loads(invoke("compare", out, base, "--json").stdout)
    assert table[0]["model"] == "ResNet-50 (baseline)" and table[1]["model"] == "PResNet-50-s"
    assert table[0]["scope"] == "baseline" and table[1]["scope"] == "s"
    assert table[0]["n"] == table[1]["n"] == 1 and table[1]["top1_std"] is None  # n = 1: no spread
    # Each row's params are those of the network it trained, counted independently here.
    arch = load_arch(out / "arch.json")
    assert table[1]["params_mean"] == count_params(arch.build())
    assert table[0]["params_mean"] == count_params(build_plain(arch.spec()))
    # A 5x5 block carries more weights than the plain 3x3 one; a 3x3 block exactly as many.
    bigger = any(b.kernel > 3 for b in arch.blocks.values())
    assert (table[1]["params_mean"] > table[0]["params_mean"]) == bigger
    assert table[0]["flops_mean"] > 0 and table[1]["image_size"] == 32
    assert (table[1]["flops_mean"] > table[0]["flops_mean"]) == bigger
    assert (
        invoke("export", out, "--format", "pt2", "--weights", "last").exit_code == 0 and (out / "model.pt2").is_file()
    )


@pytest.mark.slow
def test_search_and_retrain_commands(tiny_yaml, tmp_path):
    assert invoke("search", "--config", tiny_yaml, "--out", tmp_path / "s").exit_code == 0
    assert not (tmp_path / "s" / "weights" / "last.pt").exists()
    res = invoke("retrain", tmp_path / "s" / "arch.json", "--config", tiny_yaml, "--out", tmp_path / "r")
    assert res.exit_code == 0 and (tmp_path / "r" / "weights" / "last.pt").exists()
    assert not (tmp_path / "r" / "weights" / "best.pt").exists()  # no checkpoint is selected on test data


def test_run_directory_commands_refuse_other_paths(tmp_path):
    for cmd in (
        ["resume", tmp_path],
        ["derive", tmp_path],
        ["stop", tmp_path],
        ["plot", tmp_path],
        ["compare", tmp_path],
        ["resume", tmp_path / "nope"],
    ):
        res = invoke(*cmd)
        assert res.exit_code == 2, (cmd, res.exit_code)
        assert "run directory" in res.stderr or "no such directory" in res.stderr, (cmd, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_inspect_reports_flops_at_the_image_size(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"blocks": {"1": {"kernel": 7}}}))
    at32 = json.loads(invoke("inspect", path, "--json").stdout)
    at64 = json.loads(invoke("inspect", path, "--json", "--image-size", "64").stdout)
    assert at32["image_size"] == 32 and at64["flops"] > 3 * at32["flops"]  # FLOPs grow with the pixels
    space = json.loads(invoke("inspect", "--scope", "s", "--kernels", "3,7", "--json").stdout)
    assert space["flops"]["min"] == space["baseline_flops"] < space["flops"]["max"]


def test_latency_table_command(tmp_path, tiny_yaml):
    out = tmp_path / "lat.json"
    res = invoke("latency", "-c", tiny_yaml, "--repeats", "3", "-o", out)
    assert res.exit_code == 0, res.output
    table = json.loads(out.read_text())
    assert table["device"] == "cpu" and table["blocks"] and all(v > 0 for v in table["blocks"]["1"]["kernel"].values())


def test_cli_imports_without_torch_and_has_a_version():
    code = "import presnet_tui.cli, sys; assert 'torch' not in sys.modules, 'torch imported'"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    res = invoke("--version")
    assert res.exit_code == 0 and res.stdout.startswith("presnet ")


def test_tui_is_a_command_beside_run():
    res = invoke("--help")
    assert "tui" in res.stdout and "run" in res.stdout and "bench" in res.stdout
    assert invoke("tui", "--help").exit_code == 0


def test_bad_option_values_are_one_line_too(no_run):
    res = invoke("stop", "somewhere", "--at-epoch", "0")
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "--at-epoch" in lines[0], res.stderr


@pytest.mark.parametrize(
    "isatty,no_color,expected", [(False, None, False), (True, None, True), (True, "1", False), (True, "", True)]
)
def test_colour_only_on_a_terminal_and_not_under_no_color(monkeypatch, isatty, no_color, expected):
    from presnet_tui.cli.commands.common import use_colour

    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    stream = io.StringIO()
    stream.isatty = lambda: isatty  # type: ignore[method-assign]
    assert use_colour(stream) is expected


def test_no_command_shows_the_help_without_a_traceback():
    for args in ([], ["config"]):
        res = invoke(*args)
        assert res.exit_code == 2, (args, res.output)
        assert "Usage" in res.output and "Traceback" not in res.output


def test_unwritable_paths_and_conflicting_stop_flags_are_one_line(tmp_path):
    res = invoke("stop", tmp_path, "--pause", "--resume")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1 and "choose one of" in res.stderr
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("{}\n")
    (run / "events.jsonl").write_text("")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = invoke("tensorboard", run, "-o", blocker / "tb")  # a folder inside a file: the OS refuses
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and "a-file" in lines[0] and "Traceback" not in res.stderr
