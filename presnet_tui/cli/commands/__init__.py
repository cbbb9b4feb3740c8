"""The ``presnet`` commands, one module per concern; importing this package registers them all on
:data:`~presnet_tui.cli.commands.common.app`.

- :mod:`.runs` -- run, search, retrain, baseline, resume (write a run directory), stop;
- :mod:`.listing` -- ls: the runs under a folder and their states;
- :mod:`.sweep` -- many runs: scopes x seeds on local workers or Ray;
- :mod:`.results` -- plot and compare finished runs;
- :mod:`.describe` -- inspect, derive, config show/check;
- :mod:`.deploy` -- export, latency, tensorboard;
- :mod:`.bench` -- the benchmark and the GPU suite;
- :mod:`.plan` -- what each scope will cost here, before it is spent;
- :mod:`.tui` -- the Textual app;
- :mod:`.serve` -- the Textual app in a browser (textual-serve).
"""

from presnet_tui.cli.commands.common import app

# Plain imports, so the layer test sees them; registration order is ``presnet --help``'s order.
# isort: off
from presnet_tui.cli.commands import runs, listing, sweep, results, describe, deploy, bench, plan, tui, serve  # noqa: F401, E402
# isort: on

__all__ = ["app"]
