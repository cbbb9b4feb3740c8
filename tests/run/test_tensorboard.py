"""TensorBoard: events.jsonl -> event files, read back with tensorboard's own reader."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from core.run.events import EpochEnd, RetrainEpochEnd
from core.run.rundir import RunDir
from presnet_tui.cli import app

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def _epoch(epoch: int, p3: float) -> EpochEnd:
    alphas = {"1": {"kernel": {"3": p3, "5": 1 - p3}, "activation": {"relu": 0.5, "mish": 0.5}}}
    return EpochEnd(
        epoch=epoch, epochs=2, phase="search", train_loss=2.0 / epoch, train_top1=0.3 * epoch, val_loss=1.0,
        val_top1=0.2 * epoch, lr=0.05 / epoch, elapsed_s=1.0, alphas=alphas,
    )  # fmt: skip


def test_a_past_run_converts_and_reads_back(tiny):
    run = RunDir.create(tiny())
    events = [_epoch(1, 0.5), _epoch(2, 0.8)]
    events.append(
        RetrainEpochEnd(
            epoch=1,
            epochs=1,
            train_loss=1.0,
            train_top1=0.5,
            val_loss=0.9,
            val_top1=0.61,
            lr=0.05,
            elapsed_s=2.0,
        )  # fmt: skip
    )
    run.events_file.write_text("".join(e.model_dump_json() + "\n" for e in events))
    res = CliRunner().invoke(app, ["tensorboard", str(run.path)])
    assert res.exit_code == 0, res.output
    acc = EventAccumulator(str(run.path / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"search/train_loss", "search/val_top1", "retrain/val_top1", "lr"} <= tags
    assert {"alpha/1/kernel/3", "alpha/1/kernel/5", "alpha/1/activation/mish"} <= tags
    assert [(s.step, round(s.value, 4)) for s in acc.Scalars("alpha/1/kernel/3")] == [(1, 0.5), (2, 0.8)]
    assert acc.Scalars("retrain/val_top1")[0].value == pytest.approx(0.61)


def test_a_run_without_events_is_a_clear_error(tiny):
    run = RunDir.create(tiny())
    res = CliRunner().invoke(app, ["tensorboard", str(run.path)])
    assert res.exit_code == 2 and "no events.jsonl yet" in res.output


def test_a_missing_optional_package_names_its_extra(monkeypatch, tmp_path):
    import sys

    import torch

    from core.errors import PresnetError
    from core.export import export_onnx
    from core.run.tensorboard import require_tensorboard

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    with pytest.raises(PresnetError, match=r"\.\[tensorboard\]"):
        require_tensorboard()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(PresnetError, match=r"\.\[export\]"):
        export_onnx(torch.nn.Identity(), tmp_path / "m.onnx", 8)


def test_curvature_and_entropy_have_their_own_tags(tiny):
    run = RunDir.create(tiny())
    events = [
        _epoch(1, 0.5),
        _epoch(2, 0.8).model_copy(update={"curvature": 0.25, "entropy": {"1": {"kernel": 0.72}}}),
    ]
    run.events_file.write_text("".join(e.model_dump_json() + "\n" for e in events))
    assert CliRunner().invoke(app, ["tensorboard", str(run.path)]).exit_code == 0
    acc = EventAccumulator(str(run.path / "tensorboard"))
    acc.Reload()
    assert [(s.step, s.value) for s in acc.Scalars("search/curvature")] == [(2, 0.25)]  # epoch 1: none measured
    assert acc.Scalars("entropy/1/kernel")[0].value == pytest.approx(0.72)


def test_the_perturbation_readout_has_its_own_tags(tiny):
    from core.run.readout import DecisionReadout, PerturbationReadout, PinnedScore

    r = DecisionReadout(argmax="3", scores={"3": PinnedScore(top1=50, loss=1), "5": PinnedScore(top1=62.5, loss=0.9)})
    read = PerturbationReadout(images=8, top1=50, loss=1, decisions={"1": {"kernel": r}})
    run = RunDir.create(tiny())
    events = [_epoch(1, 0.5), _epoch(2, 0.8).model_copy(update={"perturbation": read})]
    run.events_file.write_text("".join(e.model_dump_json() + "\n" for e in events))
    assert CliRunner().invoke(app, ["tensorboard", str(run.path)]).exit_code == 0
    acc = EventAccumulator(str(run.path / "tensorboard"))
    acc.Reload()
    assert [(s.step, s.value) for s in acc.Scalars("perturbation/1/kernel/5")] == [(2, 12.5)]
    assert acc.Scalars("perturbation/1/kernel/agrees")[0].value == 0.0
    assert acc.Scalars("perturbation/top1")[0].value == 50.0
