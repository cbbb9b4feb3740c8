"""Issue 39: a run's own records are changed only by the run.  A refused writer leaves ``run.lock`` byte
for byte as it was; a finished run is refused by ``resume`` and ``tui --resume`` in one line, exit 2; a
resume keeps the ``suspended`` line of the history it cuts back; ``retrain_done`` is the last word, after
summary.json has the retrain's section."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.run.events import EventBus, JsonlSink, RetrainDone, SpaceWarning, Suspended, read_events, repair_events
from core.run.rundir import RunDir
from tests.support import REPO, invoke

FIXTURE = REPO / "tests" / "fixtures" / "run-main-d8e0b70"
LAST_OWNER = b'{"pid": 4242, "host": "node-7", "since": "2026-01-02 03:04:05 UTC", "command": "presnet run"}\n'


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    """A finished run (search, architecture, retrain: summary and events), with its last owner's record."""
    run = tmp_path / "done"
    shutil.copytree(FIXTURE, run)
    (run / "run.lock").write_bytes(LAST_OWNER)
    return run


def one_line(res) -> str:
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:"), res.stdout + res.stderr
    return lines[0]


def test_a_refused_second_writer_leaves_run_lock_byte_identical(finished, tmp_path):
    files = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
    line = one_line(invoke("run", "--headless", "--out", finished))
    assert "already holds a run" in line
    line = one_line(invoke("resume", finished, "--headless"))
    assert "has finished" in line and "nothing to resume" in line
    assert {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()} == files  # run.lock included


def test_resume_of_a_finished_run_is_refused_in_the_tui_as_headless(finished, monkeypatch, no_run):
    from presnet_tui.cli import terminal

    monkeypatch.setattr(terminal, "has_terminal", lambda: True)
    for args in (["tui", "--resume", finished], ["resume", finished], ["resume", finished, "--headless"]):
        line = one_line(invoke(*args))
        assert "has finished (its retrain is done)" in line and str(finished) in line, args
    assert (finished / "run.lock").read_bytes() == LAST_OWNER


def test_a_resume_keeps_the_suspended_line_of_the_history_it_cuts(tmp_path):
    path = tmp_path / "events.jsonl"
    bus = EventBus()
    sink = JsonlSink(path)
    bus.subscribe(sink)
    bus.emit(SpaceWarning(message="before the checkpoint", where="x"))
    offset = sink.offset  # the checkpoint's view
    bus.emit(Suspended(phase="search", epoch=2, step=3, by="SIGTERM", checkpoint="c.pt"))
    sink.close()
    with open(path, "ab") as f:
        f.write(b'{"kind": "alph')  # and a torn line after it
    repair_events(path, offset)
    kinds = [e.kind for e in read_events(path)]
    assert kinds == ["warning", "suspended"]
    assert path.read_bytes().endswith(b"\n")


def test_a_finished_run_killed_before_its_closing_event_is_not_finished(finished):
    """summary.json has the retrain, the event file not yet its ``retrain_done``: resumable, not refused."""
    from core.api.steer import finished as finished_as

    assert finished_as(RunDir.open(finished)) == "retrain"
    events = finished / "events.jsonl"
    lines = [line for line in events.read_text().splitlines() if '"retrain_done"' not in line]
    events.write_text("\n".join(lines) + "\n")
    assert finished_as(RunDir.open(finished)) is None


def test_retrain_done_comes_after_the_summary_has_the_retrain(synthetic, start):
    seen = {}

    def look(event, control, run):
        if isinstance(event, RetrainDone):
            seen["retrain"] = run.summary().retrain

    runner, run, events = start(synthetic(epochs=2), on_event=look)
    assert runner.wait(120).status == "done"
    assert seen["retrain"] is not None and seen["retrain"].test_top1 == run.summary().retrain.test_top1
    assert [e.kind for e in events][-1] == "retrain_done"
    assert json.loads(run.summary_file.read_text())["retrain"]["epochs"] == 1
