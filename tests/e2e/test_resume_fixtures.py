"""Run directories killed by main 7ccfc44 (before the search became a strategy over typed checkpoint
sections, issue 38) still open and resume to the very result that code gave them.

The fixtures (tests/fixtures/resume-main-7ccfc44, made by its make_resume_fixtures.py): a direct search
killed mid-epoch 3 with the probes' state in its checkpoint, the same run killed mid-retrain, and a
progressive search killed mid-stage 2 (its checkpoint rebuilds the frozen and widened network).
``expected.json`` is what main 7ccfc44 gave when it resumed each one (equal to an uninterrupted run).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.fixtures.make_resume_fixtures import OUT, outcome
from tests.support import finish, spawn

EXPECTED = json.loads((OUT / "expected.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["search", "retrain", "progressive"])
def test_a_run_killed_by_main_7ccfc44_resumes_to_the_result_that_code_gave(name: str, tmp_path: Path) -> None:
    run = tmp_path / name
    shutil.copytree(OUT / name, run)
    code, err = finish(spawn(["resume", run, "--headless"]))
    assert code == 0, err
    got = json.loads(json.dumps(outcome(run)))  # tuples as lists, as expected.json has them
    assert got == EXPECTED[name]
