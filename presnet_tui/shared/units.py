"""Numbers as the front ends print them: FLOPs, parameters and latencies with their unit.

Formatting lives here, not in core: core returns counts; how a count reads is the front end's choice.
"""

from __future__ import annotations


def human(value: float, metric: str = "flops") -> str:
    """1.23 GFLOPs, 4.56M params, 789 us."""
    if metric == "latency":
        return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.0f} us"
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            v = value / scale
            return f"{v:.2f} {prefix}FLOPs" if metric == "flops" else f"{v:.2f}{prefix} params"
    return f"{value:.0f} FLOPs" if metric == "flops" else f"{value:.0f} params"
