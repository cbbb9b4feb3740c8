"""Getting the model out of a run: a plain ``nn.Module``, ONNX, or a ``torch.export`` program.

A retrained network keeps torchvision's parameter names, so its state dict is also a
``torchvision.models.resnet50`` state dict when every block is 3x3/ReLU.  Exports are checked
before they are reported as written: the ONNX file is run in onnxruntime and the ``.pt2``
program reloaded with ``torch.export.load``, both on a test batch, against the PyTorch logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core.errors import PresnetError, import_extra
from core.run.rundir import RunDir
from core.space.arch import Architecture, load_arch

if TYPE_CHECKING:  # torch loads once the request has passed its checks: a refusal stays under a second
    import torch
    from torch import nn

FORMATS = ("onnx", "pt2")
WEIGHTS = ("last",)
#: Older runs also kept the epoch with the best *test* top-1: selecting on the test set, so no longer offered.
TEST_SELECTED = "best"
#: Largest |exported - PyTorch| logit difference accepted (onnxruntime or a reloaded torch.export
#: program): ATOL + RTOL * the largest |logit| (fp32 on the CPU).
RTOL = 1e-4
ATOL = 1e-4


def run_architecture(run: RunDir) -> Architecture:
    """The architecture the run's weights are of: its retrain's (a TUI retrain of a past epoch keeps
    its own file), else the search's arch.json."""
    if not run.retrain_arch_file.is_file():
        raise PresnetError(
            "the run has no architecture yet (no arch.json)",
            where=str(run.path),
            hint="wait for the search to end, or `presnet derive RUN -o arch.json`",
        )
    return load_arch(run.retrain_arch_file)


def resolve_weights(run: RunDir, weights: str | Path | None) -> Path:
    """``last`` (default: the final weights, the result the run reports) or a weights file's path."""
    name = "last" if weights is None else str(weights)
    if name == TEST_SELECTED:
        raise PresnetError(
            "`best` weights were picked by their test score, which makes the test result optimistic; "
            "presnet no longer selects on the test set",
            where="--weights",
            hint="use last (the final weights), or pass a weights file's path",
        )
    path = run.weights / f"{name}.pt" if name in WEIGHTS else Path(name)
    if not path.is_file():
        raise PresnetError(
            f"no {name} weights in the run yet" if name in WEIGHTS else "weights file not found",
            where=str(path),
            hint="retrain the architecture first (`presnet retrain RUN/arch.json`), or let the retrain run an epoch",
        )
    return path


def load_model(run_dir_or_arch: str | Path, weights: str | Path | None = None) -> nn.Module:
    """The network of a run, or of an architecture file, as a plain ``nn.Module`` in eval mode.

    ``run_dir_or_arch``: a run directory -- the retrained weights are loaded, ``weights`` =
    ``"last"`` (default, the final weights) or a path -- or an
    ``arch.json`` -- freshly initialised, unless ``weights`` names a weights file.
    """
    source = Path(run_dir_or_arch)
    if source.is_dir():
        run = RunDir.open(source)
        arch = run_architecture(run)
        path: Path | None = resolve_weights(run, weights)
    else:
        arch = load_arch(source)
        path = None if weights is None else Path(weights)
        if path is not None and not path.is_file():
            raise PresnetError("weights file not found", where=str(path), hint="pass a run's weights/last.pt")
    from core.run.checkpoint import load_checkpoint

    model = arch.build()
    if path is not None:
        payload = load_checkpoint(path, "weights")
        if Architecture.model_validate(payload["architecture"]).model_dump(exclude={"source"}) != arch.model_dump(
            exclude={"source"}
        ):
            raise PresnetError(
                "the weights belong to another architecture", where=str(path), hint="pass the run they were trained in"
            )
        model.load_state_dict(payload["model"])
    return model.eval()


@dataclass
class ExportResult:
    path: Path
    format: str
    max_abs_diff: float
    tolerance: str


def _batch(batch: int | Literal["dynamic"]) -> int:
    return 2 if batch == "dynamic" else int(batch)


def _check(reference: torch.Tensor, got: torch.Tensor, where: str) -> float:
    diff = float((reference - got).abs().max())
    limit = ATOL + RTOL * float(reference.abs().max())
    if not diff <= limit:
        raise PresnetError(
            f"exported logits differ from PyTorch's by {diff:.3g} (allowed {limit:.3g})",
            where=where,
            hint="report it: the exporter changed the network",
        )
    return diff


def export_onnx(model: nn.Module, path: Path, image_size: int, batch: int | Literal["dynamic"] = "dynamic") -> float:
    """ONNX through torch's exporter (needs ``onnxscript``), then checked in onnxruntime."""
    import torch

    ort = import_extra("onnxruntime", "export", where="export")
    import_extra("onnxscript", "export", where="export")  # torch's ONNX exporter needs it, and onnx
    import_extra("onnx", "export", where="export")
    x = torch.randn(_batch(batch), 3, image_size, image_size)
    dynamic = ({0: torch.export.Dim("batch", min=1)},) if batch == "dynamic" else None  # by position
    program = torch.onnx.export(
        model,
        (x,),
        dynamo=True,
        input_names=["x"],
        output_names=["logits"],
        dynamic_shapes=dynamic,
        verbose=False,
    )
    if program is None:  # torch returns None only for the legacy exporter, which dynamo=True does not use
        raise PresnetError("torch.onnx.export returned no program", where=str(path), hint="update torch")
    program.save(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    test = torch.randn(_batch(batch) + (1 if batch == "dynamic" else 0), 3, image_size, image_size)
    with torch.no_grad():
        reference = model(test)
    (got,) = session.run(["logits"], {"x": test.numpy()})
    return _check(reference, torch.from_numpy(got), str(path))


def export_pt2(model: nn.Module, path: Path, image_size: int, batch: int | Literal["dynamic"] = "dynamic") -> float:
    """A ``torch.export`` program saved as ``.pt2``, reloaded with ``torch.export.load`` and checked."""
    import torch

    x = torch.randn(_batch(batch), 3, image_size, image_size)
    dynamic = ({0: torch.export.Dim("batch", min=1)},) if batch == "dynamic" else None
    program = torch.export.export(model, (x,), dynamic_shapes=dynamic)
    torch.export.save(program, str(path))
    loaded = torch.export.load(str(path)).module()
    test = torch.randn(_batch(batch) + (1 if batch == "dynamic" else 0), 3, image_size, image_size)
    with torch.no_grad():
        return _check(model(test), loaded(test), str(path))


def export_run(
    run_dir: Path,
    fmt: str,
    out: Path | None = None,
    image_size: int | None = None,
    batch: int | Literal["dynamic"] = "dynamic",
    weights: str | Path | None = None,
) -> ExportResult:
    """Export a run's retrained network; the file is checked against PyTorch before it is reported."""
    if fmt not in FORMATS:
        raise PresnetError(f"unsupported format {fmt!r}", where="--format", hint=f"use one of {', '.join(FORMATS)}")
    if batch != "dynamic" and int(batch) < 1:
        raise PresnetError(f"batch {batch} is not positive", where="--batch", hint="use dynamic or a number >= 1")
    run = RunDir.open(Path(run_dir))
    run_architecture(run)  # no architecture, or no weights: refused before torch loads
    resolve_weights(run, weights)
    model = load_model(run.path, weights)
    size = image_size or run.config().data.image_size
    path = Path(out) if out is not None else run.path / f"model.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # written, checked, renamed: no half-written model
    try:
        diff = (export_onnx if fmt == "onnx" else export_pt2)(model, tmp, size, batch)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(path, fmt, diff, f"max |diff| <= {ATOL:g} + {RTOL:g} * max |logit|")
