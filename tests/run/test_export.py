"""Getting the model out: load_model, torchvision compatibility, ONNX and torch.export round trips."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from core.errors import PresnetError
from core.export import export_run, load_model
from core.run.checkpoint import save_checkpoint
from core.run.rundir import RunDir
from core.space.arch import Architecture, save_arch
from presnet_tui.cli import app


def _weights(model: torch.nn.Module, seed: int) -> dict:
    """A state dict that differs from a fresh model's, BN statistics included (eval mode must use them)."""
    gen = torch.Generator().manual_seed(seed)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for k, v in state.items():
        if v.is_floating_point():
            v.add_(0.1 * torch.randn(v.shape, generator=gen))
            if k.endswith("running_var"):
                v.abs_().add_(0.5)
    return state


@pytest.fixture
def retrained_run(tiny):
    """A run directory as an older retrain left it: config, arch.json, weights/last.pt and a test-selected best.pt."""
    cfg = tiny()
    run = RunDir.create(cfg)
    arch = Architecture(
        blocks={1: {"kernel": 5, "activation": "mish"}, 2: {"kernel": 7, "activation": "leakyrelu"}},
        width_mult=cfg.network.width_mult,
        depths=cfg.network.depths,
    )
    save_arch(run.arch_file, arch)
    model = arch.build()
    payload = {"kind": "weights", "architecture": arch.model_dump(mode="json")}
    for name, seed in (("best", 1), ("last", 2)):
        save_checkpoint(run.weights / f"{name}.pt", {**payload, "model": _weights(model, seed)})
    return run


def test_load_model_gives_the_final_weights_in_eval_mode_and_never_test_selected_ones(retrained_run):
    final = load_model(retrained_run.path)  # the default is the final weights, not an epoch picked on test data
    assert not final.training
    stored = torch.load(retrained_run.weights / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(final.state_dict()[k], v) for k, v in stored.items())
    x = torch.randn(2, 3, 32, 32)
    old_best = load_model(retrained_run.arch_file, weights=retrained_run.weights / "best.pt")  # an old run's file
    assert not torch.allclose(final(x), old_best(x))
    with pytest.raises(PresnetError, match="test score"):
        load_model(retrained_run.path, weights="best")
    fresh = load_model(retrained_run.arch_file)  # an architecture file alone: initialised, not trained
    assert not torch.allclose(fresh(x), final(x))


def test_no_weights_yet_is_a_clear_error(tiny):
    run = RunDir.create(tiny())
    save_arch(run.arch_file, Architecture(width_mult=0.125, depths=[1, 1, 2, 1]))
    with pytest.raises(PresnetError, match="no last weights in the run yet"):
        load_model(run.path)
    with pytest.raises(PresnetError, match="unsupported format 'tflite'"):
        export_run(run.path, "tflite")


def test_a_plain_network_loads_into_torchvision_resnet50_unchanged():
    torchvision = pytest.importorskip("torchvision")
    ours = Architecture().build().eval()  # every block 3x3/ReLU, 10 classes
    theirs = torchvision.models.resnet50(num_classes=10).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)  # same names, same shapes
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


def test_onnx_round_trip_equals_pytorch_logits(retrained_run, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    result = export_run(retrained_run.path, "onnx", tmp_path / "m.onnx", image_size=32)
    assert result.path.is_file() and result.max_abs_diff <= 1e-3
    import onnxruntime as ort

    model = load_model(retrained_run.path)
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    x = torch.randn(5, 3, 32, 32)  # another batch size than the export's: the batch is dynamic
    (got,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), model(x), rtol=1e-4, atol=1e-4)


def test_pt2_round_trip_equals_pytorch_logits(retrained_run, tmp_path):
    out = tmp_path / "m.pt2"
    cli = CliRunner()
    res = cli.invoke(app, ["export", str(retrained_run.path), "--format", "pt2", "-o", str(out), "--batch", "3"])
    assert res.exit_code == 0, res.output
    program = torch.export.load(str(out)).module()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(program(x), load_model(retrained_run.path)(x), rtol=1e-5, atol=1e-5)
    bad = cli.invoke(app, ["export", str(retrained_run.path), "--format", "tflite"])
    assert bad.exit_code == 2 and "unsupported format" in bad.output
