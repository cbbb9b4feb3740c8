"""Scale-out through existing engines: many runs (local worker processes or Ray tasks), or one
search over several processes (torchrun and ``torch.distributed``).

Public API (imported lazily; Ray itself only when a sweep asks for it):

- :class:`Sweep` (:mod:`.sweep`): scopes x seeds (+ baselines, + random architectures) as ordinary
  run directories, and its manifest; :mod:`.random_arch` draws the random architectures;
- :func:`choose_placement`, :func:`run_placed` (:mod:`.placement`): where a sweep's runs execute;
- :func:`collect`, :func:`table_rows` (:mod:`.table`): Table I over finished runs and sweeps, with
  the statistics of :mod:`.stats` (intervals, RI over random, permutation p-value);
- :mod:`.distributed`: process group, rank info, gradient and gate averaging, the launcher.
"""

from __future__ import annotations

from core.lazy import lazy_api

_API = {
    "Sweep": "sweep",
    "choose_placement": "placement",
    "run_placed": "placement",
    "run_local": "placement",
    "run_ray": "placement",
    "collect": "table",
    "table_rows": "table",
}
__getattr__, __all__ = lazy_api(__name__, _API)
