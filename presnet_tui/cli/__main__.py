"""``python -m presnet_tui.cli``: the ``presnet`` command from a source checkout (workers, tests, scripts)."""

from presnet_tui.cli import main

main()
