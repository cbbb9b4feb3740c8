"""Scale-out through existing engines: many runs (local worker processes or Ray tasks), or one
search over several processes (torchrun).

- :mod:`.sweep`: scopes x seeds as ordinary run directories, and its manifest;
- :mod:`.placement`: where a sweep's runs execute; :mod:`.table`: Table I over finished runs;
- :mod:`.distributed`: the torchrun launcher (the collectives themselves sit below, in core.train).
"""
