"""Table I: finished runs grouped by scope, mean and spread over seeds.

One row per scope (and one for the baseline): how many runs, mean parameter count,
test top-1 mean and standard deviation over the seeds, mean search time, and for
each searched block how many seeds derived the same (most common) choice -- the
question a sweep answers is whether a difference beats the run-to-run noise.
Rendering (rich, CSV, Markdown, figures) is the front end's job.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import PresnetError
from core.run.rundir import RunDir
from core.scale.sweep import Sweep, is_sweep
from core.space import SCOPE_STAGES, joint_name, scope_name

BASELINE = "baseline"


@dataclass
class RunResult:
    path: Path
    scope: str  # s/m/l/f, "1,2,5" for a custom scope, or "baseline"
    params: int | None
    top1: float | None
    search_s: float | None
    choices: dict[str, str] = field(default_factory=dict)  # block id -> "5x5/mish"
    flops: int | None = None  #: of the trained architecture, at ``image_size``
    image_size: int | None = None


def run_flops(run: RunDir) -> tuple[int | None, int | None]:
    """FLOPs of a run's architecture at its configured input size, counted on the meta device (no
    memory, no arithmetic); none before the run has an arch.json."""
    if not run.arch_file.is_file():
        return None, None
    import torch

    from core.space.arch import load_arch
    from core.space.cost import count_flops

    size = run.config().data.image_size
    with torch.device("meta"):
        model = load_arch(run.arch_file).build()
    return count_flops(model, size), size


def run_result(run: RunDir) -> RunResult:
    """One run's summary as a table entry; a run without a summary is refused (not finished)."""
    s = run.summary()
    if not s:
        raise PresnetError("run has no summary.json yet", where=str(run.path), hint="let the run finish first")
    if s.get("baseline"):
        scope = BASELINE
    else:
        raw = s.get("search", {}).get("scope")
        scope = scope_name(raw) if raw is not None else "custom"
        if isinstance(raw, list):
            scope = ",".join(str(b) for b in raw)
    blocks = (s.get("architecture") or {}).get("blocks", {}) if scope != BASELINE else {}
    flops, size = run_flops(run)
    return RunResult(
        path=run.path,
        scope=scope,
        params=s.get("params"),
        top1=(s.get("retrain") or {}).get("test_top1"),
        search_s=(s.get("search") or {}).get("elapsed_s"),
        choices={str(b): joint_name(int(c["kernel"]), c["activation"]) for b, c in blocks.items()},
        flops=flops,
        image_size=size,
    )


def collect(paths: Iterable[Path]) -> list[RunResult]:
    """Run directories as given; a sweep directory stands for its finished runs."""
    results: list[RunResult] = []
    for p in paths:
        if is_sweep(Path(p)):
            sweep = Sweep.open(Path(p))
            done = [s for s in sweep.statuses() if s.state == "done"]
            results += [run_result(RunDir(s.path)) for s in done]
        else:
            results.append(run_result(RunDir.open(Path(p))))
    if not results:
        raise PresnetError("no finished run to compare", where=", ".join(map(str, paths)), hint="let a run finish")
    return results


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _order(scope: str) -> tuple[int, str]:
    letters = list(SCOPE_STAGES)
    if scope == BASELINE:
        return (0, "")
    return (1 + letters.index(scope), "") if scope in letters else (len(letters) + 1, scope)


def table_rows(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """Table I's rows, baseline first, then the scopes small to full.

    ``top1_std`` is the sample standard deviation over the runs (0 for a single run);
    ``agreement[block]`` is the most common derived choice and how many runs chose it.
    """
    groups: dict[str, list[RunResult]] = {}
    for r in results:
        groups.setdefault(r.scope, []).append(r)
    rows = []
    for scope in sorted(groups, key=_order):
        runs = groups[scope]
        top1 = [r.top1 for r in runs if r.top1 is not None]
        params = [r.params for r in runs if r.params is not None]
        search = [r.search_s for r in runs if r.search_s is not None]
        flops = [r.flops for r in runs if r.flops is not None]
        sizes = sorted({r.image_size for r in runs if r.image_size is not None})
        agreement: dict[str, dict[str, Any]] = {}
        for block in sorted({b for r in runs for b in r.choices}, key=int):
            choice, count = Counter(r.choices[block] for r in runs if block in r.choices).most_common(1)[0]
            agreement[block] = {"choice": choice, "runs": count}
        rows.append(
            {
                "scope": scope,
                "model": "ResNet-50 (baseline)" if scope == BASELINE else f"PResNet-50-{scope}",
                "n": len(runs),
                "params_mean": _mean(params),
                "flops_mean": _mean(flops),
                "image_size": sizes[0] if len(sizes) == 1 else None,
                "top1_mean": _mean(top1),
                "top1_std": statistics.stdev(top1) if len(top1) > 1 else (0.0 if top1 else None),
                "search_s_mean": _mean(search),
                "blocks_agreeing": sum(1 for a in agreement.values() if a["runs"] == len(runs)),
                "blocks": len(agreement),
                "agreement": agreement,
                "runs": [str(r.path) for r in runs],
            }
        )
    return rows
