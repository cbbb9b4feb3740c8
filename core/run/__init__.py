"""A run directory and what passes through it: its layout, events, control file, checkpoints, lock.

Everything needed to watch or steer a run from another process lives here; none of it trains
anything: :mod:`.rundir` (the layout, the one owner of the file names), :mod:`.events` (typed
events, one JSON line each), :mod:`.control` (stop, stop-at-epoch, pause, continue, interrupt),
:mod:`.lock` (one writer per run directory), :mod:`.checkpoint`, :mod:`.tensorboard`.
"""
