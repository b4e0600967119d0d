"""Periodic neighbour graphs: pymatgen's cell-list search, then a deterministic nearest-k cut.

Pure functions: a structure (lattice, fractional coordinates) in, edges with integer image
offsets out. Used once per structure and cached with the processed dataset. This module imports
no torch, so the preprocessing workers that run ``graph_csv_row`` start quickly.
"""

from __future__ import annotations

import numpy as np
from pymatgen.optimization.neighbors import find_points_in_spheres

from designer.data.crystal_io import CrystalRecord, parse_csv_row
from designer.data.lattice_symmetry import MAX_OPS, lattice_automorphisms


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
    lattice = np.ascontiguousarray(lattice, dtype=np.float64)
    given = np.asarray(frac_coords, dtype=np.float64)
    cell_of = np.floor(given)
    frac = given - cell_of  # search in [0, 1); offsets go back to the caller's coordinates at the end
    n = len(frac)
    cart = np.ascontiguousarray(frac @ lattice)
    # pymatgen's cell-list search (the one Structure.get_neighbor_list uses); a hair wider, so that the
    # cutoff below is decided by this module's own distance arithmetic
    dst, src, img, _ = find_points_in_spheres(cart, cart, float(cutoff) + 1e-6, np.ones(3, dtype=np.int64),
                                              lattice, tol=1e-8)
    dst, src = dst.astype(np.int64), src.astype(np.int64)
    img = np.rint(img).astype(np.int64)
    keep = ~((src == dst) & np.all(img == 0, axis=1))  # no self-loop
    dst, src, img = dst[keep], src[keep], img[keep]
    dist = np.linalg.norm((frac[src] + img - frac[dst]) @ lattice, axis=-1)
    keep = dist <= cutoff
    dst, src, img, dist = dst[keep], src[keep], img[keep], dist[keep]
    # by destination, then distance, ties by source and image (lexicographic): the nearest max_neighbors
    order = np.lexsort((img[:, 2], img[:, 1], img[:, 0], src, dist, dst))
    dst, src, img, dist = dst[order], src[order], img[order], dist[order]
    rank = np.arange(len(dst)) - np.searchsorted(dst, np.arange(n))[dst]
    keep = rank < max_neighbors
    dst, src, img, dist = dst[keep], src[keep], img[keep], dist[keep]
    off = img + cell_of[dst] - cell_of[src]
    return np.stack([src, dst]).astype(np.int64), off.astype(np.int64), dist


def build_graph(record: CrystalRecord, cutoff: float, max_neighbors: int) -> tuple:
    """Periodic edges plus the lattice automorphisms (padded to MAX_OPS with the identity).

    Returns:
        ``(edge_index (2 x E), offsets (E x 3), dist (E), ops (MAX_OPS x 3 x 3), num_ops)``.
    """
    ops = lattice_automorphisms(record.lattice)
    num_ops = len(ops)
    ops = np.concatenate([ops, np.repeat(ops[:1], MAX_OPS - len(ops), axis=0)])
    return (*periodic_neighbors(record.lattice, record.frac_coords, cutoff, max_neighbors), ops, num_ops)


def graph_worker(args) -> tuple:
    """``(record, cutoff, max_neighbors)`` -> ``build_graph`` (a worker's unit)."""
    return build_graph(*args)


def graph_csv_row(args) -> tuple[CrystalRecord, tuple]:
    """``(row, cutoff, max_neighbors)`` -> ``(record, graph)``: one CSV row (``parse_csv_row``'s
    tuple) parsed, canonicalised and graphed in one go, so a preprocessing worker returns each
    crystal once instead of parsing and graphing in two round trips."""
    row, cutoff, max_neighbors = args
    record = parse_csv_row(row)
    return record, build_graph(record, cutoff, max_neighbors)
