"""Snapshot tests of fixed TUI states, fed with fixed events (pytest-textual-snapshot).

Regenerate after an intended visual change with: python -m pytest tests/tui/test_snapshots.py --snapshot-update -n 0
"""

from __future__ import annotations

import math

from core.config import quickstart
from core.run.events import (
    Alphas,
    ArchitectureDerived,
    EpochEnd,
    Progress,
    RetrainDone,
    RetrainEpochEnd,
    RetrainStarted,
    SearchStarted,
    SearchStopped,
    Unstable,
)
from core.train.convergence import ConvergenceTracker
from presnet_tui.app.screens.retrain import RetrainScreen
from presnet_tui.app.screens.search import SearchScreen
from presnet_tui.app.screens.setup import SetupScreen
from tests.tui_hosts import REPO, FixedSession, Host, settle

BLOCKS = [1, 2, 3]
ACTS = ["relu", "leakyrelu", "mish"]


def alphas_at(t: float) -> dict:
    """Smooth, fixed trajectories: block 1 settles on 5x5/mish, the others drift."""
    out = {}
    for b in BLOCKS:
        k5 = 0.5 + 0.4 * math.tanh((t - 2) / (1.5 * b)) * (1 if b == 1 else -0.5)
        logits = [0.2 * b * math.sin(t / 2), 0.1 * t / b, 0.3 * t / b]
        z = [math.exp(v) for v in logits]
        out[str(b)] = {
            "kernel": {"3": round(1 - k5, 6), "5": round(k5, 6)},
            "activation": {a: round(v / sum(z), 6) for a, v in zip(ACTS, z)},
        }
    return out


def search_events(epochs: int = 8) -> list:
    cfg = quickstart().model_dump(mode="json")
    events = [
        SearchStarted(
            config=cfg,
            block_ids=BLOCKS,
            stages={"1": 4, "2": 4, "3": 4},
            candidates={"kernel": ["3", "5"], "activation": ACTS},
            params=2_713_769,
            num_classes=10,
            steps_per_epoch=16,
            epochs=12,
            device="cpu",
        )
    ]
    search = cfg["search"]  # the engine's stop criterion says which decisions are settled (epoch_end's field)
    tracker = ConvergenceTracker(search["patience"], search["margin"], search.get("threshold"))
    for e in range(1, epochs + 1):
        tracker.update(e, alphas_at(e))
        for step in (4, 8, 12):
            events.append(
                Alphas(
                    epoch=e, step=step, steps_per_epoch=16, arch_step=e * 16 + step, alphas=alphas_at(e - 1 + step / 16)
                )
            )
        events.append(
            EpochEnd(
                epoch=e,
                epochs=12,
                phase="search",
                train_loss=2.3 / e,
                train_top1=1 - 0.9 / e,
                val_loss=2.4 / e,
                val_top1=1 - 0.95 / e,
                lr=0.05,
                elapsed_s=3.0 * e,
                alphas=alphas_at(e),
                settled=tracker.settled_map(),
            )
        )
    events.append(Unstable(epoch=6, block=3, decision="activation", was="relu", now="mish"))
    events.append(
        Progress(phase="search", epoch=epochs, epochs=12, step=16, steps_per_epoch=16, images_per_s=412.0, eta_s=75.0)
    )
    return events


def test_search_screen_block_view(snap_compare):
    app = Host(lambda: SearchScreen(FixedSession(search_events())))
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_search_screen_overview_wide(snap_compare):
    app = Host(lambda: SearchScreen(FixedSession(search_events())))

    async def overview(pilot):
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 36), run_before=overview)


def test_retrain_screen_done(snap_compare):
    arch = {
        "blocks": {
            "1": {"kernel": 5, "activation": "mish"},
            "2": {"kernel": 3, "activation": "relu"},
            "3": {"kernel": 3, "activation": "leakyrelu"},
        },
        "stem": "imagenet",
        "width_mult": 0.25,
        "depths": [3, 4, 6, 3],
        "num_classes": 10,
    }
    events = [
        SearchStopped(epoch=8, reason="user"),
        ArchitectureDerived(epoch=8, architecture=arch, params=1_748_250, path="runs/demo/arch.json"),
        RetrainStarted(epochs=6, params=1_748_250, baseline_params=1_486_106, steps_per_epoch=22, architecture=arch),
    ]
    for e in range(1, 7):
        events.append(
            RetrainEpochEnd(
                epoch=e,
                epochs=6,
                train_loss=2.0 / e,
                train_top1=1 - 0.8 / e,
                val_loss=2.1 / e,
                val_top1=1 - 0.85 / e,
                lr=0.05,
                elapsed_s=2.0 * e,
            )
        )
    events.append(
        RetrainDone(epochs=6, test_top1=0.84, val_top1=1 - 0.85 / 6, params=1_748_250, weights="runs/demo/weights")
    )
    app = Host(lambda: RetrainScreen(FixedSession(events)))
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_setup_screen(snap_compare):
    app = Host(lambda: SetupScreen(quickstart(), REPO / "sample_configs"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)
