"""presnet's engine: search space, ProxylessNAS, data, search and retrain loops, events.

No UI code lives here (and none of textual, typer or rich is imported): front ends build a
:class:`core.job.Job`, run it on a :class:`core.runner.Runner`, read the typed events of
:mod:`core.events` and steer it through :class:`core.control.Control`.
"""
