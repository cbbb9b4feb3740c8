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

    table = Table(title=title)
    for col in ("block", "stage", "kernel", "activation"):
        table.add_column(col)
    for pos in sorted(block_positions(arch.depths), key=lambda p: p.block_id):
        b = arch.blocks.get(pos.block_id)
        mark = "" if b else " (plain)"
        table.add_row(
            str(pos.block_id),
            str(pos.stage + 1),
            f"{(b.kernel if b else BASE_KERNEL)}x{(b.kernel if b else BASE_KERNEL)}",
            (b.activation if b else BASE_ACTIVATION) + mark,
        )
    params = count_params(arch.build())
    console.print(table)
    console.print(f"trainable parameters: {params:,}")
    return params


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

    from core.space import RESNET50_DEPTHS, SearchSpace
    from core.space.arch import load_arch
    from core.space.cost import count_flops, human, measure_candidates
    from core.space.facts import supernet_facts
    from core.space.geometry import space_geometry
    from core.space.network import NetSpec, SearchNet, build_plain, count_params, net_spec

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
        stages = cfg.progressive_stages()  # a progressive search's space is its last stage's
        space = SearchSpace.build(
            stages[-1] if stages else cfg.space.scope,
            cfg.space.kernels,
            cfg.space.activations,
            cfg.network.depths if config is not None else RESNET50_DEPTHS,
            joint=cfg.space.candidates == "joint",
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
        if stages:
            data["progressive"] = _stages(cfg.search.progressive or [], stages)
        if as_json:
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
            return
        from rich.table import Table

        flops_of = data["flops"]["per_block"]
        table = Table(title=f"search space, scope {cfg.space.scope}, {size} px input")
        for col in ("block", "stage", "map", "kernel choices", "activation choices", "FLOPs of its choices"):
            table.add_column(col)
        for g in geometry:
            kernel_cells = ", ".join(
                f"{k}x{k}" + (f"(={e}x{e})" if e != k else "") for k, e in g.effective_kernels.items()
            )
            if g.kernel_choice_void:
                kernel_cells += " [yellow]void[/]"
            block_flops = [f for d in flops_of[str(g.block_id)].values() for f in d.values()]
            table.add_row(
                str(g.block_id),
                str(g.stage),
                f"{g.input_size}x{g.input_size}",
                kernel_cells,
                ", ".join(space.activations),
                f"{human(min(block_flops))} to {human(max(block_flops))}",
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
        for st in data.get("progressive", []):
            console.print(
                f"stage {st['stage']}: scope {st['scope']}, blocks {st['blocks']} (new {st['new_blocks']})",
                soft_wrap=True,
            )
        void = [g.block_id for g in geometry if g.kernel_choice_void]
        if void:
            console.print(
                f"[yellow]void kernel choice[/] in blocks {void}: at {size} px their middle conv sees a map too small "
                "to tell the kernels apart (see README, 'What the kernel choice means at your input size')",
                soft_wrap=True,
            )


def _stages(scopes: list, stages: list[list[int]]) -> list[dict]:
    """A progressive search's stages as inspect shows them: each scope, its blocks and the ones it adds."""
    out, before = [], set()
    for i, (scope, blocks) in enumerate(zip(scopes, stages, strict=True)):
        out.append({"stage": i + 1, "scope": scope, "blocks": blocks, "new_blocks": sorted(set(blocks) - before)})
        before = set(blocks)
    return out


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
) -> None:
    """The argmax architecture of any past epoch of a search."""
    from core.run.rundir import RunDir
    from core.space.arch import save_arch
    from core.train.job import derive_at

    with user_errors():
        arch = derive_at(RunDir.open(run_dir), epoch)
        if out is not None:
            save_arch(out, arch)
        if as_json:
            sys.stdout.write(arch.to_json())
            return
        _arch_table(arch, f"derived at epoch {arch.source['epoch'] if arch.source else '?'}")
        if out is not None:
            console.print(f"written to {out}")
