"""The text table of ``presnet bench`` (the measurements themselves are :mod:`core.perf.bench`'s)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.run.events import Tuning

if TYPE_CHECKING:  # core.api.bench loads torch; rendering a stored report needs none
    from core.api.bench import BenchReport, ScopeBench


def mib(b: float) -> str:
    return f"{b / 2**20:,.1f}"


def probe_line(s: ScopeBench) -> str:
    """(9): each probe's seconds and share of a paper-size search epoch (older results: the curvature only)."""
    if "probes_share_paper" not in s:
        return f"(9) curvature probe, {s['scope']}: {s['curvature_s']:.3f} s = {s['curvature_share_paper']:.2%}"
    timed = (
        ("curvature", s.get("curvature_s"), s.get("curvature_share_paper")),
        ("perturbation", s.get("perturbation_s"), s.get("perturbation_share_paper")),
    )
    parts = [f"{name} {t:.3f} s = {share:.2%}" for name, t, share in timed if t is not None and share is not None]
    budget = s.get("probe_budget", 0.05)
    return (
        f"(9) probes, {s['scope']}: " + ", ".join(parts) + f"; together {s['probes_share_paper']:.2%} of a search "
        f"epoch of 45,000 images (timed interleaved with search steps; budget {budget:.0%}: "
        + ("each epoch)" if s["probes_share_paper"] <= budget else "held to it, they run less often)")
    )


def tuning_line(tuning: Mapping[str, object]) -> str:
    """What ``auto`` chose, with the timings behind it (the record of :mod:`core.run.tuning`, as JSON)."""
    return Tuning.model_validate(tuning).line()


def render(r: BenchReport) -> str:
    p = r["plain"]
    lines = [
        f"device {r['device']} ({r['device_name']}), amp {r['amp']}, channels_last {r['channels_last']}, "
        f"torch {r['torch']}, {r['threads']} threads",
        f"settings {r['settings']}",
        *([f"chosen: {tuning_line(r['tuning'])}"] if r.get("tuning", {}).get("settings") else []),
        f"(1) plain ResNet-50 step: {p['images_per_s']:,.1f} img/s ({p['params']:,} params)",
        f"(7) data pipeline: {r['pipeline']['images_per_s']:,.1f} img/s = "
        f"{r['pipeline']['ratio_to_model']:.1f}x the plain step (target >= 10x)",
        "",
        "scope blocks | (2) pinned | (3) uniform | (4) two-path   all-paths | (5) epoch img/s ratio"
        " | (6) act MiB: plain  weight  arch  DARTS | ratios w/a/DARTS | total MiB proxyless/DARTS",
    ]
    for s in r["scopes"]:
        lines.append(
            f"{s['scope']:>5} {s['blocks']:>6} | {s['pinned_ratio']:10.3f} | {s['uniform_ratio']:11.3f} | "
            f"{s['two_path_ratio']:12.3f} {s['all_paths_ratio']:11.3f} | "
            f"{s['epoch_images_per_s']:9.1f} {s['epoch_ratio']:5.2f} | "
            f"{mib(p['activation_bytes']):>17} {mib(s['weight_bytes']):>7} {mib(s['arch_bytes']):>5} "
            f"{mib(s['darts_bytes']):>6} | {s['weight_ratio_mem']:.2f}/{s['arch_ratio_mem']:.2f}/"
            f"{s['darts_ratio_mem']:.2f} | {mib(s['proxyless_total_bytes'])}/{mib(s['darts_total_bytes'])}"
        )
    lines += [""] + [probe_line(s) for s in r["scopes"] if "probes_share_paper" in s or "curvature_s" in s]
    if "progress" in r:
        g = r["progress"]
        lines += [
            "",
            f"(8) live progress channel: {g['per_step_s'] * 1e6:,.1f} us per step = {g['ratio']:.3%} of the plain step "
            f"(quiet tick {g['quiet_tick_s'] * 1e6:.2f} us, emitting tick + progress.json "
            f"{g['emitting_tick_s'] * 1e6:.0f} us; target <= 1 %)",
        ]
    lines += ["", "targets: (2) <= 1.05, (3) <= 1.05, (4) two-path <= 1.8, (6) ProxylessNAS activation <= 1.2x plain"]
    return "\n".join(lines)
