"""Commands that take the found model out: ``export`` (ONNX, torch.export), ``latency`` (a
per-candidate lookup table) and ``tensorboard`` (a run's events as TensorBoard scalars)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from core.errors import PresnetError
from presnet_tui.cli.commands.common import (
    ActsOpt,
    ConfigOpt,
    KernelsOpt,
    ScopeOpt,
    app,
    console,
    user_errors,
)


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="run directory with retrained weights")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="onnx or pt2 (torch.export)")] = "onnx",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file to write (default: RUN/model.<format>)")] = None,
    image_size: Annotated[
        int | None, typer.Option("--image-size", min=8, help="input side (default: the run's data.image_size)")
    ] = None,
    batch: Annotated[str, typer.Option(help="'dynamic' or a fixed batch size")] = "dynamic",
    weights: Annotated[str, typer.Option(help="last (the final weights) or a weights file")] = "last",
) -> None:
    """Export a run's retrained network to ONNX or a torch.export program, checked against PyTorch."""
    with user_errors():
        from core.api.export import export_run, weights_used

        if batch != "dynamic" and not batch.isdigit():
            raise PresnetError(f"cannot read batch {batch!r}", where="--batch", hint="use dynamic or a number, e.g. 1")
        size_batch: Any = batch if batch == "dynamic" else int(batch)
        result = export_run(run_dir, fmt.lower(), out, image_size, size_batch, weights)
        used = weights_used(run_dir, weights)
        console.print(f"wrote {result.path} ({result.format}, weights {used})")
        console.print(f"checked on a test batch: max |logit diff| {result.max_abs_diff:.2e} ({result.tolerance})")


@app.command()
def latency(
    config: ConfigOpt = None,
    scope: ScopeOpt = None,
    kernels: KernelsOpt = None,
    activations: ActsOpt = None,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    image_size: Annotated[
        int | None, typer.Option("--image-size", min=8, help="input side (default: the config's)")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="images per timed call")] = 1,
    repeats: Annotated[int, typer.Option(min=3, help="timed calls per candidate (the median is kept)")] = 20,
    num_classes: Annotated[int, typer.Option("--num-classes", min=2, help="classifier outputs")] = 10,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the lookup table (JSON) here")] = None,
) -> None:
    """Time each candidate of each search block in place: a lookup table for `search.cost.metric: latency`."""
    with user_errors():
        from rich.table import Table

        from core.api.config import ConfigOverrides, resolve_config
        from core.api.export import latency_of, save_latency_table
        from presnet_tui.shared.units import human

        given = ConfigOverrides(scope=scope, kernels=kernels, activations=activations, device=device)
        cfg = resolve_config(config, given)
        size = image_size or cfg.data.image_size
        table = latency_of(cfg, size, batch=batch, repeats=repeats, num_classes=num_classes)
        if out is not None:
            save_latency_table(out, table)
        grid = Table(title=f"latency per candidate, {table['device']}, {size} px, batch {batch} (median of {repeats})")
        for col in ("block", "kernel", "activation"):
            grid.add_column(col)
        for bid, row in sorted(table["blocks"].items(), key=lambda kv: int(kv[0])):
            grid.add_row(
                bid,
                ", ".join(f"{k}: {human(v, 'latency')}" for k, v in row["kernel"].items()),
                ", ".join(f"{a}: {human(v, 'latency')}" for a, v in row["activation"].items()),
            )
        console.print(grid)
        console.print(
            f"whole network {human(table['whole_us'], 'latency')}; fixed part {human(table['fixed_us'], 'latency')}"
        )
        if out is not None:
            console.print(f"written to {out}")


@app.command()
def tensorboard(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="log folder (default: RUN/tensorboard)")] = None,
) -> None:
    """Convert a run's events.jsonl into TensorBoard event files (`tensorboard --logdir RUN/tensorboard`)."""
    with user_errors():
        from core.api.export import tensorboard_events

        done = tensorboard_events(run_dir, out)
        console.print(
            f"{done.events} events written to {done.log_dir}; view with `tensorboard --logdir {done.log_dir}`"
        )
