"""The one fold of the event stream (core.run.state): every event type has its own small reducer,
and the TUI's model, the headless view and derive all read the state it builds."""

from __future__ import annotations

import io
import shutil
import typing

from rich.console import Console

from core.api.derive import derive, snapshots_of_state
from core.run.events import AnyEvent, EpochEnd, SearchStarted
from core.run.rundir import RunDir
from core.run.state import _REDUCERS, RunState, fold, reduce
from presnet_tui.cli.views.headless import _LINES, HeadlessView
from presnet_tui.shared.model import RunModel
from tests.support import REPO

OLD_RUN = REPO / "tests" / "fixtures" / "run-main-d8e0b70"  # written by the code before issue 30


def test_every_event_type_has_exactly_one_reducer():
    assert set(typing.get_args(AnyEvent)) == set(_REDUCERS)


def test_the_fold_of_a_recorded_run_holds_its_facts(tmp_path):
    run = RunDir.open(shutil.copytree(OLD_RUN, tmp_path / "run"))
    state = fold(run.events())
    assert state.search_done and state.stop_reason == "completed" and state.epochs_done == 3
    assert sorted(state.epoch_ends) == [1, 2, 3] and state.num_classes == 10
    assert state.architecture is not None and state.confidence is not None and state.retrain_done is not None
    assert state.arch_steps and max(state.arch_steps.values()) > 0
    # derive reads the same state: from the fold or from the run directory, one architecture
    assert derive(snapshots_of_state(state, str(run.path))).blocks == derive(run).blocks


def test_a_resume_drops_the_epochs_it_redoes():
    state = RunState()
    start = {"config": {}, "block_ids": [1], "stages": {"1": 4}, "candidates": {}, "params": 1, "num_classes": 2}
    start |= {"steps_per_epoch": 1, "epochs": 5, "device": "cpu"}
    end = {"epochs": 5, "phase": "search", "lr": 0.1, "train_loss": 1.0, "train_top1": 0.5, "alphas": {}}
    end |= {"val_loss": None, "val_top1": None, "elapsed_s": 1.0}
    reduce(state, SearchStarted(**start))
    for epoch in (1, 2, 3):
        reduce(state, EpochEnd(epoch=epoch, **end))
    reduce(state, SearchStarted(**start, start_epoch=3, resumed=True))
    assert sorted(state.epoch_ends) == [1, 2] and not state.search_done


def test_the_views_are_fed_by_the_reducer(tmp_path):
    events = RunDir.open(shutil.copytree(OLD_RUN, tmp_path / "run")).events()
    model, view = RunModel(), HeadlessView(Console(file=io.StringIO(), width=200))
    for e in events:
        model.apply(e)
        view.handle(e)
    assert isinstance(model, RunState) and model.epochs_done == view.state.epochs_done == 3
    assert model.search_curves.epochs == [1.0, 2.0, 3.0] and model.trajectory is not None
    printed = view.console.file.getvalue()
    assert "search stopped after 3 epochs (completed)" in printed and "retrain   1/1" in printed
    assert all(callable(fn) for fn in _LINES.values())
