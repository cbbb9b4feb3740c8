"""Where the loops used to live, kept so that older imports still resolve.

The skeleton and its parts are in :mod:`core.train.loop`, the search in
:mod:`core.train.search_loop`, the retrain in :mod:`core.train.retrain_loop`.
"""

from __future__ import annotations

from core.space.network import net_spec
from core.train.loop import Diverged, DivergenceWatch, Interrupted, Loop, Meter, ProgressClock, evaluate, sgd
from core.train.retrain_loop import RetrainEngine, RetrainOutcome, retrain_fingerprint
from core.train.search_loop import SearchEngine, SearchOutcome, search_fingerprint

__all__ = [
    "Diverged",
    "DivergenceWatch",
    "Interrupted",
    "Loop",
    "Meter",
    "ProgressClock",
    "RetrainEngine",
    "RetrainOutcome",
    "SearchEngine",
    "SearchOutcome",
    "evaluate",
    "net_spec",
    "retrain_fingerprint",
    "search_fingerprint",
    "sgd",
]
