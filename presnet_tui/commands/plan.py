"""``presnet plan``: what each scope will cost on this device and data (core.api.plan measures)."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from presnet_tui.commands.common import ConfigOpt, DeviceOpt, app, console, user_errors


def human(seconds: float) -> str:
    """``4.2s``, ``42s``, ``12.5m``, ``3.2h``, ``2.1d``: short, for an 80-column table."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"


@app.command()
def plan(
    config: ConfigOpt = None,
    device: DeviceOpt = None,
    budget: Annotated[str | None, typer.Option(help="wall-time budget, e.g. 8h, 90m, 2d")] = None,
    seeds: Annotated[int, typer.Option(help="seeds per scope in the sweep")] = 1,
    baseline: Annotated[bool, typer.Option("--baseline", help="the sweep also retrains plain ResNet-50")] = False,
    random: Annotated[int, typer.Option(help="random architectures retrained per scope and seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of the table")] = False,
) -> None:
    """Time a few search and retrain steps per scope here, and what a run and a sweep of each would take."""
    with user_errors():
        from core.api.plan import parse_duration, plan_scopes
        from core.config import load_config

        budget_s = parse_duration(budget) if budget is not None else None
        cfg = load_config(config)
        result = plan_scopes(cfg, device=device, budget_s=budget_s, seeds=seeds, baseline=baseline, random=random)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=2))
        return
    from presnet_tui.plan_view import plan_table

    console.print(plan_table(result, human))
