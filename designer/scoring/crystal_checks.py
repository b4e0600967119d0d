"""Pure checks of one crystal: geometry and charge balance, each with the reason it fails.

Every function takes a pymatgen ``Structure`` and returns plain values (never raises).
"""

from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Structure

from designer.metrics._validity import MIN_DISTANCE, MIN_VOLUME, _element_data, _reduced_key, _smact_module


def geometry(structure: Structure, min_distance: float = MIN_DISTANCE) -> dict:
    """``{"geometry_ok", "min_distance", "volume_per_atom", "density", "geometry_reason"}``.

    Fails when the cell is not finite, its volume is below 0.1 A^3, or two atoms (minimum image)
    are closer than ``min_distance`` (default 0.5 A); the reason names the closest pair.
    """
    out = {"geometry_ok": False, "min_distance": float("nan"), "volume_per_atom": float("nan"),
           "density": float("nan"), "geometry_reason": ""}
    try:
        n = len(structure)
        if n == 0:
            out["geometry_reason"] = "no atoms"
            return out
        if not (np.all(np.isfinite(structure.lattice.matrix)) and np.all(np.isfinite(structure.frac_coords))):
            out["geometry_reason"] = "non-finite lattice or coordinates"
            return out
        vol = float(structure.volume)
        out["volume_per_atom"] = vol / n
        out["density"] = float(structure.density)
        if not math.isfinite(vol) or vol < MIN_VOLUME:
            out["geometry_reason"] = f"cell volume {vol:.3g} A^3 < {MIN_VOLUME}"
            return out
        if n > 1:
            d = np.asarray(structure.distance_matrix, dtype=float)
            np.fill_diagonal(d, np.inf)
            i, j = np.unravel_index(int(np.argmin(d)), d.shape)
            out["min_distance"] = float(d[i, j])
            if d[i, j] < min_distance:
                out["geometry_reason"] = (f"atoms {i} ({structure[i].specie}) and {j} ({structure[j].specie}) are "
                                          f"{d[i, j]:.2f} A apart (< {min_distance} A)")
                return out
        out["geometry_ok"] = True
        return out
    except Exception as exc:  # a structure pymatgen cannot measure fails the check, with the reason
        out["geometry_reason"] = f"cannot measure: {exc}"
        return out


def charge_balance(structure: Structure) -> dict:
    """``{"charge_neutral", "electronegativity_ok", "oxidation_states", "charge_reason"}`` (SMACT).

    ``charge_neutral``: some combination of the elements' smact14 oxidation states sums to zero for
    the reduced formula (single elements and all-metal compositions count as neutral: alloys);
    ``electronegativity_ok``: for some neutral combination, every cation is less electronegative
    (Pauling) than every anion. ``oxidation_states``: the first combination that passes both.
    """
    out = {"charge_neutral": False, "electronegativity_ok": False, "oxidation_states": "", "charge_reason": ""}
    key = _reduced_key(structure)
    if key is None:
        out["charge_reason"] = "composition cannot be read as integer counts"
        return out
    symbols, counts = key
    smact = _smact_module()
    if len(symbols) == 1 or all(s in smact.metals for s in symbols):
        out.update(charge_neutral=True, electronegativity_ok=True, oxidation_states="metallic/elemental")
        return out
    data = [_element_data(s) for s in symbols]
    if any(d is None or not d[0] for d in data):
        missing = [s for s, d in zip(symbols, data) if d is None or not d[0]]
        out["charge_reason"] = f"no known oxidation states for {', '.join(missing)}"
        return out
    import itertools

    neutral_found = False
    for combo in itertools.product(*[d[0] for d in data]):
        if sum(o * c for o, c in zip(combo, counts)) != 0:
            continue
        neutral_found = True
        if _pauling_ok(combo, [d[1] for d in data]):
            out.update(charge_neutral=True, electronegativity_ok=True,
                       oxidation_states=" ".join(f"{s}{o:+d}" for s, o in zip(symbols, combo)))
            return out
    formula = "".join(f"{s}{c if c > 1 else ''}" for s, c in zip(symbols, counts))
    if neutral_found:
        out["charge_neutral"] = True
        out["charge_reason"] = f"{formula}: neutral oxidation states exist but a cation is more electronegative than an anion"
    else:
        out["charge_reason"] = f"{formula}: no combination of common oxidation states sums to zero"
    return out


def _pauling_ok(ox: tuple[int, ...], eneg: list) -> bool:
    cations = [e for o, e in zip(ox, eneg) if o > 0]
    anions = [e for o, e in zip(ox, eneg) if o < 0]
    if any(e is None for e in cations + anions):
        return True  # missing data passes, as CDVAE's test did
    return not cations or not anions or max(cations) < min(anions)
