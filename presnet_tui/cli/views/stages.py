"""How a progressive search's stages read in the headless log (stage starts and ends, what each froze)."""

from __future__ import annotations

from core.run.events import StageEnd, StageStart
from core.space import JOINT_DECISION


def frozen_label(decisions: dict[str, str]) -> str:
    """``5x5 mish`` (both decisions frozen), ``5x5`` or ``mish`` (one), ``3x3/relu`` (joint)."""
    if JOINT_DECISION in decisions:
        return decisions[JOINT_DECISION]
    kernel = decisions.get("kernel")
    parts = [f"{kernel}x{kernel}" if kernel else "", decisions.get("activation", "")]
    return " ".join(p for p in parts if p)


def stage_line(e: StageStart) -> str:
    scope = e.scope if isinstance(e.scope, str) else ",".join(map(str, e.scope))
    new = f", new {e.new_blocks}" if e.stage > 1 else ""
    warm = f", warm-up {e.warmup_epochs}" if e.warmup_epochs else ""
    return f"scope {scope}, blocks {e.blocks}{new}{warm}"


def stage_end_line(e: StageEnd) -> str:
    frozen = "; ".join(f"{b}: {frozen_label(d)}" for b, d in sorted(e.frozen.items(), key=lambda x: int(x[0])))
    return f"{e.reason} · froze {frozen or 'nothing'} · open {e.open or 'none'}"
