"""``auto`` speed settings chosen by measuring: memory format and mixed precision.

Which memory format is faster depends on the machine, the network and the batch: on this
project's 2-core CPU channels_last made a quarter-width search epoch 1.4x faster, where the old
rule (channels_last on CUDA only) left it off.  So ``run.channels_last: auto`` (and, on CUDA,
``run.amp: auto``) times a few steps of the run's own network, batch size, image size and device
each way -- interleaved, the median of each -- and keeps the faster.  An explicit choice is never
measured.  On the CPU mixed precision stays off under ``auto``: bf16 autocast on a CPU is slower
for these convolutions and changes the numerics, so it is not a speed setting there.

A measurement is kept per machine and workload (:mod:`core.train.tuning_cache`) and reused by the
next run of the same workload: the two formats compute in a different order, so a choice made afresh
under another load would send the same seed's search elsewhere.

Measuring must not change the run: the steps run on a deep copy of the model with their own
optimizer, on random images drawn from their own generator, inside a forked RNG state, so that a
run with ``auto`` computes bit for bit what the same run with the chosen setting given explicitly
computes (``tests/train/test_autotune.py``).
"""

from __future__ import annotations

import copy
import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from core.config import RunConfig
from core.run.tuning import TunedSetting, Tuning
from core.space.network import SearchNet
from core.space.proxyless import Mode, PathSampler
from core.train import tuning_cache
from core.train.device import Precision
from core.train.step import arch_step, grad_scaler, train_step

WARMUP = 1  #: untimed steps each way (first-call allocations, weight layout conversions)
REPEATS = 5  #: timed steps each way; the choice is the median of the per-round ratios


@dataclass(frozen=True)
class Probe:
    """What a measurement steps: the run's network (not moved yet), batch and image size, and for a
    search network the architecture step's estimator (None: weight steps only)."""

    model: nn.Module
    batch_size: int
    image_size: int
    arch_mode: Mode | None = None


def amp_label(dtype: torch.dtype | None) -> str:
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "off") if dtype is not None else "off"


def format_options(run: RunConfig, prec: Precision, world_size: int) -> tuple[list[bool], TunedSetting | None]:
    """The memory formats to try, or the setting already decided (explicit, or not measurable)."""
    if run.channels_last != "auto":
        return [prec.channels_last], TunedSetting(name="channels_last", choice=run.channels_last, how="explicit")
    if world_size > 1:
        choice = "on" if prec.channels_last else "off"
        note = "device default: the ranks of a distributed run must agree, so each does not measure alone"
        return [prec.channels_last], TunedSetting(name="channels_last", choice=choice, how="fixed", note=note)
    return [False, True], None


Dtypes = list[torch.dtype | None]


def amp_options(run: RunConfig, prec: Precision, world_size: int) -> tuple[Dtypes, TunedSetting | None]:
    """The precisions to try: fp32 and the device's half type on CUDA; ``auto`` keeps fp32 elsewhere."""
    if run.amp != "auto":
        return [prec.amp_dtype], TunedSetting(name="amp", choice=run.amp, how="explicit")
    if prec.device.type != "cuda":
        note = "fp32 on this device: autocast here is slower and changes the numerics"
        return [None], TunedSetting(name="amp", choice="off", how="fixed", note=note)
    if world_size > 1:
        note = "device default: the ranks of a distributed run must agree"
        return [prec.amp_dtype], TunedSetting(name="amp", choice=amp_label(prec.amp_dtype), how="fixed", note=note)
    return [None, prec.amp_dtype or torch.bfloat16], None


def step_fn(probe: Probe, prec: Precision) -> Callable[[], None]:
    """One training step (and, for a search network, one architecture step) of a copy of the
    probe's model in ``prec``, on a fixed random batch: what a run's step does, on nothing of the run's."""
    model = copy.deepcopy(probe.model).to(prec.device)
    if prec.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(probe.batch_size, 3, probe.image_size, probe.image_size, generator=g).to(prec.device)
    if prec.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    classes = _classes(model)
    y = torch.randint(0, classes, (probe.batch_size,), generator=g).to(prec.device)
    params = model.weight_parameters() if isinstance(model, SearchNet) else list(model.parameters())
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    scaler, arch_scaler = grad_scaler(prec), grad_scaler(prec)
    sampler = PathSampler(0)
    a_opt = torch.optim.Adam(model.arch_parameters(), lr=1e-3) if isinstance(model, SearchNet) else None

    def step() -> None:
        if isinstance(model, SearchNet):
            model.sample_weight_paths(sampler, uniform=True)
        train_step(model, opt, scaler, prec, x, y)
        if isinstance(model, SearchNet) and probe.arch_mode is not None and a_opt is not None:
            arch_step(model, sampler, probe.arch_mode, a_opt, arch_scaler, prec, x, y)

    return step


def _classes(model: nn.Module) -> int:
    fc = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return int(fc[-1].out_features) if fc else 10


def time_interleaved(steps: Sequence[Callable[[], None]], device: torch.device) -> list[float]:
    """Median seconds per call of each step, the steps taking turns (drifts in machine speed hit all alike)."""
    return [statistics.median(t) for t in _rounds(steps, device)]


def relative_speed(steps: Sequence[Callable[[], None]], device: torch.device) -> tuple[list[float], list[float]]:
    """Each step's median seconds, and the median over rounds of its time over the first step's in the
    same round: neighbours in time share the machine's load, so the ratios hold where the seconds
    swing (on a loaded machine a step's time varies by 2x from round to round)."""
    rounds = _rounds(steps, device)
    ratios = [statistics.median(t / r for t, r in zip(times, rounds[0])) for times in rounds]
    return [statistics.median(t) for t in rounds], ratios


def _rounds(steps: Sequence[Callable[[], None]], device: torch.device) -> list[list[float]]:
    """Seconds of each step's timed calls, the steps taking turns after :data:`WARMUP` untimed rounds."""
    times: list[list[float]] = [[] for _ in steps]
    for r in range(WARMUP + REPEATS):
        for i, step in enumerate(steps):
            _sync(device)
            t = time.perf_counter()
            step()
            _sync(device)
            if r >= WARMUP:
                times[i].append(time.perf_counter() - t)
    return times


def rng_devices(device: torch.device) -> list[int]:
    """The CUDA devices whose RNG state a measurement must leave as it found it."""
    return [device.index or 0] if device.type == "cuda" else []


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def tune(
    run: RunConfig, prec: Precision, probe: Probe, world_size: int = 1, *, reuse: bool = True
) -> tuple[Precision, Tuning]:
    """The precision to run with and the record of how it was chosen (timings when measured).

    ``reuse``: take this machine's kept measurement of the workload, or keep this one
    (:mod:`core.train.tuning_cache`); False measures and keeps nothing (``presnet bench``)."""
    formats, fmt_fixed = format_options(run, prec, world_size)
    amps, amp_fixed = amp_options(run, prec, world_size)
    combos = list(itertools.product(formats, amps))
    if len(combos) == 1:
        chosen = replace(prec, channels_last=formats[0], amp_dtype=amps[0])
        return chosen, Tuning(settings=[s for s in (fmt_fixed, amp_fixed) if s is not None])
    ingredients = tuning_cache.workload(probe.model, prec.device, _shape(probe, combos))
    kept = tuning_cache.lookup(ingredients) if reuse else None
    if kept is not None:
        return _reuse(run, prec, kept)
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=rng_devices(prec.device)):  # the run's RNG streams stay as they were
        options = [replace(prec, channels_last=cl, amp_dtype=amp) for cl, amp in combos]
        seconds, ratios = relative_speed([step_fn(probe, p) for p in options], prec.device)
    best = min(range(len(options)), key=ratios.__getitem__)
    chosen = options[best]
    settings = [
        fmt_fixed or _measured("channels_last", combos, seconds, ratios, 0, best, _onoff),
        amp_fixed or _measured("amp", combos, seconds, ratios, 1, best, amp_label),
    ]
    tuning = Tuning(settings=settings, measure_s=round(time.perf_counter() - t0, 3))
    if reuse:
        tuning_cache.store(ingredients, tuning)
    return chosen, tuning


def _shape(probe: Probe, combos: list[tuple[bool, torch.dtype | None]]) -> dict[str, object]:
    """What besides the machine and the network a measurement's validity depends on."""
    mode = probe.arch_mode
    return {
        "batch_size": probe.batch_size,
        "image_size": probe.image_size,
        "arch_step": None if mode is None else str(getattr(mode, "value", mode)),
        "options": [f"{_onoff(cl)}/{amp_label(amp)}" for cl, amp in combos],
    }


def _reuse(run: RunConfig, prec: Precision, kept: tuning_cache.CachedTuning) -> tuple[Precision, Tuning]:
    """An earlier run's measurement of this workload here: the same choice, so the same numerics."""
    where = f"measured {kept.measured_at} by an earlier run of this workload here, kept in {tuning_cache.cache_path()}"
    settings = [
        s.model_copy(update={"how": "kept", "note": f"{s.note}; {where}"}) if s.how == "measured" else s
        for s in kept.tuning.settings
    ]
    tuning = Tuning(settings=settings)
    return replay(run, prec, tuning), tuning


def _onoff(flag: bool) -> str:
    return "on" if flag else "off"


def _measured(  # noqa: PLR0913, PLR0917 -- one axis of the measured grid
    name: str,
    combos: list[tuple[bool, torch.dtype | None]],
    seconds: list[float],
    ratios: list[float],
    axis: int,
    best: int,
    label: Callable[[Any], str],
) -> TunedSetting:
    """The timings of ``name``'s options with the other setting at its chosen value, and the paired ratio
    the choice was made on."""
    other = 1 - axis
    rows = [i for i, c in enumerate(combos) if c[other] == combos[best][other]]
    times = {label(combos[i][axis]): round(seconds[i], 5) for i in rows}
    runner_up = min((i for i in rows if i != best), key=ratios.__getitem__)
    ratio = ratios[best] / ratios[runner_up]
    note = f"{label(combos[best][axis])} takes {ratio:.2f}x the time of {label(combos[runner_up][axis])}"
    note += f" (median of {REPEATS} paired rounds)"
    return TunedSetting(name=name, choice=label(combos[best][axis]), how="measured", seconds=times, note=note)


def replay(run: RunConfig, prec: Precision, recorded: Tuning) -> Precision:
    """A resumed loop's precision: the settings its checkpoint recorded (never measured again)."""
    cl, amp = recorded.choice("channels_last"), recorded.choice("amp")
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}
    return replace(
        prec,
        channels_last=prec.channels_last if cl is None else cl == "on",
        amp_dtype=prec.amp_dtype if amp is None else dtypes[amp],
    )
