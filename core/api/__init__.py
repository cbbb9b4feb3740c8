"""The service layer: what front ends (the Typer CLI, the Textual app, scripts) call.

One module per concern (runs, space, sweeps, results, plan, ...). Each function takes typed
values (a ``Config``, paths, ints), never CLI strings, and returns data (dataclasses) that the
front end renders; nothing here prints, parses argv or names a front end.
"""
