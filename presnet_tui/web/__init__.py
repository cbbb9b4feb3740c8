"""The app in a browser (``presnet serve``): textual-serve behind a per-server token."""
