"""Numerically delicate helpers shared by models, losses and metrics (one home for them)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def wrap_half(x: Tensor) -> Tensor:
    r"""Wrap fractional differences into [-0.5, 0.5) (the minimum-image convention).

    Args:
        x: ``... x 3`` fractional differences.

    Returns:
        ``... x 3`` tensor with every entry in [-0.5, 0.5); the gradient is the identity.
    """
    return x - torch.floor(x + 0.5)


def wrap_unit(x: Tensor) -> Tensor:
    """Wrap fractional coordinates into [0, 1). Shape is kept."""
    return x - torch.floor(x)


def circular_mean(d: Tensor, weights: Tensor | None = None, dim: int = -2) -> Tensor:
    r"""Mean of fractional values on the unit circle (period 1), along ``dim``.

    Args:
        d: ``... x n x 3`` fractional values.
        weights: optional ``... x n`` non-negative weights (masked atoms get 0).

    Returns:
        ``... x 3`` circular means in [-0.5, 0.5).
    """
    ang = 2 * math.pi * d
    s, c = torch.sin(ang), torch.cos(ang)
    if weights is not None:
        w = weights.unsqueeze(-1)
        s, c = s * w, c * w
    return torch.atan2(s.sum(dim), c.sum(dim)) / (2 * math.pi)


def bounded(raw: Tensor, low: float, high: float) -> Tensor:
    """Map any real ``raw`` smoothly into the open interval (low, high); finite for every input."""
    return low + (high - low) * torch.sigmoid(raw)


def gaussian_smearing(d: Tensor, start: float, stop: float, num: int) -> Tensor:
    """Radial basis expansion ``E -> E x num`` of distances with Gaussians on a regular grid."""
    centers = torch.linspace(start, stop, num, device=d.device, dtype=d.dtype)
    width = (stop - start) / max(num - 1, 1)
    return torch.exp(-0.5 * ((d.unsqueeze(-1) - centers) / width) ** 2)


def cosine_cutoff(d: Tensor, cutoff: float) -> Tensor:
    """Smooth envelope going from 1 at d=0 to 0 at the cutoff (shape kept)."""
    return 0.5 * (torch.cos(math.pi * d.clamp(max=cutoff) / cutoff) + 1.0)
