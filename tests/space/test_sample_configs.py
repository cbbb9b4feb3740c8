"""Every sample config searches real choices at its input size, and leaves the search some
architecture steps (a config where either fails would produce the plain network, labelled searched)."""

from __future__ import annotations

import pytest

from core.config import load_config
from core.space.geometry import check_void_kernels
from tests.support import REPO

CONFIGS = sorted((REPO / "sample_configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_sample_config_searches_real_choices(path):
    cfg = load_config(path)  # validation: warm-up shorter than the search, a stop after it
    assert cfg.search.warmup_epochs < cfg.search.epochs
    assert check_void_kernels(cfg) is None, f"{path.name}: {check_void_kernels(cfg)}"


def test_the_embedded_quickstart_matches_its_file():
    assert load_config(None).model_dump() == load_config(REPO / "sample_configs" / "quickstart.yaml").model_dump()
