"""The distribution strategy: one process gets no-op collectives, and training sits below scale."""

from __future__ import annotations

import ast

import torch
from torch import nn

from core.run.control import Control
from core.train.collectives import SingleProcess, collectives
from core.train.meters import Meter
from tests.support import REPO


def test_one_process_gets_the_no_op_strategy_whose_calls_change_nothing():
    coll = collectives()
    assert isinstance(coll, SingleProcess)
    assert (coll.rank, coll.world_size, coll.is_main) == (0, 1, True)
    t = torch.tensor([1.0, -2.0])
    for op in ("sum", "max", "mean"):
        coll.all_reduce(t, op)  # type: ignore[arg-type]
    assert t.tolist() == [1.0, -2.0]
    meter = Meter(torch.device("cpu"))
    meter.add(torch.tensor(2.0), torch.tensor([[0.0, 1.0]]), torch.tensor([1]))
    coll.fold(meter)
    assert meter.result() == (2.0, 1.0)
    model = nn.Linear(2, 2)
    assert coll.place(model, torch.device("cpu"), sync_bn=True) is model
    assert coll.gradient_hook(list(model.parameters())) is None and coll.gate_hook() is None
    assert coll.loss_reducer() is None
    assert coll.digests(model, "end") == []  # nothing to compare with one rank
    assert coll.gather({"a": 1}) == [{"a": 1}] and coll.on_main(lambda: 7) == 7
    control = Control()
    assert coll.control(control, torch.device("cpu")) is control
    coll.agree(list(model.parameters()), "weights", "here")  # one rank always agrees
    coll.barrier()


def test_meter_reset_starts_a_new_epoch():
    meter = Meter(torch.device("cpu"))
    meter.add(torch.tensor(1.0), torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    meter.reset()
    assert meter.result() == (None, None) and meter.n == 0


def test_training_does_not_import_the_scale_layer_above_it():
    for path in sorted((REPO / "core" / "train").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(n.startswith("core.scale") for n in names), path
