"""Scale-out through existing engines: many runs (local worker processes or Ray tasks), or one
search over several processes (torchrun).

- :mod:`.sweep`: scopes x seeds (+ baselines, + random architectures, :mod:`.random_arch`) as
  ordinary run directories, and its manifest;
- :mod:`.placement`: where a sweep's runs execute (Table I over the finished runs is
  :mod:`core.results`, which reads what this package launches);
- :mod:`.distributed`: the torchrun launcher (the collectives themselves sit below, in core.train).
"""
