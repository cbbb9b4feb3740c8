"""What ``auto`` chose for a run's speed settings, and why: the typed record a loop measures
(:mod:`core.train.autotune`), its started event carries and ``summary.json`` keeps.

One record per loop (the search's network and the retrain's differ, and so may their fastest
settings).  A resumed loop reuses the record in its checkpoint instead of measuring again, so that
an interrupted run continues with the very settings (and numerics) it started with.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: measured: timed each way; kept: timed so by an earlier run of the same workload on this machine and
#: reused (core.train.tuning_cache: a seed gives one result here); explicit: the user's choice (nothing
#: timed); fixed: not measured, and why
How = Literal["measured", "kept", "explicit", "fixed"]


class TunedSetting(BaseModel):
    """One setting (``channels_last``, ``amp``, ``compile``): its value and how it was reached."""

    name: str
    choice: str
    how: How
    #: median seconds per step of each option tried (measured only), e.g. {"off": 0.31, "on": 0.21}
    seconds: dict[str, float] = Field(default_factory=dict)
    note: str = ""  #: why, in words (the reason a setting was fixed, the compile's cost and payoff)

    def line(self) -> str:
        """``channels_last on (measured: on 0.210 s, off 0.310 s per step)``."""
        if self.how in ("measured", "kept") and self.seconds:
            times = ", ".join(f"{k} {v:.3f} s" for k, v in sorted(self.seconds.items(), key=lambda kv: kv[1]))
            extra = f"; {self.note}" if self.note else ""
            return f"{self.name} {self.choice} ({self.how}: {times} per step{extra})"
        why = f": {self.note}" if self.note else ""
        return f"{self.name} {self.choice} ({self.how}{why})"


class Tuning(BaseModel):
    """Every tuned setting of one loop, and the seconds the measuring itself took."""

    settings: list[TunedSetting] = Field(default_factory=list)
    measure_s: float = 0.0  #: wall time spent measuring (the price of ``auto``)

    def get(self, name: str) -> TunedSetting | None:
        return next((s for s in self.settings if s.name == name), None)

    def choice(self, name: str) -> str | None:
        s = self.get(name)
        return None if s is None else s.choice

    def line(self) -> str:
        """One log line: every setting, then what measuring cost."""
        cost = f" · measuring took {self.measure_s:.1f} s" if self.measure_s else ""
        return " · ".join(s.line() for s in self.settings) + cost
