"""The Textual app (``presnet tui``): its screens, widgets and stylesheet, and the session that watches a run."""
