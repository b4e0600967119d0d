"""Negative log-likelihoods (up to constants) for continuous outputs: Gaussian or Laplace."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Likelihood = Literal["gaussian", "laplace"]


def nll(residual: Tensor, kind: Likelihood, scale: Tensor | float = 1.0) -> Tensor:
    """Elementwise NLL of a residual (prediction - target) under a fixed-scale likelihood.

    Gaussian: ``0.5 (r / s)^2`` (mean squared error); Laplace: ``|r| / s`` (L1, robust to outliers).
    Shape is kept.
    """
    r = residual / scale
    if kind == "gaussian":
        return 0.5 * r * r
    if kind == "laplace":
        return r.abs()
    raise ValueError(f"unknown likelihood {kind!r}")


def norm_nll(vectors: Tensor, kind: Likelihood, scale: Tensor | float = 1.0) -> Tensor:
    """NLL of displacement vectors ``... x 3`` through their length: ``... `` (Laplace on the norm is smooth-safe)."""
    if kind == "gaussian":
        return 0.5 * (vectors / scale).pow(2).sum(-1)
    return torch.sqrt((vectors / scale).pow(2).sum(-1) + 1e-12)
