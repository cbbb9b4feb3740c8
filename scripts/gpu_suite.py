"""``presnet bench --suite gpu``: the paper's workload on one device, measured and checked, one report.

A validation harness, kept with the scripts rather than in the package: ``presnet bench --suite gpu``
loads it from a source checkout (:func:`presnet_tui.cli.commands.bench.load_gpu_suite`), and
``scripts/gpu_check.sh`` runs that command on a bare device machine.

The CUDA paths (bf16/fp16 autocast through the binary gates, the fp16 architecture scaler,
channels_last, cuDNN benchmark, the on-device pipeline at 224 px) cannot be exercised
without a GPU, and GPU time comes in short leases: so everything worth knowing from one
lease is gathered by one call, sized to finish in a few minutes on one H100:

1. the benchmark (:mod:`core.perf.bench`'s measurement functions) at each image size, its JSON per size;
2. a short search + retrain per scope through the real :class:`~core.train.job.Job` path on synthetic
   CIFAR-shaped data (10 classes, RGB, uint8), recording search and retrain images/s, the
   allocator's peak per phase, and -- from the benchmark at the run's size -- ProxylessNAS's
   memory against a DARTS-style softmax-weighted super-network's;
3. correctness checks of the precision and reliability paths, each with its criterion and figures.

On a CPU the same code runs at tiny sizes, so that a test keeps it working where CI has no GPU.
Nothing here prints: ``log`` receives progress lines and :func:`render` formats the report.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.config import Config, RunConfig, dump_yaml, load_config
from core.errors import PresnetError
from core.io import atomic_write_text
from core.perf import bench
from core.run.control import Control
from core.run.events import (
    Alphas,
    EpochEnd,
    EventBus,
    EventFollower,
    RetrainDone,
    RetrainEpochEnd,
    RetrainStarted,
    SearchStarted,
    SearchStopped,
    read_events,
)
from core.run.rundir import RunDir
from core.space import RESNET50_DEPTHS, SearchSpace
from core.space.network import NetSpec, SearchNet
from core.space.proxyless import Draw, Mode, PathSampler
from core.train.device import Precision, configure_torch, resolve_device
from core.train.job import Job, resume_job
from core.train.step import arch_step, grad_scaler, train_step

REPORT_FILE = "gpu_suite.json"
#: CIFAR-10 as Table I uses it: 50,000 training images, 10 % held out for the alphas during the search.
CIFAR_TRAIN = 50_000
CIFAR_SEARCH_TRAIN = 45_000
TABLE1_SEARCH_EPOCHS = 150
TABLE1_RETRAIN_EPOCHS = 200

Log = Callable[[str], None]


@dataclass(frozen=True)
class SuiteSettings:
    """Every size the suite uses; :func:`settings_for` picks the GPU or the tiny CPU set."""

    amp: str  # RunConfig.amp of the benchmark and the runs
    channels_last: str
    width: float
    depths: tuple[int, ...]
    stem: str
    bench_sizes: tuple[int, ...]
    bench_scopes: tuple[str, ...]
    bench_batch: int
    bench_repeats: int
    bench_warmup: int
    bench_epoch_batches: int  # batches in the benchmark's whole-epoch measurement (5)
    run_scopes: tuple[str, ...]
    run_size: int
    run_batch: int
    run_images: int  # synthetic images (80 % train of which 10 % val, 20 % test)
    search_epochs: int
    warmup_epochs: int
    retrain_epochs: int
    check_size: int
    check_batch: int
    arch_steps: int  # architecture steps of the bf16-vs-fp32 and the fp16 checks
    bf16_min_cosine: float  # least cosine similarity of the bf16 alpha change with fp32's
    kill_width: float
    kill_images: int
    kill_batch: int
    kill_timeout_s: float


GPU = SuiteSettings(
    amp="bf16",
    channels_last="on",
    width=1.0,
    depths=RESNET50_DEPTHS,
    stem="imagenet",
    bench_sizes=(32, 224),
    bench_scopes=("s", "f"),
    bench_batch=64,
    bench_repeats=10,
    bench_warmup=2,
    bench_epoch_batches=20,
    run_scopes=("s", "f"),
    run_size=224,
    run_batch=64,
    run_images=4000,  # 2,880 train images: 45 steps an epoch; 5 search epochs = 225 steps, 4 retrain = 200
    search_epochs=5,
    warmup_epochs=1,
    retrain_epochs=4,
    check_size=224,
    check_batch=32,
    arch_steps=20,
    bf16_min_cosine=0.9,
    kill_width=1.0,
    kill_images=800,
    kill_batch=32,
    kill_timeout_s=300.0,
)

CPU = SuiteSettings(
    amp="off",
    channels_last="off",
    width=0.125,
    depths=(1, 1, 1, 1),
    stem="imagenet",
    bench_sizes=(32,),
    bench_scopes=("s", "f"),
    bench_batch=8,
    bench_repeats=1,
    bench_warmup=1,
    bench_epoch_batches=4,
    run_scopes=("s", "f"),
    run_size=32,
    run_batch=16,
    run_images=320,
    search_epochs=3,
    warmup_epochs=1,
    retrain_epochs=2,
    check_size=64,  # at 32 px the tiny net's last stage is 1x1: BatchNorm over 16 values, bf16 noise dominates
    check_batch=16,
    arch_steps=8,
    bf16_min_cosine=0.9,
    kill_width=0.125,
    kill_images=640,
    kill_batch=16,
    kill_timeout_s=180.0,
)


def settings_for(device: torch.device) -> SuiteSettings:
    return GPU if device.type == "cuda" else CPU


@dataclass
class Check:
    """One correctness check: what it demands, whether it held, and the numbers it judged."""

    name: str
    criterion: str
    passed: bool
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class SuiteReport:
    device: str
    device_name: str
    torch: str
    cuda: str | None
    settings: dict[str, Any]
    bench: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<size>px" -> core.perf.bench's result
    runs: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    phases_s: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    files: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # part -> traceback of a part that crashed
    complete: bool = False  # every part ran (a report rewritten mid-suite says False)

    @property
    def passed(self) -> bool:
        return self.complete and not self.errors and all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


# -- helpers ----------------------------------------------------------------------------------------
def _peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        bench.sync(device)
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device: torch.device) -> int | None:
    """The allocator's peak since the last reset (CUDA only: a CPU has no such counter)."""
    if device.type != "cuda":
        return None
    bench.sync(device)
    return int(torch.cuda.max_memory_allocated(device))


def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


@contextlib.contextmanager
def _true_fp32(device: torch.device) -> Iterator[None]:
    """fp32 without TF32 (cuDNN and cuBLAS use TF32 by default on Ampere and later): the reference."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _config(s: SuiteSettings, device: str, scope: str, out: Path, **changes: dict[str, Any]) -> Config:
    """A run on synthetic CIFAR-shaped data at the suite's sizes; ``changes`` override per section."""
    data: dict[str, Any] = {
        "space": {"scope": scope},
        "network": {"stem": s.stem, "width_mult": s.width, "depths": list(s.depths)},
        "data": {
            "dataset": "synthetic",
            "image_size": s.run_size,
            "synthetic_size": s.run_images,
            "synthetic_classes": 10,
            "batch_size": s.run_batch,
        },
        "search": {"epochs": s.search_epochs, "warmup_epochs": s.warmup_epochs, "alphas_every": 10},
        "retrain": {"epochs": s.retrain_epochs},
        "run": {"device": device, "amp": s.amp, "channels_last": s.channels_last, "out": str(out)},
    }
    for section, values in changes.items():
        data[section].update(values)
    return Config.model_validate(data)


# -- 1. the benchmark ---------------------------------------------------------------------------
def bench_at(device: torch.device, prec: Precision, s: SuiteSettings, size: int) -> bench.BenchReport:
    """:mod:`core.perf.bench`'s measurements at one image size, in the shape of ``core.perf.bench.run``'s result."""
    spec = NetSpec(10, s.stem, s.width, s.depths)
    setup = bench.Setup(
        device, prec, spec, s.bench_batch, size, s.bench_repeats, s.bench_warmup, s.bench_batch * s.bench_epoch_batches
    )
    torch.manual_seed(0)
    return bench.measure(setup, s.bench_scopes)


# -- 2. search + retrain through the Job path -------------------------------------------------------
class PhasePeaks:
    """Allocator peak of the search and of the retrain, read at their start and end events.

    Subscribed to the job's bus, so it runs in the engine's thread right at the phase
    boundaries; the peak includes what the phase holds throughout (model, optimizer state,
    the decoded data set on the device)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.search: int | None = None
        self.retrain: int | None = None

    def __call__(self, event: Any) -> None:
        if isinstance(event, SearchStarted | RetrainStarted):
            _peak_reset(self.device)
        elif isinstance(event, SearchStopped):
            self.search = _peak(self.device)
        elif isinstance(event, RetrainDone):
            self.retrain = _peak(self.device)


def _rate(ends: list[tuple[int, float]], first: int, images_per_epoch: int) -> float | None:
    """Images/s between the end of epoch ``first`` and the last epoch's end (warm-up and autotuning excluded)."""
    base = [e for e in ends if e[0] == first]
    if not base or ends[-1][0] <= first:
        return None
    (e0, t0), (e1, t1) = base[0], ends[-1]
    return images_per_epoch * (e1 - e0) / max(t1 - t0, 1e-9)


def search_and_retrain(device: str, s: SuiteSettings, scope: str, out: Path, log: Log) -> dict[str, Any]:
    """One short search + retrain of ``scope`` via :class:`Job`; images/s and allocator peaks per phase."""
    cfg = _config(s, device, scope, out)
    run = RunDir.create(cfg)
    bus = EventBus()
    peaks = PhasePeaks(resolve_device(device))
    events: list[Any] = []
    bus.subscribe(peaks)
    kept = SearchStarted | RetrainStarted | EpochEnd | RetrainEpochEnd
    bus.subscribe(lambda e: events.append(e) if isinstance(e, kept) else None)
    t = time.perf_counter()
    result = Job(cfg, run, bus, Control()).run()
    wall = time.perf_counter() - t
    started = next((e for e in events if isinstance(e, SearchStarted)), None)
    retrain = next((e for e in events if isinstance(e, RetrainStarted)), None)
    search_spe = started.steps_per_epoch if started else 0
    retrain_spe = retrain.steps_per_epoch if retrain else 0
    search_ips = _rate(
        [(e.epoch, e.elapsed_s) for e in events if isinstance(e, EpochEnd)],
        s.warmup_epochs + 1,
        search_spe * s.run_batch,
    )
    retrain_ips = _rate(
        [(e.epoch, e.elapsed_s) for e in events if isinstance(e, RetrainEpochEnd)], 1, retrain_spe * s.run_batch
    )
    row: dict[str, Any] = {
        "scope": scope,
        "status": result.status,
        "message": result.message,
        "run_dir": str(run.path),
        "image_size": s.run_size,
        "batch_size": s.run_batch,
        "search_steps": search_spe * s.search_epochs,
        "retrain_steps": retrain_spe * s.retrain_epochs,
        "search_images_per_s": search_ips,
        "retrain_images_per_s": retrain_ips,
        "search_peak_bytes": peaks.search,
        "retrain_peak_bytes": peaks.retrain,
        "wall_s": round(wall, 2),
    }
    if search_ips and retrain_ips:
        search_h = TABLE1_SEARCH_EPOCHS * CIFAR_SEARCH_TRAIN / search_ips / 3600
        retrain_h = TABLE1_RETRAIN_EPOCHS * CIFAR_TRAIN / retrain_ips / 3600
        row["table1_row_hours"] = {"search": search_h, "retrain": retrain_h, "total": search_h + retrain_h}
    log(f"  scope {scope}: {result.status}, search {search_ips or 0:,.1f} img/s, retrain {retrain_ips or 0:,.1f} img/s")
    return row


def memory_ratio(bench_result: dict[str, Any], scope: str) -> dict[str, float] | None:
    """DARTS-style over ProxylessNAS memory from a benchmark result: activations, and totals with parameters."""
    for sc in bench_result["scopes"]:
        if sc["scope"] == scope:
            proxyless_act = max(sc["weight_bytes"], sc["arch_bytes"])
            return {
                "activation_darts_over_proxyless": sc["darts_bytes"] / proxyless_act,
                "total_darts_over_proxyless": sc["darts_total_bytes"] / sc["proxyless_total_bytes"],
                "proxyless_activation_over_plain": proxyless_act / bench_result["plain"]["activation_bytes"],
            }
    return None


# -- 3. checks --------------------------------------------------------------------------------
class ReplaySampler(PathSampler):
    """Draws like a :class:`PathSampler` and keeps the draws; after :meth:`replay` it returns them again.

    A second run then trains exactly the paths the first one did, so that two precisions
    differ only by arithmetic, not by a sample that went the other way."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.kept: list[Draw] = []
        self._next: int | None = None

    def draw(self, logits: Any, mode: Mode, uniform: bool = False) -> Draw:
        if self._next is None:
            drawn = super().draw(logits, mode, uniform)
            self.kept.append(drawn)
            return drawn
        drawn = self.kept[self._next]
        self._next += 1
        return drawn

    def replay(self) -> None:
        self._next = 0


def _check_net(device: torch.device, s: SuiteSettings, seed: int = 0) -> SearchNet:
    torch.manual_seed(seed)
    spec = NetSpec(10, s.stem, s.width, s.depths)
    return SearchNet(spec, SearchSpace.build("f", depths=s.depths)).to(device)


def _check_batches(s: SuiteSettings, n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    size = s.check_size
    return [
        (torch.randn(s.check_batch, 3, size, size, generator=g), torch.randint(0, 10, (s.check_batch,), generator=g))
        for _ in range(n)
    ]


def _on(prec: Precision, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.to(prec.device)
    if prec.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(prec.device)


def _alphas(net: SearchNet) -> torch.Tensor:
    return torch.cat([a.detach().double().flatten().cpu() for a in net.arch_parameters()])


def check_bf16_alphas(device: torch.device, s: SuiteSettings) -> Check:
    """N architecture steps (the engine's, with its Adam) from the same weights, data and paths, in fp32
    (no TF32) and in bf16 with channels_last: the two alpha changes must agree."""
    start = _check_net(device, s)
    batches = _check_batches(s, s.arch_steps, seed=1)
    sampler = ReplaySampler(7)
    out: dict[str, torch.Tensor] = {}
    a0 = _alphas(start)
    for name, prec in (
        ("fp32", Precision(device, None, False)),
        ("bf16", Precision(device, torch.bfloat16, True)),
    ):
        net = copy.deepcopy(start)  # the same weights, BatchNorm statistics and alphas for both
        if prec.channels_last:
            net = net.to(memory_format=torch.channels_last)
        net.train()
        opt = torch.optim.Adam(net.arch_parameters(), lr=1e-3, betas=(0.0, 0.999))
        scaler = grad_scaler(prec)
        if name == "bf16":
            sampler.replay()
        with _true_fp32(device) if name == "fp32" else contextlib.nullcontext():
            for x, y in batches:
                arch_step(net, sampler, Mode.TWO_PATH, opt, scaler, prec, *_on(prec, x, y))
        out[name] = _alphas(net)
        del net, opt
        _free(device)
    d32, d16 = out["fp32"] - a0, out["bf16"] - a0
    rel = float((d16 - d32).norm() / d32.norm().clamp_min(1e-12))
    cos = float(torch.nn.functional.cosine_similarity(d16, d32, dim=0))
    prob_diff = max(
        float((torch.softmax(a.view(-1, n), 1) - torch.softmax(b.view(-1, n), 1)).abs().max())
        for a, b, n in _split_rows(out["bf16"], out["fp32"], start)
    )
    return Check(
        "bf16 alphas match fp32",
        f"after {s.arch_steps} two-path architecture steps (the engine's Adam), cos(d_bf16, d_fp32) >= "
        f"{s.bf16_min_cosine}, d the alphas' change from the same weights, data and sampled paths",
        bool(d32.norm() > 0) and cos >= s.bf16_min_cosine,
        {
            "arch_steps": s.arch_steps,
            "relative_error": rel,
            "cosine": cos,
            "fp32_change_norm": float(d32.norm()),
            "max_probability_difference": prob_diff,
            "min_cosine": s.bf16_min_cosine,
        },
    )


def _split_rows(a: torch.Tensor, b: torch.Tensor, net: SearchNet) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """The flat alpha vectors split back into (kernel, activation) matrices, with their row widths."""
    out, at = [], 0
    for p in net.arch_parameters():
        n = p.numel()
        out.append((a[at : at + n], b[at : at + n], p.shape[1]))
        at += n
    return out


def check_fp16_scaler(device: torch.device, s: SuiteSettings) -> Check:
    """fp16 search steps with the engine's two scalers; halfway, the architecture scaler is forced to a
    scale that overflows fp16 (2^60): that step must be skipped, and no step may leave a non-finite alpha."""
    prec = Precision(device, torch.float16, device.type == "cuda")
    net = _check_net(device, s)
    if prec.channels_last:
        net = net.to(memory_format=torch.channels_last)
    net.train()
    w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.05, momentum=0.9, nesterov=True)
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=1e-3, betas=(0.0, 0.999))
    scaler, arch_scaler = grad_scaler(prec), grad_scaler(prec)
    sampler = PathSampler(11)
    batches = _check_batches(s, s.arch_steps, seed=2)
    forced = s.arch_steps // 2
    non_finite, skipped, forced_skipped = 0, 0, False
    a0 = _alphas(net)
    for i, (x, y) in enumerate(batches):
        xb, yb = _on(prec, x, y)
        net.sample_weight_paths(sampler)
        train_step(net, w_opt, scaler, prec, xb, yb)
        if i == forced:
            arch_scaler.update(2.0**60)
        before, scale = _alphas(net), arch_scaler.get_scale()
        arch_step(net, sampler, Mode.TWO_PATH, a_opt, arch_scaler, prec, xb, yb)
        after = _alphas(net)
        non_finite += int(not torch.isfinite(after).all())
        if arch_scaler.get_scale() < scale:
            skipped += 1
            forced_skipped |= i == forced and torch.equal(before, after)
        if i == forced:
            arch_scaler.update(2.0**16)  # back to the default start; backing off from 2^60 takes 44 steps
    moved = float((_alphas(net) - a0).abs().max())
    return Check(
        "fp16 architecture scaler keeps alphas finite",
        f"{s.arch_steps} fp16 search steps: no non-finite alpha after any step; the step at a forced "
        "overflowing scale (2^60) is skipped; the other steps move the alphas",
        non_finite == 0 and forced_skipped and moved > 0,
        {
            "steps": s.arch_steps,
            "non_finite_steps": non_finite,
            "skipped_steps": skipped,
            "forced_overflow_skipped": forced_skipped,
            "max_alpha_change": moved,
            "final_arch_scale": arch_scaler.get_scale(),
        },
    )


def _spawn(what: str, target: Path, log_file: Path) -> subprocess.Popen:
    """This script's :func:`child` in a fresh interpreter (a real process that SIGKILL can end)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", what, str(target)]
    with open(log_file, "ab") as f:
        return subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=env)


def child(argv: list[str]) -> int:
    """The kill/resume check's subprocess: ``run <config.yaml>`` starts a search + retrain,
    ``resume <run dir>`` continues one, as ``presnet run``/``presnet resume`` do (headless, no UI)."""
    what, path = argv
    if what == "run":
        cfg = load_config(Path(path))
        job = Job(cfg, RunDir.create(cfg), EventBus(), Control())
    else:
        job = resume_job(RunDir.open(Path(path)))
    result = job.run()
    print(f"{what}: {result.status} {result.message or ''}", flush=True)
    return 0 if result.status == "done" else 1


def _wait_for_kill_point(proc: subprocess.Popen, events_file: Path, after_epoch: int, timeout: float) -> str | None:
    """Block until the run has emitted an alphas event after epoch ``after_epoch`` ended -- mid-epoch, past
    a checkpoint, with event lines the checkpoint does not know -- or say why that did not happen."""
    follower = EventFollower(events_file)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in follower.poll():
            if isinstance(e, Alphas) and e.epoch > after_epoch:
                return None
        if proc.poll() is not None:
            return f"the run ended (exit {proc.returncode}) before the kill point"
        time.sleep(0.02)
    return f"no kill point within {timeout:.0f} s"


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def check_kill_resume(device: str, s: SuiteSettings, root: Path) -> Check:
    """A search + retrain in a subprocess, SIGKILLed mid-epoch after its first search epoch, then resumed
    in another: the event history must hold every epoch and every alphas step exactly once."""
    out = root / "kill-resume"
    cfg = _config(
        s,
        device,
        "s",
        out,
        network={"width_mult": s.kill_width},
        data={"synthetic_size": s.kill_images, "batch_size": s.kill_batch},
        search={"epochs": s.warmup_epochs + 2, "alphas_every": 1},
        retrain={"epochs": 1},
    )
    cfg_file = root / "kill-resume.yaml"
    atomic_write_text(cfg_file, dump_yaml(cfg))
    log_file = root / "kill-resume.log"
    proc = _spawn("run", cfg_file, log_file)
    problem = _wait_for_kill_point(proc, out / "events.jsonl", s.warmup_epochs, s.kill_timeout_s)
    killed_alive = proc.poll() is None
    if killed_alive:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines_at_kill = _count_lines(out / "events.jsonl")
    resumed = _spawn("resume", out, log_file)
    try:
        rc = resumed.wait(timeout=s.kill_timeout_s)
    except subprocess.TimeoutExpired:
        resumed.kill()
        rc = resumed.wait()
        problem = problem or f"the resume did not finish within {s.kill_timeout_s:.0f} s"
    events = read_events(out / "events.jsonl") if (out / "events.jsonl").exists() else []
    epochs = [e.epoch for e in events if isinstance(e, EpochEnd)]
    retrain = [e.epoch for e in events if isinstance(e, RetrainEpochEnd)]
    steps = [e.arch_step for e in events if isinstance(e, Alphas)]
    starts = [e.resumed for e in events if isinstance(e, SearchStarted)]
    want_epochs = list(range(1, cfg.search.epochs + 1))
    ok = {
        "killed_while_running": killed_alive and problem is None,
        "resume_exit_0": rc == 0,
        "epochs_once_each": epochs == want_epochs,
        "retrain_epochs_once_each": retrain == [1],
        "alphas_steps_strictly_increasing": bool(steps) and all(a < b for a, b in zip(steps, steps[1:])),
        "one_start_then_one_resume": starts == [False, True],
        "one_search_stopped": sum(isinstance(e, SearchStopped) for e in events) == 1,
        "one_retrain_done": sum(isinstance(e, RetrainDone) for e in events) == 1,
    }
    return Check(
        "kill -9 then resume: history duplicate-free",
        "a subprocess run SIGKILLed mid search epoch, resumed by another: epochs, alphas steps and "
        "retrain epochs each appear once, in order; one start, one resume, one stop, one retrain end",
        all(ok.values()),
        {
            **ok,
            "problem": problem,
            "event_lines_at_kill": lines_at_kill,
            "event_lines_final": len(events),
            "epochs": epochs,
            "alphas_steps": len(steps),
            "log": str(log_file),
        },
    )


# -- the suite ---------------------------------------------------------------------------------
def check_out(out: Path) -> None:
    """Refuse an ``--out`` that already holds a suite's runs, before any work (runs are never overwritten)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PresnetError("exists and is not a directory", where=f"--out ({out})", hint="choose another --out")
    if (out / REPORT_FILE).exists() or (out / "runs").exists():
        raise PresnetError("already holds a GPU suite's results", where=f"--out ({out})", hint="choose another --out")


def default_out() -> Path:
    return Path("runs") / time.strftime("gpu-suite-%Y%m%d-%H%M%S")


def run_suite(
    device: str, out: Path, log: Log = lambda line: None, settings: SuiteSettings | None = None
) -> SuiteReport:
    """Benchmark, search + retrain per scope, checks; writes ``out``/gpu_suite.json and one JSON per
    benchmark size, and returns the report (``report.passed``: every check held)."""
    out = Path(out)
    check_out(out)
    dev = resolve_device(device)
    s = settings or settings_for(dev)
    prec = configure_torch(RunConfig(device=device, amp=s.amp, channels_last=s.channels_last), dev)
    report = SuiteReport(
        device=str(dev),
        device_name=torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        torch=torch.__version__,
        cuda=torch.version.cuda if dev.type == "cuda" else None,
        settings=asdict(s),
    )
    (out / "runs").mkdir(parents=True)
    t_all = time.perf_counter()
    report.files["report"] = str(out / REPORT_FILE)

    def save() -> None:
        report.wall_s = round(time.perf_counter() - t_all, 2)
        atomic_write_text(out / REPORT_FILE, json.dumps(report.to_dict(), indent=2, default=str) + "\n")

    def phase(name: str, fn: Callable[[], Any]) -> Any:
        """Run one part; a crash is recorded with its traceback and the suite goes on, so that one
        GPU lease yields every part that works. The report is rewritten after each part, so a run
        cut short by a time limit still leaves what it measured."""
        log(f"{name} ...")
        t = time.perf_counter()
        try:
            return fn()
        except Exception:
            report.errors[name] = traceback.format_exc()
            log(f"{name} FAILED:\n{report.errors[name]}")
            return None
        finally:
            report.phases_s[name] = round(time.perf_counter() - t, 2)
            _free(dev)
            save()

    # The checks first and the benchmark last: a run cut short by its time limit loses timings, not verdicts.
    for name, check in (
        ("check bf16", lambda: check_bf16_alphas(dev, s)),
        ("check fp16", lambda: check_fp16_scaler(dev, s)),
    ):
        result = phase(name, check)
        if result is not None:
            report.checks.append(result)
    for scope in s.run_scopes:
        run_dir = out / "runs" / f"search-{scope}"
        row = phase(f"search+retrain {scope}", lambda d=run_dir, sc=scope: search_and_retrain(str(dev), s, sc, d, log))
        if row is not None:
            report.runs.append(row)
    result = phase("check kill-resume", lambda: check_kill_resume(str(dev), s, out / "runs"))
    if result is not None:
        report.checks.append(result)
    for size in s.bench_sizes:
        result = phase(f"bench {size}px", lambda size=size: bench_at(dev, prec, s, size))
        if result is not None:
            report.bench[f"{size}px"] = result
            path = out / f"bench-{size}px.json"
            atomic_write_text(path, json.dumps(result, indent=2) + "\n")
            report.files[f"bench {size}px"] = str(path)
    run_bench = report.bench.get(f"{s.run_size}px")
    for row in report.runs:
        row["memory"] = memory_ratio(run_bench, row["scope"]) if run_bench else None
    report.checks.append(
        Check(
            "search and retrain runs complete",
            "every search + retrain run ends with status done",
            len(report.runs) == len(s.run_scopes) and all(r["status"] == "done" for r in report.runs),
            {r["scope"]: r["status"] for r in report.runs},
        )
    )
    report.complete = True
    save()
    return report


# -- the summary -------------------------------------------------------------------------------
def _mib(b: float | None) -> str:
    return "-" if b is None else f"{b / 2**20:,.1f}"


def _num(x: float | None, fmt: str = ",.1f") -> str:
    return "-" if x is None else format(x, fmt)


def render(r: SuiteReport) -> str:
    """The summary table: benchmark per size and scope, the runs, the checks."""
    lines = [
        f"GPU suite on {r.device} ({r.device_name}), torch {r.torch}, CUDA {r.cuda or '-'}, "
        f"amp {r.settings['amp']}, channels_last {r.settings['channels_last']}; {r.wall_s:,.1f} s",
        "",
        "benchmark  size | plain img/s | scope | two-path ratio | epoch img/s | act MiB plain/proxyless/DARTS",
    ]
    for size, b in r.bench.items():
        p = b["plain"]
        for sc in b["scopes"]:
            lines.append(
                f"{size:>15} | {p['images_per_s']:11,.1f} | {sc['scope']:>5} | {sc['two_path_ratio']:14.2f} | "
                f"{sc['epoch_images_per_s']:11,.1f} | {_mib(p['activation_bytes'])}/"
                f"{_mib(max(sc['weight_bytes'], sc['arch_bytes']))}/{_mib(sc['darts_bytes'])}"
            )
    lines += [
        "",
        "search+retrain scope | search img/s | peak MiB | retrain img/s | peak MiB | DARTS/proxyless mem "
        "| Table I row (h, extrapolated)",
    ]
    for row in r.runs:
        mem = row.get("memory")
        t1 = row.get("table1_row_hours")
        lines.append(
            f"{row['scope']:>20} | {_num(row['search_images_per_s']):>12} | {_mib(row['search_peak_bytes']):>8} | "
            f"{_num(row['retrain_images_per_s']):>13} | {_mib(row['retrain_peak_bytes']):>8} | "
            f"{(format(mem['total_darts_over_proxyless'], '.2f') + 'x') if mem else '-':>19} | "
            f"{(format(t1['search'], ',.1f') + ' + ' + format(t1['retrain'], ',.1f')) if t1 else '-'}"
        )
    lines += ["", "checks"]
    for c in r.checks:
        shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in c.figures.items() if k != "log"}
        lines.append(f"  {'PASS' if c.passed else 'FAIL'}  {c.name}: {shown}")
    for name, tb in r.errors.items():
        lines.append(f"  ERROR {name}: {tb.strip().splitlines()[-1]}")
    lines.append("")
    lines.append(f"{'all checks passed' if r.passed else 'SOME CHECKS FAILED'}; report: {r.files.get('report')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python scripts/gpu_suite.py --device cuda --out DIR``: the suite as a script (``presnet bench
    --suite gpu`` and scripts/gpu_check.sh run it so); exit 0 when every check passed, 1 when one
    failed, 2 (one ``error:`` line) for bad input."""
    import argparse

    parser = argparse.ArgumentParser(description="presnet's GPU validation suite (BENCHMARKS.md)")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (tiny sizes)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the report and its runs (must be new)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    parser.add_argument("--child", nargs=2, metavar=("WHAT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    try:
        if args.threads:
            torch.set_num_threads(args.threads)
        report = run_suite(args.device, args.out or default_out(), log=lambda line: print(line, flush=True))
    except PresnetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(render(report), flush=True)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
