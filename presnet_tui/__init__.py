"""presnet's front ends, one folder each: ``cli/`` (the ``presnet`` command: Typer commands and what
they print), ``app/`` (the ``presnet-tui`` Textual app), ``web/`` (the app in a browser tab) and
``shared/`` (what the CLI and the app both read and format).

They talk to :mod:`core` only through its public API and its events (``tests/test_layers.py``).
"""
