"""Training: the search and retrain loops, their steps, data and devices, and a run's job.

- :mod:`.job`: a run directory's work -- search, derive, retrain -- and how to continue it;
  :mod:`.runner`: a job on a background thread, steered through its control;
- :mod:`.loop`: the skeleton both loops share; :mod:`.search_loop`, :mod:`.retrain_loop`: the loops;
- :mod:`.collectives`: the other ranks, as a strategy (no-ops with one process), over :mod:`.dist_ops`;
- :mod:`.step`: one weight or architecture step (the loops and the benchmark share them);
- :mod:`.data`, :mod:`.pipeline`: datasets, the seeded split and the on-device augmentation;
- :mod:`.device`, :mod:`.convergence` (the stop criterion), :mod:`.preflight` (checks before the
  first step), :mod:`.seeds` (the run seed's streams).

Front ends call :mod:`core.api`, not these modules.
"""
