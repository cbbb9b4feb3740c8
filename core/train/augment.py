"""Whole-batch augmentation on the training device: one ``affine_grid`` + ``grid_sample`` call does
every sample's random crop, resize and flip at once (:class:`core.train.pipeline.DeviceLoader`'s
fast path), so a GPU never waits for a CPU worker."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from core.config import DataConfig


def crop_thetas(
    n: int, cfg: DataConfig, height: int, width: int, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """(n, 2, 3) affine matrices mapping output to input coordinates, per sample.

    crop_resize: area share U(crop_scale_min, 1), aspect exp(U(log 3/4, log 4/3)),
    position uniform inside the image (torchvision's RandomResizedCrop law).
    pad_crop: integer shifts in [-4, 4] with zero fill (pad 4 + random crop).
    """

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=device)

    theta = torch.zeros(n, 2, 3, device=device)
    if cfg.augment == "crop_resize":
        area = cfg.crop_scale_min + (1 - cfg.crop_scale_min) * rand(n)
        log_r = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * rand(n)
        ratio = torch.exp(log_r)
        w = torch.sqrt(area * ratio).clamp(max=1.0)
        h = torch.sqrt(area / ratio).clamp(max=1.0)
        cx = (2 * rand(n) - 1) * (1 - w)
        cy = (2 * rand(n) - 1) * (1 - h)
    elif cfg.augment == "pad_crop":
        w = torch.ones(n, device=device)
        h = torch.ones(n, device=device)
        shift = torch.floor(rand(2, n) * 9) - 4
        cx, cy = shift[0] * 2 / width, shift[1] * 2 / height
    else:
        w = h = torch.ones(n, device=device)
        cx = cy = torch.zeros(n, device=device)
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0) if cfg.flip and cfg.augment != "none" else torch.ones(n, device=device)
    theta[:, 0, 0] = w * flip
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = h
    theta[:, 1, 2] = cy
    return theta


def warp(x: torch.Tensor, theta: torch.Tensor, size: int) -> torch.Tensor:
    """Every sample's crop + resize + flip in one bilinear resampling (zeros outside the image)."""
    grid = F.affine_grid(theta, [x.shape[0], x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
