"""presnet's engine: no UI code lives here (no textual, typer or rich; no command-line parsing).

Front ends call :mod:`core.api` (runs, space, derive, ...), which builds a :class:`core.train.job.Job`
and hands back data; they read the typed events of :mod:`core.run.events` and steer a run through
:class:`core.run.control.Control`.  The layout, one
concern per subpackage:

- :mod:`core.space` -- the search space's vocabulary (scopes, block ids, kernels, activations,
  candidate names) and what is built from it: networks, ProxylessNAS mixed ops, architecture
  files, input-size geometry, candidate costs;
- :mod:`core.train` -- the search and retrain loops, their steps, data, devices, stop criterion,
  and a run directory's job;
- :mod:`core.run` -- a run directory: layout, events, control file, checkpoints, lock, and the
  process that runs a job in it;
- :mod:`core.scale` -- many runs (sweeps on local workers or Ray) and one run over many
  processes (torchrun);
- :mod:`core.results` -- what finished runs say: Table I and its statistics, power, ground truth;
- :mod:`core.perf` -- the benchmark;
- :mod:`core.api` -- the service layer front ends call (one module per concern);
- :mod:`core.export` -- the found model as a plain module, ONNX or a ``torch.export`` program;
- :mod:`core.config`, :mod:`core.errors`, :mod:`core.io`, :mod:`core.faults` -- shared by all.

``core.load_model`` is the one name exported here, loaded lazily so that ``import core`` needs no torch.
"""

from core.lazy import lazy_api

__getattr__, __all__ = lazy_api(__name__, {"load_model": "export"})
