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
    from core.space.arch import Architecture

from presnet_tui.commands.common import (
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
    resolve_config,
    user_errors,
)


def _arch_table(arch: Architecture, title: str) -> int:
    from rich.table import Table

    from core.space import BASE_ACTIVATION, BASE_KERNEL, block_positions
    from core.space.network import count_params

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
    params = count_params(arch.build())
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
    import torch

    from core.space import SearchSpace
    from core.space.arch import load_arch
    from core.space.cost import count_flops, human, measure_candidates
    from core.space.geometry import space_geometry
    from core.space.network import NetSpec, SearchNet, build_plain, count_params, net_spec, supernet_facts

    with user_errors():
        cfg = resolve_config(
            config, scope=scope, kernels=kernels, activations=activations, image_size=image_size, candidates=candidates
        )
        size = cfg.data.image_size
        if arch_file is not None:
            arch = load_arch(arch_file)
            flops = count_flops(arch.build(), size)
            if as_json:
                data = {
                    "params": count_params(arch.build()),
                    "flops": flops,
                    "image_size": size,
                    "architecture": arch.model_dump(mode="json"),
                }
                sys.stdout.write(json.dumps(data, indent=2) + "\n")
            else:
                _arch_table(arch, str(arch_file))
                console.print(f"FLOPs at {size} px: {human(flops)} ({flops:,}; a multiply-add = 2)")
            return
        if scope is None:
            raise PresnetError(
                "give an architecture file or --scope", where="inspect", hint="e.g. presnet inspect --scope s"
            )
        # The space as the paper defines it (full-width ResNet-50, torchvision's stem), or as -c configures it.
        space = SearchSpace.build(
            cfg.space.scope, cfg.space.kernels, cfg.space.activations, joint=cfg.space.candidates == "joint"
        )
        spec = net_spec(cfg) if config is not None else NetSpec()  # no config: the paper's ResNet-50
        facts = supernet_facts(space, spec)
        with torch.device("meta"):  # shapes only: FLOPs need no arithmetic and no memory
            costs = measure_candidates(SearchNet(spec, space), "flops", size)
            baseline_flops = count_flops(build_plain(spec), size)
        geometry = space_geometry(space, size, spec.stem)
        data = {
            "scope": cfg.space.scope,
            "search_blocks": list(facts.block_ids),
            "stages": facts.stages,
            "kernels": list(facts.kernels),
            "activations": list(facts.activations),
            "candidates": cfg.space.candidates,
            "decisions": {d: list(space.labels(d)) for d in space.decisions},
            "choices_per_block": facts.choices_per_block,
            "architectures": facts.architectures,
            "supernet_params": facts.supernet_params,
            "baseline_params": facts.baseline_params,
            "image_size": size,
            "stem": spec.stem,
            "blocks": [g.to_json() for g in geometry],
            "baseline_flops": baseline_flops,
            "flops": {
                "min": int(costs.fixed + sum(min(r) for rows in costs.per_row.values() for r in rows)),
                "max": int(costs.fixed + sum(max(r) for rows in costs.per_row.values() for r in rows)),
                "per_block": {
                    str(b): {d: dict(zip(space.labels(d), map(int, costs.per_row[d][r]))) for d in space.decisions}
                    for r, b in enumerate(space.block_ids)
                },
            },
        }
        if as_json:
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
            return
        from rich.table import Table

        flops_of = data["flops"]["per_block"]
        table = Table(title=f"search space, scope {cfg.space.scope}, {size} px input")
        for col in ("block", "stage", "map", "kernel choices", "activation choices", "FLOPs per choice"):
            table.add_column(col)
        for g in geometry:
            kernel_cells = ", ".join(
                f"{k}x{k}" + (f"(={e}x{e})" if e != k else "") for k, e in g.effective_kernels.items()
            )
            if g.kernel_choice_void:
                kernel_cells += " [yellow]void[/]"
            # per decision: a kernel's conv costs millions, an activation's elementwise op nearly nothing --
            # one range over both ("0 FLOPs to 13.11 MFLOPs") would describe neither
            spans = {
                d: dict.fromkeys((human(min(c.values())), human(max(c.values()))))
                for d, c in flops_of[str(g.block_id)].items()
            }
            block_flops = "; ".join(f"{'act' if d == 'activation' else d} {'–'.join(v)}" for d, v in spans.items())
            table.add_row(
                str(g.block_id),
                str(g.stage),
                f"{g.input_size}x{g.input_size}",
                kernel_cells,
                ", ".join(space.activations),
                block_flops,
            )
        console.print(table)
        console.print(
            f"{len(space.block_ids)} search blocks in stages {data['stages']}; "
            f"{facts.architectures:,} architectures; super-network {facts.supernet_params:,} params "
            f"(ResNet-50: {data['baseline_params']:,})"
        )
        console.print(
            f"FLOPs at {size} px: {human(data['flops']['min'])} to {human(data['flops']['max'])} "
            f"(ResNet-50: {human(data['baseline_flops'])})"
        )
        void = [g.block_id for g in geometry if g.kernel_choice_void]
        if void:
            console.print(
                f"[yellow]void kernel choice[/] in blocks {void}: at {size} px their middle conv sees a map too small "
                "to tell the kernels apart (see README, 'What the kernel choice means at your input size')",
                soft_wrap=True,
            )


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
) -> None:
    """The argmax architecture of any past epoch of a search, with each decision's confidence."""
    from core.api.confidence import check_searched
    from core.run.rundir import RunDir
    from core.space.arch import save_arch
    from core.train.job import derive_at

    with user_errors():
        arch = derive_at(RunDir.open(run_dir), epoch)
        check_searched(arch, allow_unsearched, str(run_dir))
        if out is not None:
            save_arch(out, arch)
        if as_json:
            sys.stdout.write(arch.to_json())
            return
        _arch_table(arch, f"derived at epoch {arch.source['epoch'] if arch.source else '?'}")
        if out is not None:
            console.print(f"written to {out}")
