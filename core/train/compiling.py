"""``torch.compile`` for the retrain's training step, where it pays, and eager where it fails.

A retrain trains one fixed architecture, so one compiled graph serves every step -- but compiling
costs tens of seconds on a CPU (a quarter-width ResNet-50: BENCHMARKS.md, "Memory format and
compilation"), which only a long run earns back.  ``run.compile``:

- ``off``: eager;
- ``on``: compiled (a failure falls back to eager, with one warning line);
- ``auto``: a compile is *tried* only when the run's eager steps (their count times the step time
  just measured by :mod:`core.train.autotune`) could repay what a compile may cost here
  (:data:`COMPILE_BOUND_S`) even at the best saving measured here; the trial then measures the
  compile's own time and the compiled step, and the run keeps the compiled step only when it is
  faster.  Short runs (the quickstart's) never pay for a trial.

Only the training step runs compiled: evaluation, BatchNorm recalibration and checkpoints use the
eager module, which shares the compiled one's parameters (no recompiles for eval mode or no-grad).
The search stays eager: with a path sampled per step, a per-candidate compile measured slower on
this CPU (BENCHMARKS.md), and the curvature probe's double backward does not run compiled.

A trial steps the real model (its compile is what the run reuses) with a throw-away optimizer
inside a forked RNG state, then restores every parameter and buffer: the run starts from exactly
the state it would have had without the trial.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.run.tuning import TunedSetting
from core.train.autotune import rng_devices
from core.train.device import Precision
from core.train.step import grad_scaler, train_step

#: what a compile of a training step may cost here (s): 45-70 s for a ResNet-50 on the idle development
#: CPU (issue 41), 226-379 s for a quarter-width one there under load 17-21 (BENCHMARKS.md). A trial is
#: not worth starting when the run could not repay it even at the best saving: the bound is the loaded
#: figure, because step times measured under load are inflated alike (the quickstart's retrain, 800 steps
#: of 0.5 s under that load, hoped for 200 s and paid 379 s to compile when the bound was 45 s)
COMPILE_BOUND_S = 400.0
#: the largest share of an eager step compiling saved there (2.65 -> 1.41 s, issue 41): the best case a trial hopes for
BEST_SAVING = 0.5
TRIAL_STEPS = 3  #: compiled steps timed after the compiling one (the median is kept)


#: the search's record: it runs eager whatever ``run.compile`` says
SEARCH_EAGER = TunedSetting(
    name="compile",
    choice="off",
    how="fixed",
    note="the search runs eager: per-candidate compile was not faster on the CPU (BENCHMARKS.md) "
    "and the curvature probe's double backward does not run compiled",
)


@dataclass
class Compiled:
    """The module the training step calls (compiled or the eager one) and how it was decided."""

    module: nn.Module
    setting: TunedSetting
    failed: bool = False  #: the compiler failed, and the step runs eager (the loop warns once)


def compile_module(model: nn.Module, backend: str | Callable[..., Any] = "inductor") -> nn.Module:
    """``torch.compile`` of a whole module (shapes fixed: the training loader drops ragged batches)."""
    return torch.compile(model, backend=backend, dynamic=False)  # type: ignore[return-value]


def for_training(
    mode: str,
    model: nn.Module,
    prec: Precision,
    batch: tuple[int, int],
    steps: int,
    eager_step_s: float | None,
    backend: str | Callable[..., Any] = "inductor",
) -> Compiled:
    """The training step's module for ``run.compile`` = ``mode`` (``batch``: batch size, image size)."""
    if mode == "off":
        return Compiled(model, TunedSetting(name="compile", choice="off", how="explicit"))
    if mode == "auto":
        if eager_step_s is None:
            note = "not measured (no eager step time): eager"
            return Compiled(model, TunedSetting(name="compile", choice="off", how="fixed", note=note))
        hope = steps * eager_step_s * BEST_SAVING
        if hope < COMPILE_BOUND_S:
            note = (
                f"too short to repay a compile: {steps} steps x {eager_step_s:.3f} s, at best "
                f"{hope:.0f} s saved < {COMPILE_BOUND_S:.0f} s a compile may cost"
            )
            return Compiled(model, TunedSetting(name="compile", choice="off", how="fixed", note=note))
    return _trial(mode, model, prec, batch, steps, eager_step_s, backend)


def _trial(
    mode: str,
    model: nn.Module,
    prec: Precision,
    batch: tuple[int, int],
    steps: int,
    eager_step_s: float | None,
    backend: str | Callable[..., Any],
) -> Compiled:
    """Compile, time the compiling step and a few compiled ones on the real model, restore its state."""
    how = "explicit" if mode == "on" else "measured"
    compiled = compile_module(model, backend)
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        with torch.random.fork_rng(devices=rng_devices(prec.device)):
            first_s, step_s = _time_compiled(compiled, model, prec, batch)
    except Exception as err:  # noqa: BLE001 -- any compiler failure means: run eager
        note = f"compilation failed ({_reason(err)}); running eager"
        return Compiled(model, TunedSetting(name="compile", choice="off", how="fixed", note=note), failed=True)
    finally:
        model.load_state_dict(saved)
    compile_s = max(first_s - step_s, 0.0)
    seconds = {"compiled": round(step_s, 5)}
    if eager_step_s is not None:
        seconds["eager"] = round(eager_step_s, 5)
    faster = eager_step_s is None or step_s < eager_step_s
    saving = steps * (eager_step_s - step_s) if eager_step_s is not None else None
    note = f"compile {compile_s:.1f} s" + (f", saves {saving:.1f} s over {steps} steps" if saving is not None else "")
    keep = mode == "on" or faster
    setting = TunedSetting(name="compile", choice="on" if keep else "off", how=how, seconds=seconds, note=note)
    return Compiled(compiled if keep else model, setting)


def _reason(err: BaseException) -> str:
    """The failure in a few words: the innermost cause's type and first line (dynamo wraps the compiler's)."""
    root = err
    while (inner := root.__cause__ or getattr(root, "inner_exception", None)) is not None:
        root = inner
    text = str(root).strip()
    return f"{type(root).__name__}: {text.splitlines()[0][:160]}" if text else type(root).__name__


def _time_compiled(
    compiled: nn.Module, model: nn.Module, prec: Precision, batch: tuple[int, int]
) -> tuple[float, float]:
    """Seconds of the first compiled step (the compile) and the median of the next few."""
    size, image = batch
    g = torch.Generator().manual_seed(0)
    x = torch.randn(size, 3, image, image, generator=g).to(prec.device)
    if prec.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    fc = [m for m in model.modules() if isinstance(m, nn.Linear)]
    y = torch.randint(0, int(fc[-1].out_features) if fc else 10, (size,), generator=g).to(prec.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    scaler = grad_scaler(prec)
    times = []
    for _ in range(TRIAL_STEPS + 1):
        if prec.device.type == "cuda":
            torch.cuda.synchronize(prec.device)
        t = time.perf_counter()
        train_step(compiled, opt, scaler, prec, x, y)
        if prec.device.type == "cuda":
            torch.cuda.synchronize(prec.device)
        times.append(time.perf_counter() - t)
    return times[0], sorted(times[1:])[len(times[1:]) // 2]
