"""presnet's front ends: the ``presnet`` CLI (Typer + rich) and the ``presnet-tui`` Textual app.

They talk to :mod:`core` only through its public API and its events.
"""
