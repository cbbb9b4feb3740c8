"""The setup screen's network count, in a helper process: it needs torch, and torch must not load in the app.

Importing torch takes seconds (tens of seconds on a loaded machine) and holds the interpreter while it
does: done on a thread of the app, a ``q`` pressed meanwhile waited for it (19 s, BENCHMARKS.md).  So the
count runs in a child process that reads one config per line (JSON) on stdin and answers one line of
facts on stdout; the app stays free of torch and quits at once, and the child ends when its stdin
closes (the app gone, whatever way).  ``python -m presnet_tui.app.facts`` is that child.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING

from core.config import Config
from core.errors import PresnetError

if TYPE_CHECKING:
    from core.api.space import SpaceReport


def space_facts(report: SpaceReport) -> str:
    """Facts about a choice of scope and candidates, as one short paragraph, with the FLOPs range of
    the space's architectures at the form's input size."""
    from presnet_tui.shared.units import human

    f, flops = report.facts, report.flops
    return (
        f"stages {', '.join(map(str, f.stages))} · {len(f.block_ids)} search blocks "
        f"({', '.join(map(str, f.block_ids))})\n"
        f"{f.architectures:,} architectures · super-network {f.supernet_params:,} params (plain {f.baseline_params:,})"
        f"\nFLOPs at {report.image_size} px: {human(flops.min)} to {human(flops.max)} (plain {human(flops.baseline)})"
    )


class FactsHelper:
    """The child process, started on the first question; questions from several threads take turns."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def ask(self, config: Config) -> str:
        """The facts paragraph for ``config`` (or the one line saying why it cannot be counted)."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "presnet_tui.app.facts"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            stdin, stdout = self._pipes()
            stdin.write(json.dumps(config.model_dump(mode="json")) + "\n")
            stdin.flush()
            line = stdout.readline()
        if not line:
            return "cannot count the network: the helper process ended"
        return str(json.loads(line)["text"])

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
        return self._proc.stdin, self._proc.stdout


#: One helper per app process.
FACTS = FactsHelper()


def main() -> None:
    """The child: one config (JSON) per line in, one ``{"text": ...}`` per line out, until stdin closes."""
    from core.api.space import space_report

    for line in sys.stdin:
        try:
            text = space_facts(space_report(Config.model_validate(json.loads(line))))
        except PresnetError as err:
            text = f"cannot count the network: {err.line()}"
        sys.stdout.write(json.dumps({"text": text}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
