"""Limits a crystal cell must meet before any neighbour search or atom assignment.

A cell far outside what real crystals look like (a 0.05 Å edge, a flat cell, NaN lengths) would make
the periodic neighbour search enumerate millions of images; it is refused first, with its reason.
The limits are wide: every crystal of perov_5, carbon_24 and mp_20 is far inside them.
"""

from __future__ import annotations

import math
import re

import numpy as np

MIN_HEIGHT = 0.8        # Å: the smallest distance between opposite faces of the cell
MAX_LENGTH = 500.0      # Å: the longest edge
MIN_VOLUME_PER_ATOM = 1.0     # Å^3 (real solids: ~2 for compressed hydrides, 5.7 diamond)
MAX_VOLUME_PER_ATOM = 5000.0  # Å^3 (a slab with 20 Å of vacuum stays far below)


def cell_heights(lattice: np.ndarray) -> np.ndarray:
    """``3`` distances between opposite faces of a ``3 x 3`` lattice (rows are the cell vectors): V / |b x c| etc."""
    a, b, c = lattice
    volume = abs(float(np.dot(a, np.cross(b, c))))
    areas = np.array([np.linalg.norm(np.cross(b, c)), np.linalg.norm(np.cross(c, a)), np.linalg.norm(np.cross(a, b))])
    return volume / np.maximum(areas, 1e-300)


def cell_problem(lattice: np.ndarray, n_atoms: int) -> str | None:
    """Why the ``3 x 3`` cell ``lattice`` holding ``n_atoms`` atoms is refused, or None when it is fine."""
    lattice = np.asarray(lattice, dtype=float)
    if lattice.shape != (3, 3) or not np.isfinite(lattice).all():
        return "the cell has non-finite lengths or angles"
    lengths = np.linalg.norm(lattice, axis=1)
    if lengths.max() > MAX_LENGTH:
        return f"a cell edge of {lengths.max():.4g} Å (more than {MAX_LENGTH:g} Å)"
    volume = abs(float(np.linalg.det(lattice)))
    heights = cell_heights(lattice)
    if heights.min() < MIN_HEIGHT:
        return (f"the cell is {heights.min():.3g} Å thick between opposite faces (less than {MIN_HEIGHT:g} Å; "
                f"edges {', '.join(f'{x:.3g}' for x in lengths)} Å)")
    per_atom = volume / max(n_atoms, 1)
    if per_atom < MIN_VOLUME_PER_ATOM:
        return f"{per_atom:.3g} Å^3 per atom (less than {MIN_VOLUME_PER_ATOM:g}; atoms would overlap)"
    if per_atom > MAX_VOLUME_PER_ATOM:
        return f"{per_atom:.4g} Å^3 per atom (more than {MAX_VOLUME_PER_ATOM:g}; mostly empty space)"
    return None


_PARAM = re.compile(r"^\s*_cell_(length_a|length_b|length_c|angle_alpha|angle_beta|angle_gamma)\s+(\S+)",
                    re.MULTILINE)


def cif_parameter_problem(text: str) -> str | None:
    """A stated cell parameter no crystal can have (an angle outside (0, 180) degrees, a length <= 0),
    read from the CIF text itself: a cosine cannot tell -90 degrees from 90, so the parsed cell would not."""
    for name, raw in _PARAM.findall(text):
        try:
            value = float(re.sub(r"\(\d+\)$", "", raw))  # 90.00(2): a standard uncertainty
        except ValueError:
            continue  # '?' or '.': the CIF parser reports it
        if not math.isfinite(value):
            return f"_cell_{name} is {raw}; cell parameters must be finite numbers"
        if name.startswith("angle") and not 0.0 < value < 180.0:
            return f"_cell_{name} is {value:g}; a cell angle must lie between 0 and 180 degrees"
        if name.startswith("length") and not value > 0.0:
            return f"_cell_{name} is {value:g}; a cell length must be positive"
    return None
