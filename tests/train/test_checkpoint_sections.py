"""The checkpoint's typed sections (core.train.checkpoints) read a checkpoint written by main 7ccfc44
and lay it out again key for key; a key an older checkpoint lacks takes its section's default."""

from __future__ import annotations

import torch

from core.train.checkpoints import RetrainCheckpoint, SearchCheckpoint
from tests.fixtures.make_resume_fixtures import OUT


def _load(name: str, kind: str) -> dict:
    return torch.load(OUT / name / "checkpoints" / f"{kind}.pt", map_location="cpu", weights_only=True)


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_a_search_checkpoint_of_main_7ccfc44_reads_into_sections_and_back_unchanged():
    for name in ("search", "progressive"):
        raw = _load(name, "search")
        ckpt = SearchCheckpoint.of(raw)
        assert ckpt.head.header.epoch_done == 2 and (ckpt.stages is not None) == (name == "progressive")
        again = ckpt.payload()
        assert again.keys() == raw.keys() - {"format"}  # format is save_checkpoint's
        assert all(_same(again[k], raw[k]) for k in again), name
    probes = SearchCheckpoint.of(_load("search", "search")).probes
    assert probes.search_epochs == 1 and [e for e, _ in probes.curvatures] == [2] and list(probes.readouts) == [2]


def test_a_retrain_checkpoint_of_main_7ccfc44_reads_into_sections_and_back_unchanged():
    raw = _load("retrain", "retrain")
    ckpt = RetrainCheckpoint.of(raw)
    assert ckpt.head.header.kind == "retrain" and not ckpt.head.header.finished and ckpt.retrain.test_top1 is None
    again = ckpt.payload()
    assert again.keys() == raw.keys() - {"format"} and all(_same(again[k], raw[k]) for k in again)


def test_keys_an_older_checkpoint_lacks_take_the_sections_defaults():
    raw = _load("search", "search")
    for key in ("arch_scaler", "prev_alphas", "rules", "tuning", "rank_meters"):
        del raw[key]
    ckpt = SearchCheckpoint.of(raw)
    assert ckpt.strategy.arch_scaler is None and ckpt.stop.prev_alphas is None and ckpt.stop.snapshots == {}
    assert ckpt.probes.search_epochs == 0 and ckpt.probes.schedule is None and ckpt.head.tuning is None
    assert ckpt.head.own_meters(0) is None
    old = _load("retrain", "retrain")
    old["last_top1"] = old.pop("test_top1") or 0.25  # how a finished retrain named its test top-1 once
    section = RetrainCheckpoint.of(old).retrain
    assert section.final_top1 == 0.25 and "legacy_top1" not in RetrainCheckpoint.of(old).payload()
