"""Seeded train / hold-out splits."""

from __future__ import annotations

import numpy as np


def holdout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, holdout)``: a seeded random ``fraction`` of ``n`` rows is held out (at least 1 when n > 1)."""
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(n * fraction))
    if n > 1:
        k = min(max(k, 1), n - 1)
    else:
        k = 0
    return np.sort(perm[k:]), np.sort(perm[:k])
