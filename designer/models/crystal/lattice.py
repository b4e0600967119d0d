"""Lattice parameterisation that is valid by construction.

A lattice is represented by the lower-triangular Cholesky factor L of its metric tensor
G = A Aᵀ (rows of L are the lattice vectors in a standard orientation):

    p = [log L00, log L11, log L22, L10 / L00, L20 / L00, L21 / L11]

The decoder's raw outputs are squashed into bounded intervals (log-diagonal in
[log 0.5 Å, log 100 Å], ratios in (-1, 1), which contains every Niggli-reduced cell), so any
output gives a finite lattice with volume exp(sum of log-diagonal) > 0.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from designer.numerics import bounded

LOG_LEN_MIN = math.log(0.5)
LOG_LEN_MAX = math.log(100.0)
RATIO_MAX = 1.0


def raw_to_params(raw: Tensor) -> Tensor:
    """``batch x 6`` unconstrained outputs -> ``batch x 6`` bounded lattice parameters."""
    logd = bounded(raw[..., :3], LOG_LEN_MIN, LOG_LEN_MAX)
    ratios = RATIO_MAX * torch.tanh(raw[..., 3:])
    return torch.cat([logd, ratios], dim=-1)


def params_to_lattice(p: Tensor) -> Tensor:
    """``batch x 6`` parameters -> ``batch x 3 x 3`` lower-triangular lattice (rows are vectors)."""
    d = torch.exp(p[..., :3])
    zero = torch.zeros_like(d[..., 0])
    l10 = p[..., 3] * d[..., 0]
    l20 = p[..., 4] * d[..., 0]
    l21 = p[..., 5] * d[..., 1]
    rows = [
        torch.stack([d[..., 0], zero, zero], -1),
        torch.stack([l10, d[..., 1], zero], -1),
        torch.stack([l20, l21, d[..., 2]], -1),
    ]
    return torch.stack(rows, -2)


def lattice_to_params(lattice: Tensor) -> Tensor:
    """``batch x 3 x 3`` lattice (any orientation) -> ``batch x 6`` parameters of its metric's Cholesky factor."""
    g = lattice.double() @ lattice.double().transpose(-1, -2)
    chol = torch.linalg.cholesky(g)
    d = torch.diagonal(chol, dim1=-2, dim2=-1)
    p = torch.stack([
        torch.log(d[..., 0]), torch.log(d[..., 1]), torch.log(d[..., 2]),
        chol[..., 1, 0] / d[..., 0], chol[..., 2, 0] / d[..., 0], chol[..., 2, 1] / d[..., 1],
    ], -1)
    return p.to(lattice.dtype)


def lattice_invariants(lattice: Tensor, num_atoms: Tensor) -> Tensor:
    """Rotation-invariant cell descriptors ``batch x 8``: log lengths, cos angles, log V/N, log N."""
    lengths = lattice.norm(dim=-1)  # batch x 3
    a, b, c = lattice[..., 0, :], lattice[..., 1, :], lattice[..., 2, :]
    cos = torch.stack([
        (b * c).sum(-1) / (lengths[..., 1] * lengths[..., 2]),
        (a * c).sum(-1) / (lengths[..., 0] * lengths[..., 2]),
        (a * b).sum(-1) / (lengths[..., 0] * lengths[..., 1]),
    ], -1)
    vol = torch.linalg.det(lattice).abs()
    n = num_atoms.to(lattice.dtype)
    return torch.cat([lengths.log(), cos, (vol / n).log().unsqueeze(-1), n.log().unsqueeze(-1)], -1)
