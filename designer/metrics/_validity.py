"""Structural and compositional validity of crystals, as in CDVAE's benchmark (DESIGN section 5).

Both functions are pure: they take a pymatgen object and return a bool, never raise.
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import smact
from pymatgen.core import Composition, Structure

from designer.metrics.charge_balance import OXIDATION_STATE_SET, smact_charge_balance

#: Minimum interatomic distance (Angstrom) and cell volume (Angstrom^3) of a valid structure.
MIN_DISTANCE = 0.5
MIN_VOLUME = 0.1


def structure_validity(structure: Structure | None) -> bool:
    """Whether a crystal is physically plausible (CDVAE's structural validity).

    Args:
        structure: a pymatgen ``Structure`` (``None`` counts as invalid).

    Returns:
        True when the lattice and coordinates are finite, the cell volume is at least
        0.1 A^3 and every off-diagonal entry of ``structure.distance_matrix`` (``[N, N]``,
        minimum-image distances) is at least 0.5 A. A one-atom structure has no
        off-diagonal entries and is valid when its volume is. Any exception, an empty
        structure or non-finite numbers give False.
    """
    if structure is None:
        return False
    try:
        n = len(structure)
        if n == 0:
            return False
        if not np.all(np.isfinite(structure.lattice.matrix)):
            return False
        if not np.all(np.isfinite(structure.frac_coords)):
            return False
        volume = float(structure.volume)
        if not math.isfinite(volume) or volume < MIN_VOLUME:
            return False
        if n > 1:
            dist = np.asarray(structure.distance_matrix, dtype=float)
            off = dist[~np.eye(n, dtype=bool)]
            if not np.all(np.isfinite(off)) or off.min() < MIN_DISTANCE:
                return False
        return True
    except Exception:
        return False


def composition_validity(composition_or_structure: Union[Structure, Composition, str, None]) -> bool:
    """Whether a composition is charge-balanced under SMACT (CDVAE's ``smact_validity``).

    Args:
        composition_or_structure: a pymatgen ``Structure``, ``Composition`` or formula string
            (``None`` counts as invalid). Oxidation-state decorations are ignored.

    Returns:
        True when the composition has a single element, or only metals (``smact.metals``),
        or when some product of the elements' smact14 oxidation states is charge-neutral for
        the gcd-reduced integer counts (``smact.neutral_ratios(ox, stoichs=[(c,) ...],
        threshold=max(counts))``) and passes the Pauling electronegativity test (cations
        less electronegative than anions; a missing electronegativity passes, as in CDVAE).
        Unknown elements, non-integer occupancies that cannot be made integer, and any other
        failure give False. Results are cached per reduced composition. The rule itself lives in
        ``designer.metrics.charge_balance.smact_charge_balance``, shared with the scorecard.
    """
    return smact_charge_balance(composition_or_structure).valid


def smact_info() -> dict:
    """Provenance of the composition-validity test, for reports.

    Returns:
        dict with ``smact_version`` (str), ``oxidation_state_set`` (str, "smact14"),
        ``oxidation_state_attribute`` and ``missing_electronegativity`` (how a missing
        Pauling electronegativity is treated).
    """
    return {
        "smact_version": getattr(smact, "__version__", "unknown"),
        "oxidation_state_set": OXIDATION_STATE_SET,
        "oxidation_state_attribute": "smact.Element(symbol).oxidation_states_smact14 (data/oxidation_states.txt)",
        "missing_electronegativity": "passes (CDVAE caught the TypeError and accepted)",
    }
