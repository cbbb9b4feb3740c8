"""Every script's ``--help`` prints its usage and exits 0, writing nothing (issue 39: one of them made a
folder named ``--help``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import REPO, child_env

SCRIPTS = sorted((REPO / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_help_prints_usage_and_writes_nothing(script, tmp_path):
    done = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=tmp_path, env=child_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:") and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []
