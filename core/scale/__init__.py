"""Scale-out through existing engines: many runs (local worker processes or Ray tasks), or one
search over several processes (torchrun).

- :mod:`.sweep`: scopes x seeds (+ baselines, + random architectures, :mod:`.random_arch`) as
  ordinary run directories, and its manifest;
- :mod:`.placement`: where a sweep's runs execute; :mod:`.table`: Table I over finished runs, with
  the statistics of :mod:`.stats` (intervals, RI over random, permutation p-value);
- :mod:`.distributed`: the torchrun launcher (the collectives themselves sit below, in core.train).
"""
