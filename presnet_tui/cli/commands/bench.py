"""``presnet bench``: the benchmark (and ``--suite gpu``, the GPU validation suite); core measures,
:mod:`presnet_tui.cli.views.bench` renders."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated, NoReturn, get_args

import typer

from core.errors import PresnetError
from presnet_tui.cli.commands.common import (
    DeviceOpt,
    app,
    one_of,
    user_errors,
)


def gpu_suite_script() -> Path:
    """The GPU validation suite, ``scripts/gpu_suite.py`` of a source checkout (it is not part of the package)."""
    path = Path(__file__).resolve().parents[3] / "scripts" / "gpu_suite.py"
    if not path.exists():
        raise PresnetError(
            "the GPU validation suite runs from a source checkout",
            where="--suite gpu",
            hint="clone the repository and run `python scripts/gpu_suite.py` (or scripts/gpu_check.sh) there",
        )
    return path


def _gpu_suite(device: str, out: Path | None, threads: int | None) -> NoReturn:
    """The suite as a child process, its output passed through line by line (a GPU run takes minutes);
    its exit code is this command's (2 and its one ``error:`` line for a refused --out)."""
    argv = [sys.executable, str(gpu_suite_script()), "--device", device]
    argv += ["--out", str(out)] if out is not None else []
    argv += ["--threads", str(threads)] if threads else []
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    drain = threading.Thread(target=lambda: errors.extend(proc.stderr or []), daemon=True)
    drain.start()
    for line in proc.stdout or []:
        sys.stdout.write(line)
        sys.stdout.flush()
    code = proc.wait()
    drain.join()
    sys.stderr.write("".join(errors))
    raise typer.Exit(code)


# The options whose help is longer than a line (the command's signature stays one option a line).
WidthOpt = Annotated[float | None, typer.Option(help="width multiplier (default: 1.0 on CUDA, 0.25 on CPU)")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", min=1, help="default: 64 on CUDA, 32 on CPU")]
ThreadsOpt = Annotated[int | None, typer.Option(min=1, help="CPU threads for torch (1 gives steadier CPU ratios)")]
SuiteOpt = Annotated[
    str, typer.Option(help="default, or gpu: the CUDA validation suite of BENCHMARKS.md (uses --device, --out)")
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="folder for the JSON results (gpu suite: its runs too)")
]


@app.command()
def bench(
    device: DeviceOpt = "auto",
    width: WidthOpt = None,
    depths: Annotated[str, typer.Option(help="blocks per stage, comma-separated")] = "3,4,6,3",
    stem: Annotated[str, typer.Option(help="imagenet or cifar")] = "imagenet",
    candidates: Annotated[str, typer.Option(help="factorized or joint")] = "factorized",
    image_size: Annotated[int, typer.Option("--image-size", min=8, help="side of the input images")] = 32,
    batch_size: BatchOpt = None,
    repeats: Annotated[int | None, typer.Option(min=1, help="timed repeats (default: 20 on CUDA, 9 on CPU)")] = None,
    warmup: Annotated[int, typer.Option(min=0, help="untimed steps before timing")] = 2,
    epoch_images: Annotated[int | None, typer.Option("--epoch-images", min=1, help="images in the (5) epoch")] = None,
    scopes: Annotated[str, typer.Option(help="scope letters to measure, comma-separated")] = "s,m,l,f",
    amp: Annotated[str, typer.Option(help="auto, bf16, fp16 or off")] = "auto",
    channels_last: Annotated[str, typer.Option("--channels-last", help="auto, on or off")] = "auto",
    threads: ThreadsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of the table")] = False,
    suite: SuiteOpt = "default",
    out: OutOpt = None,
) -> None:
    """Search cost against its physical limit, and memory against a DARTS-style step."""
    with user_errors():
        from core.config import Amp, ChannelsLast, ConfigError, validate
        from core.space import CANDIDATE_MODES, STEMS, scope_letters, validate_depths

        try:
            device = validate({"run": {"device": device}}).run.device
        except ConfigError as err:
            raise PresnetError(err.problems[0].removeprefix("run.device: "), where="--device") from None
        if one_of(suite, ("default", "gpu"), "--suite") == "gpu":  # sizes of its own: --device, --out, --threads
            _gpu_suite(device, out, threads)
        if width is not None and not 0 < width <= 4:
            raise PresnetError(f"{width} is outside (0, 4]", where="--width", hint="1.0 is ResNet-50's width")
        settings_kw = dict(
            device=device,
            width=width,
            depths=validate_depths(depths, where="--depths"),
            stem=one_of(stem, STEMS, "--stem"),
            candidates=one_of(candidates, CANDIDATE_MODES, "--candidates"),
            image_size=image_size,
            batch_size=batch_size,
            repeats=repeats,
            warmup=warmup,
            epoch_images=epoch_images,
            scopes=scope_letters(scopes, where="--scopes"),
            amp=one_of(amp, get_args(Amp), "--amp"),
            channels_last=one_of(channels_last, get_args(ChannelsLast), "--channels-last"),
            threads=threads,
        )
        from core.api.bench import BenchSettings, run_bench
        from presnet_tui.cli.views.bench import render

        result = run_bench(BenchSettings(**settings_kw))  # type: ignore[arg-type]
        if out is not None:
            from core.api.files import atomic_write_text

            out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out / "bench.json", json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n" if as_json else render(result) + "\n")
