"""Automorphisms of a lattice: integer matrices M (entries in {-1, 0, 1}, det = ±1) with M G Mᵀ = G.

For a crystal with lattice A and fractional coordinates f, ``f @ M`` describes an isometric copy
in the same basis. The coordinate loss takes the minimum over these so that a cubic cell whose
distortion lies along x, y or z (or -x ...) gives one target, not three contradictory ones.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

MAX_OPS = 48  # the holohedry of the cubic lattice has 48 operations; no lattice has more


_ROWS = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=np.float64)  # 27 x 3: every row a candidate has


@lru_cache(maxsize=1)
def _candidates() -> tuple[np.ndarray, np.ndarray]:
    """The ~3.5k unimodular matrices with entries in {-1, 0, 1} (``n x 3 x 3``), and each one's rows as
    indices into ``_ROWS`` (``n x 3``)."""
    mats = np.array(list(itertools.product((-1, 0, 1), repeat=9)), dtype=np.int64).reshape(-1, 3, 3)
    det = np.rint(np.linalg.det(mats)).astype(int)
    mats = mats[np.abs(det) == 1]
    rows = ((mats + 1) @ np.array([9, 3, 1])).astype(np.int64)  # base-3 digits, the order of _ROWS
    return mats.astype(np.float64), rows


def lattice_automorphisms(lattice: np.ndarray, rtol: float = 2e-3) -> np.ndarray:
    """Integer matrices that map the lattice onto itself (identity first).

    Args:
        lattice: ``3 x 3`` rows are lattice vectors (a Niggli-reduced cell: its automorphisms
            have entries in {-1, 0, 1}).
        rtol: tolerance relative to the mean squared length.

    Returns:
        ``n_ops x 3 x 3`` float array (1 <= n_ops <= 48).
    """
    g = lattice @ lattice.T
    mats, rows = _candidates()
    scale = np.trace(g) / 3.0
    # the diagonal first: row i of M must have the length of lattice vector i (a gather over 27 lengths)
    lengths = np.einsum("ri,ij,rj->r", _ROWS, g, _ROWS)
    mats = mats[np.all(np.abs(lengths[rows] - np.diag(g)) <= rtol * scale, axis=1)]
    gm = mats @ g @ mats.transpose(0, 2, 1)
    ok = np.all(np.abs(gm - g) <= rtol * scale, axis=(1, 2))
    ops = mats[ok]
    ident = np.all(ops == np.eye(3), axis=(1, 2))
    ops = np.concatenate([ops[ident], ops[~ident]])[:MAX_OPS]
    return ops
