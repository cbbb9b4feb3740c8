"""Training: the search and retrain loops, their steps, data and devices, and a run's job.

Public API (imported lazily, so ``import core.train`` stays light):

- :class:`Job`, :class:`JobResult`, :func:`resume_job`, :func:`derive_at` (:mod:`.job`): a run
  directory's work -- search, derive, retrain -- and how to continue it;
- :class:`Runner` (:mod:`.runner`): a job on a background thread, steered through its control;
- :class:`SearchEngine` (:mod:`.search_loop`), :class:`RetrainEngine` (:mod:`.retrain_loop`): the two loops
  on one skeleton (:mod:`.loop`), emitting typed events; the other ranks through :mod:`.collectives`;
- :func:`train_step`, :func:`arch_step` (:mod:`.step`): one weight or architecture step (the
  engine and the benchmark share them);
- :func:`load_search_data` (:mod:`.data`), :func:`make_loaders` (:mod:`.pipeline`): datasets,
  the seeded split and the on-device augmentation;
- :func:`resolve_device`, :func:`precision_for`, :func:`configure_torch` (:mod:`.device`);
- :class:`ConvergenceTracker` (:mod:`.convergence`): the stop criterion;
- :mod:`.preflight` (checks before the first step) and :mod:`.seeds` (the run seed's streams).
"""

from __future__ import annotations

from core.lazy import lazy_api

_API = {
    "Job": "job",
    "JobResult": "job",
    "resume_job": "job",
    "derive_at": "job",
    "Runner": "runner",
    "SearchEngine": "search_loop",
    "RetrainEngine": "retrain_loop",
    "train_step": "step",
    "arch_step": "step",
    "load_search_data": "data",
    "make_loaders": "pipeline",
    "resolve_device": "device",
    "precision_for": "device",
    "configure_torch": "device",
    "ConvergenceTracker": "convergence",
}
__getattr__, __all__ = lazy_api(__name__, _API)
