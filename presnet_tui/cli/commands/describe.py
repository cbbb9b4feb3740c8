"""Commands that describe without training: ``inspect`` (an architecture or a search space:
parameters, FLOPs, map sizes, void kernel choices), ``derive`` (the architecture of any past
epoch) and ``config show/check``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import PresnetError

if TYPE_CHECKING:  # the heavy modules (torch) load inside the commands that need them: `--help` stays instant
    from core.api.arch import Architecture
    from core.api.space import SpaceReport

from presnet_tui.cli.commands.common import (
    ActsOpt,
    AllowUnsearchedOpt,
    CandidatesOpt,
    ConfigOpt,
    ImageSizeOpt,
    KernelsOpt,
    ScopeOpt,
    app,
    config_app,
    console,
    user_errors,
)


def _arch_table(arch: Architecture, title: str) -> int:
    from rich.table import Table

    from core.api.arch import arch_facts
    from core.space import BASE_ACTIVATION, BASE_KERNEL, block_positions

    decisions = decision_marks(arch)
    table = Table(title=title)
    for col in ("block", "stage", "kernel", "activation", *(["confidence"] if decisions else [])):
        table.add_column(col)
    for pos in sorted(block_positions(arch.depths), key=lambda p: p.block_id):
        b = arch.blocks.get(pos.block_id)
        mark = "" if b else " (plain)"
        table.add_row(
            str(pos.block_id),
            str(pos.stage + 1),
            f"{(b.kernel if b else BASE_KERNEL)}x{(b.kernel if b else BASE_KERNEL)}",
            (b.activation if b else BASE_ACTIVATION) + mark,
            *([decisions.get(pos.block_id, "")] if decisions else []),
        )
    params = arch_facts(arch, 32).params  # the count does not depend on the input size
    console.print(table)
    console.print(f"trainable parameters: {params:,}")
    if decisions and arch.source:
        from core.api.confidence import settled_of

        why = "? not settled: its lead is under the margin or has not held for `patience` epochs"
        console.print(f"{settled_of(arch.source)} decisions settled (✓ settled; {why})")
    return params


def decision_marks(arch: Architecture) -> dict[int, str]:
    """Per block, its decisions' probabilities and settled marks from the file's ``source`` (if recorded)."""
    out: dict[int, str] = {}
    for d in (arch.source or {}).get("decisions", []):
        text = f"{d['decision']} {d['p']:.2f} {'✓' if d['settled'] else '?'}"
        out[d["block"]] = f"{out[d['block']]} · {text}" if d["block"] in out else text
    return out


def _space_table(report: SpaceReport) -> None:
    """``presnet inspect --scope``: the space's blocks, maps, choices and FLOPs as a table and three lines."""
    from rich.table import Table

    from presnet_tui.shared.units import human

    size, facts, flops = report.image_size, report.facts, report.flops
    table = Table(title=f"search space, scope {report.scope}, {size} px input")
    for col in ("block", "stage", "map", "kernel choices", "activation choices", "FLOPs per choice"):
        table.add_column(col)
    for g in report.geometry:
        kernel_cells = ", ".join(f"{k}x{k}" + (f"(={e}x{e})" if e != k else "") for k, e in g.effective_kernels.items())
        if g.kernel_choice_void:
            kernel_cells += " [yellow]void[/]"
        # per decision: a kernel's conv costs millions, an activation's elementwise op nearly nothing --
        # one range over both ("0 FLOPs to 13.11 MFLOPs") would describe neither
        spans = {
            d: dict.fromkeys((human(min(c.values())), human(max(c.values()))))
            for d, c in flops.per_block[str(g.block_id)].items()
        }
        block_flops = "; ".join(f"{'act' if d == 'activation' else d} {'–'.join(v)}" for d, v in spans.items())
        table.add_row(
            str(g.block_id),
            str(g.stage),
            f"{g.input_size}x{g.input_size}",
            kernel_cells,
            ", ".join(report.space.activations),
            block_flops,
        )
    console.print(table)
    console.print(
        f"{len(report.space.block_ids)} search blocks in stages {facts.stages}; "
        f"{facts.architectures:,} architectures; super-network {facts.supernet_params:,} params "
        f"(ResNet-50: {facts.baseline_params:,})"
    )
    console.print(f"FLOPs at {size} px: {human(flops.min)} to {human(flops.max)} (ResNet-50: {human(flops.baseline)})")
    for st in report.stages:
        console.print(f"stage {st.stage}: scope {st.scope}, blocks {st.blocks} (new {st.new_blocks})", soft_wrap=True)
    void = [g.block_id for g in report.geometry if g.kernel_choice_void]
    if void:
        console.print(
            f"[yellow]void kernel choice[/] in blocks {void}: at {size} px their middle conv sees a map too small "
            "to tell the kernels apart (see README, 'What the kernel choice means at your input size')",
            soft_wrap=True,
        )


def _arch_facts(arch_file: Path, size: int, as_json: bool) -> None:
    from core.api.arch import arch_facts, load_arch
    from presnet_tui.shared.units import human

    arch = load_arch(arch_file)
    facts = arch_facts(arch, size)
    flops = facts.flops
    if as_json:
        data = {
            "params": facts.params,
            "flops": flops,
            "image_size": size,
            "architecture": arch.model_dump(mode="json"),
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    _arch_table(arch, str(arch_file))
    console.print(f"FLOPs at {size} px: {human(flops)} ({flops:,}; a multiply-add = 2)")


@app.command()
def inspect(
    arch_file: Annotated[Path | None, typer.Argument(help="architecture JSON")] = None,
    scope: ScopeOpt = None,
    kernels: KernelsOpt = None,
    activations: ActsOpt = None,
    config: ConfigOpt = None,
    image_size: ImageSizeOpt = None,
    candidates: CandidatesOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """An architecture file's blocks, params and FLOPs, or a search space's blocks, map sizes, choices and costs."""
    with user_errors():
        from core.api.config import ConfigOverrides, resolve_config

        given = ConfigOverrides(
            scope=scope, kernels=kernels, activations=activations, image_size=image_size, candidates=candidates
        )
        cfg = resolve_config(config, given)
        if arch_file is not None:
            _arch_facts(arch_file, cfg.data.image_size, as_json)
            return
        if scope is None and config is None:  # with -c, the config's own scope
            raise PresnetError(
                "give an architecture file, --scope or -c CONFIG",
                where="inspect",
                hint="e.g. presnet inspect --scope s",
            )
        from core.api.space import space_report  # torch: after the input has passed its checks

        # The space as the paper defines it (full-width ResNet-50, torchvision's stem), or as -c configures it.
        report = space_report(cfg, paper_network=config is None, as_searched=False)
        if as_json:
            sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
        else:
            _space_table(report)


@config_app.command("show")
def config_show(config: ConfigOpt = None) -> None:
    """Print the resolved config (defaults filled in)."""
    from core.config import dump_yaml, load_config

    with user_errors():
        sys.stdout.write(dump_yaml(load_config(config)))


@config_app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="YAML config")]) -> None:
    """Validate a config; prints every problem as field.path: message."""
    from core.config import load_config

    with user_errors():
        load_config(path)
        console.print(f"{path}: ok")


@app.command()
def derive(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    epoch: Annotated[int | None, typer.Option(min=1, help="epoch whose alphas to use (default: last)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the architecture here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON only")] = False,
    allow_unsearched: AllowUnsearchedOpt = False,
    select: Annotated[
        str | None,
        typer.Option(
            help="alpha: each decision's argmax; perturbation: the candidate whose pinning gave the supernet "
            "the best validation accuracy (default: the run's search.select)"
        ),
    ] = None,
) -> None:
    """The architecture of any past epoch of a search, with each decision's confidence."""
    from core.api.arch import save_arch
    from core.api.confidence import check_searched
    from core.api.derive import derive, selection_line
    from core.api.rundirs import RunDir
    from core.errors import PresnetError

    with user_errors():
        if select not in (None, "alpha", "perturbation"):
            raise PresnetError(f"--select {select}: unknown", where="--select", hint="use alpha or perturbation")
        run = RunDir.open(run_dir)
        arch = derive(run, epoch, select)
        check_searched(arch, allow_unsearched, str(run_dir))
        if out is not None:
            save_arch(out, arch)
        if as_json:
            sys.stdout.write(arch.to_json())
            return
        how = "perturbation" if (arch.source or {}).get("select") == "perturbation" else "alpha argmax"
        _arch_table(arch, f"derived at epoch {arch.source['epoch'] if arch.source else '?'} by {how}")
        if out is not None:
            console.print(f"written to {out}")
        line = selection_line(run, arch)
        if line is not None:
            console.print(line)
