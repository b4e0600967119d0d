"""Pure checks of one crystal: geometry and charge balance, each with the reason it fails.

Every function takes a pymatgen ``Structure`` and returns plain values (never raises).
"""

from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Structure

from designer.metrics._validity import MIN_DISTANCE, MIN_VOLUME
from designer.metrics.charge_balance import smact_charge_balance


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

    The verdict is the benchmark's compositional validity (``designer.metrics.charge_balance``, CDVAE's
    rule): ``charge_neutral and electronegativity_ok`` is exactly ``composition_validity(structure)``.
    ``charge_neutral``: some combination of the elements' smact14 oxidation states sums to zero for
    the reduced formula (single elements and all-metal compositions count as neutral: alloys);
    ``electronegativity_ok``: some neutral combination passes CDVAE's Pauling test (each cation less
    electronegative than each anion; a missing electronegativity, as for Pm and Rn, passes the way it
    did for CDVAE). ``oxidation_states``: the first combination that passes both.
    """
    out = {"charge_neutral": False, "electronegativity_ok": False, "oxidation_states": "", "charge_reason": ""}
    cb = smact_charge_balance(structure)
    if cb.status == "unreadable":
        out["charge_reason"] = "composition cannot be read as integer counts"
    elif cb.status in ("elemental", "metallic"):
        out.update(charge_neutral=True, electronegativity_ok=True, oxidation_states="metallic/elemental")
    elif cb.status == "no_states":
        out["charge_reason"] = f"no known oxidation states for {', '.join(cb.missing)}"
    elif cb.valid:
        out.update(charge_neutral=True, electronegativity_ok=True,
                   oxidation_states=" ".join(f"{s}{o:+d}" for s, o in zip(cb.symbols, cb.oxidation_states)))
    elif cb.neutral_found:
        out["charge_neutral"] = True
        out["charge_reason"] = (f"{cb.formula}: neutral oxidation states exist but a cation is more "
                                "electronegative than an anion")
    else:
        out["charge_reason"] = f"{cb.formula}: no combination of common oxidation states sums to zero"
    return out
