"""Periodic neighbour graphs, vectorised in numpy (no pyg-lib needed).

Pure functions: a structure (lattice, fractional coordinates) in, edges with integer image
offsets out. Used once per structure and cached with the processed dataset.
"""

from __future__ import annotations

import numpy as np


def image_ranges(lattice: np.ndarray, cutoff: float) -> np.ndarray:
    """Number of periodic images needed along each lattice vector to see everything within ``cutoff``.

    Args:
        lattice: ``3 x 3`` lattice, rows are the lattice vectors (Å).
        cutoff: radius (Å).

    Returns:
        ``3`` integers n_k: images -n_k..n_k along vector k suffice (interplanar spacing argument).
    """
    recip = np.linalg.inv(lattice).T  # rows b_k with a_i . b_k = delta_ik
    spacing = 1.0 / np.linalg.norm(recip, axis=1)
    return np.ceil(cutoff / spacing).astype(int)


def periodic_neighbors(
    lattice: np.ndarray,
    frac_coords: np.ndarray,
    cutoff: float,
    max_neighbors: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges to the ``max_neighbors`` nearest periodic neighbours of every atom within ``cutoff``.

    An edge ``(src=j, dst=i, offset=o)`` means atom j seen in the image cell o is a neighbour of
    atom i: its displacement is ``(frac[j] + o - frac[i]) @ lattice``. An atom's own images
    (o != 0) are neighbours too; the atom itself (j == i, o == 0) is not.

    Args:
        lattice: ``3 x 3`` rows are lattice vectors (Å).
        frac_coords: ``N x 3`` fractional coordinates (any real values; offsets refer to these).
        cutoff: neighbour radius (Å).
        max_neighbors: keep at most this many nearest neighbours per atom (ties broken by index).

    Returns:
        edge_index: ``2 x E`` int64 (row 0 = source j, row 1 = destination i), sorted by destination.
        offsets: ``E x 3`` int64 image offsets.
        distances: ``E`` float64 distances (Å).
    """
    lattice = np.asarray(lattice, dtype=np.float64)
    given = np.asarray(frac_coords, dtype=np.float64)
    cell_of = np.floor(given)
    frac = given - cell_of  # image ranges below assume coordinates in [0, 1)
    n = len(frac)
    nk = image_ranges(lattice, cutoff)
    grids = [np.arange(-k, k + 1) for k in nk]
    offsets = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, 3)  # M x 3
    # displacement of j (in image o) from i: N_i x N_j x M x 3
    diff = frac[None, :, None, :] + offsets[None, None, :, :] - frac[:, None, None, :]
    dist = np.linalg.norm(diff @ lattice, axis=-1)  # N x N x M
    zero = np.all(offsets == 0, axis=1)
    idx = np.arange(n)
    dist[idx, idx, np.flatnonzero(zero)[0]] = np.inf  # no self-loop
    dist = dist.reshape(n, -1)  # N_i x (N_j * M)
    dist = np.where(dist <= cutoff, dist, np.inf)
    k = min(max_neighbors, dist.shape[1])
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]  # N_i x k
    chosen = np.take_along_axis(dist, order, axis=1)
    keep = np.isfinite(chosen)
    dst = np.repeat(idx, k).reshape(n, k)[keep]
    flat = order[keep]
    src = flat // len(offsets)
    off = offsets[flat % len(offsets)] + cell_of[dst] - cell_of[src]  # back to the caller's coordinates
    return (
        np.stack([src, dst]).astype(np.int64),
        off.astype(np.int64),
        chosen[keep],
    )
