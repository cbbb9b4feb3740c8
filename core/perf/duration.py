"""A wall-time budget as the user writes it (``8h``, ``90m``): read before torch loads, so that a budget
presnet cannot read is refused in one line in under a second."""

from __future__ import annotations

import re

from core.errors import PresnetError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str, where: str = "--budget") -> float:
    """``8h``, ``90m``, ``1.5d``, ``3600s`` or ``3600`` (seconds) as seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if m is None or float(m.group(1)) <= 0:
        raise PresnetError(
            f"cannot read {text!r} as a duration", where=where, hint="give a positive number with s, m, h or d, e.g. 8h"
        )
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]
