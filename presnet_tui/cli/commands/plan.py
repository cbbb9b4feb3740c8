"""``presnet plan``: what each scope will cost on this device and data (core.api.plan measures)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from core.errors import PresnetError
from presnet_tui.cli.commands.common import ConfigOpt, DeviceOpt, app, console, user_errors


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
    power: Annotated[
        list[Path] | None,
        typer.Option("--power", help="a pilot (exhaustive sweep with repeats): the power of a Table I at its noise"),
    ] = None,
    gain: Annotated[float | None, typer.Option("--gain", help="--power: the power for this gain, top-1 points")] = None,
) -> None:
    """Time a few search and retrain steps per scope here, and what a run and a sweep of each would take.
    ``--power PILOT``: instead, the smallest RI a Table I of --seeds x --random detects at the pilot's noise."""
    if power:
        _power(power, seeds, random, gain, as_json)
        return
    with user_errors():
        from core.api.plan import parse_duration, plan_scopes
        from core.config import load_config

        budget_s = parse_duration(budget) if budget is not None else None
        cfg = load_config(config)
        result = plan_scopes(cfg, device=device, budget_s=budget_s, seeds=seeds, baseline=baseline, random=random)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=2))
        return
    from presnet_tui.cli.views.plan import plan_table

    console.print(plan_table(result, human))


def _power(pilot: list[Path], seeds: int, random: int, gain: float | None, as_json: bool) -> None:
    """``--power``: the given design (or, with --seeds 1 --random 0 left as they are, three common ones)."""
    from core.api.results import PLANNED_DESIGNS, power_from_pilot
    from presnet_tui.cli.views.ground_truth import power_lines, split_lines

    with user_errors():
        if gain is not None and not 0 < gain < 100:
            raise PresnetError(f"a gain of {gain} points", where="--gain", hint="give top-1 points, e.g. --gain 2")
        designs = PLANNED_DESIGNS if (seeds, random) == (1, 0) else ((seeds, random),)
        truth, plans = power_from_pilot(pilot, designs, gain / 100 if gain is not None else None)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "split": dataclasses.asdict(truth.split) if truth.split else None,
                    "plans": [dataclasses.asdict(p) for p in plans],
                }
            )
        )
        return
    for line in [*split_lines(truth), *power_lines(plans)]:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
