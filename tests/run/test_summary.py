"""summary.json through one model (core.run.summary.RunSummary): a run directory written by the
code before the model existed still opens, reads the same, and is written back in its own shape."""

from __future__ import annotations

import json
import shutil

import pytest

from core.errors import PresnetError
from core.results.table import run_result
from core.run.rundir import RunDir
from core.run.summary import RunSummary, read_summary
from tests.support import REPO

OLD_RUN = REPO / "tests" / "fixtures" / "run-main-d8e0b70"  # written by main d8e0b70 (before issue 30)


@pytest.fixture
def old_run(tmp_path) -> RunDir:
    return RunDir.open(shutil.copytree(OLD_RUN, tmp_path / "run"))


def test_an_old_summary_reads_as_its_json_says(old_run):
    raw = json.loads(old_run.summary_file.read_text())
    s = old_run.summary()
    assert s.search is not None and s.retrain is not None and not s.empty
    assert (s.search.epochs, s.search.stop_reason, s.search.decisions_total) == (3, "completed", 8)
    assert s.search.decisions == raw["search"]["decisions"] and s.retrain.test_top1 == raw["retrain"]["test_top1"]
    assert s.params == raw["params"] and s.architecture == raw["architecture"] and not s.baseline


def test_a_summary_is_written_back_in_its_own_shape_with_keys_the_model_does_not_name(old_run):
    raw = json.loads(old_run.summary_file.read_text())
    raw["search"]["from_a_newer_presnet"] = 7  # another helper's new field, say
    old_run.summary_file.write_text(json.dumps(raw))
    old_run.update_summary(world_size=2)
    again = json.loads(old_run.summary_file.read_text())
    assert again == {**raw, "world_size": 2}  # no default filled in, nothing dropped


def test_compare_reads_an_old_run(old_run):
    row = run_result(old_run)
    assert row.kind == "search" and row.top1 == old_run.summary().retrain.test_top1
    assert (row.settled, row.decisions) == (0, 8)


def test_no_summary_is_empty_and_a_broken_one_is_one_line(tmp_path):
    assert read_summary(tmp_path / "none.json").empty and RunSummary().empty
    bad = tmp_path / "summary.json"
    bad.write_text('{"retrain": {"test_top1": "high"}}')
    with pytest.raises(PresnetError, match="retrain.test_top1"):
        read_summary(bad)


#: The scalar keys of a search and a retrain checkpoint written by main d8e0b70 (the tensors left
#: out: 3 MB each), as read back from /tmp runs of tests/fixtures/run-main-d8e0b70's config.
OLD_HEADERS = {
    "search": {
        "kind": "search",
        "fingerprint": {"num_classes": 10, "stem": "imagenet", "width_mult": 0.125, "depths": [3, 4, 6, 3]},
        "epoch_done": 3,
        "step": 0,
        "global_step": 27,
        "arch_steps": 18,
        "elapsed": 6.33,
        "events_offset": 12020,
        "finished": True,
        "world_size": 1,
        "format": 1,
    },
    "retrain": {
        "kind": "retrain",
        "fingerprint": {"architecture": {"blocks": {}}},
        "epoch_done": 1,
        "step": 0,
        "global_step": 12,
        "last_top1": 0.1,
        "elapsed": 1.84,
        "stopped": False,
        "events_offset": 13778,
        "finished": True,
        "world_size": 1,
        "format": 1,
    },
}


@pytest.mark.parametrize("kind", ["search", "retrain"])
def test_an_old_checkpoints_header_reads_through_the_shared_model(kind):
    from core.run.checkpoint import CheckpointHeader

    head = CheckpointHeader.of(OLD_HEADERS[kind])
    assert head.kind == kind and head.finished and head.world_size == 1
    assert head.events_offset == OLD_HEADERS[kind]["events_offset"] and head.epoch_done >= 1
    written = set(head.model_dump())
    assert written <= set(OLD_HEADERS[kind])  # the shared model writes no key the old code did not
