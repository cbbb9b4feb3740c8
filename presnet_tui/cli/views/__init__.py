"""What the CLI prints and draws: the headless run log, Table I, the figures, the bench and plan tables."""
