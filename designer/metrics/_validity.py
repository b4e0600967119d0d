"""Structural and compositional validity of crystals, as in CDVAE's benchmark (DESIGN section 5).

Both functions are pure: they take a pymatgen object and return a bool, never raise.
"""

from __future__ import annotations

import functools
import itertools
import math
from fractions import Fraction
from typing import Union

import numpy as np
from pymatgen.core import Composition, Structure

#: Minimum interatomic distance (Angstrom) and cell volume (Angstrom^3) of a valid structure.
MIN_DISTANCE = 0.5
MIN_VOLUME = 0.1

#: Oxidation-state list used for composition validity: smact's original 2014 list, the one
#: CDVAE's ``smact_validity`` used (smact >= 3 defaults to a stricter ICSD-2024 list).
OXIDATION_STATE_SET = "smact14"

# Above this many oxidation-state combinations the neutrality search falls back from a
# broadcast array to a lazy loop (keeps memory bounded for compositions of many elements).
_MAX_BROADCAST = 4_000_000


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
        failure give False. Results are cached per reduced composition.
    """
    key = _reduced_key(composition_or_structure)
    if key is None:
        return False
    return _smact_valid(key)


def smact_info() -> dict:
    """Provenance of the composition-validity test, for reports.

    Returns:
        dict with ``smact_version`` (str), ``oxidation_state_set`` (str, "smact14"),
        ``oxidation_state_attribute`` and ``missing_electronegativity`` (how a missing
        Pauling electronegativity is treated).
    """
    import smact

    return {
        "smact_version": getattr(smact, "__version__", "unknown"),
        "oxidation_state_set": OXIDATION_STATE_SET,
        "oxidation_state_attribute": "smact.Element(symbol).oxidation_states_smact14 (data/oxidation_states.txt)",
        "missing_electronegativity": "passes (CDVAE caught the TypeError and accepted)",
    }


# --------------------------------------------------------------------------- internals


def _reduced_key(obj) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """``(symbols sorted by atomic number, gcd-reduced integer counts)`` or None if unusable."""
    if obj is None:
        return None
    try:
        if isinstance(obj, Structure):
            comp = obj.composition
        elif isinstance(obj, Composition):
            comp = obj
        else:
            comp = Composition(obj)
        comp = comp.element_composition
        items = sorted(((el.Z, el.symbol, float(amt)) for el, amt in comp.items() if amt > 1e-8))
        if not items:
            return None
        amounts = [a for _, _, a in items]
        if not all(math.isfinite(a) for a in amounts):
            return None
        counts = _integer_counts(amounts)
        if counts is None:
            return None
        g = math.gcd(*counts)
        counts = [c // g for c in counts]
        return tuple(s for _, s, _ in items), tuple(counts)
    except Exception:
        return None


def _integer_counts(amounts: list[float]) -> list[int] | None:
    """Integer counts proportional to ``amounts`` (exact for integer or simple-fraction input)."""
    rounded = [round(a) for a in amounts]
    if all(abs(a - r) < 1e-6 and r > 0 for a, r in zip(amounts, rounded)):
        return [int(r) for r in rounded]
    fracs = [Fraction(a).limit_denominator(1000) for a in amounts]
    if any(abs(float(f) - a) > 1e-4 or f <= 0 for f, a in zip(fracs, amounts)):
        return None
    lcm = 1
    for f in fracs:
        lcm = lcm * f.denominator // math.gcd(lcm, f.denominator)
    return [int(f * lcm) for f in fracs]


def _cdvae_pauling_ok(ox_states: tuple[int, ...], enegs: list[float | None]) -> bool:
    """smact 2.x ``pauling_test`` as CDVAE called it, including its handling of missing data.

    Old smact compared ``eneg1 >= eneg2`` for each cation/anion pair in order; a ``None``
    electronegativity raised TypeError there, which CDVAE caught and treated as a pass.
    (smact >= 3 instead fails any pair with a missing electronegativity.)
    """
    for (ox1, e1), (ox2, e2) in itertools.combinations(zip(ox_states, enegs), 2):
        if ox1 > 0 and ox2 < 0:
            if e1 is None or e2 is None:
                return True
            if e1 >= e2:
                return False
        elif ox1 < 0 and ox2 > 0:
            if e1 is None or e2 is None:
                return True
            if e1 <= e2:
                return False
    return True


@functools.lru_cache(maxsize=1)
def _smact_module():
    import smact

    return smact


@functools.lru_cache(maxsize=None)
def _element_data(symbol: str) -> tuple[tuple[int, ...], float | None] | None:
    """``(smact14 oxidation states, Pauling electronegativity)`` or None if smact lacks the element."""
    smact = _smact_module()
    try:
        el = smact.Element(symbol)
    except Exception:
        return None
    ox = el.oxidation_states_smact14 or []
    eneg = el.pauling_eneg
    if eneg is not None and not (isinstance(eneg, (int, float)) and math.isfinite(eneg)):
        eneg = None
    return tuple(int(o) for o in ox), eneg


@functools.lru_cache(maxsize=200_000)
def _smact_valid(key: tuple[tuple[str, ...], tuple[int, ...]]) -> bool:
    symbols, counts = key
    smact = _smact_module()
    if len(symbols) == 1:
        return True
    if all(s in smact.metals for s in symbols):
        return True
    data = [_element_data(s) for s in symbols]
    if any(d is None for d in data):
        return False
    ox_lists = [d[0] for d in data]
    enegs = [d[1] for d in data]
    if any(len(o) == 0 for o in ox_lists):
        return False
    for ox in _neutral_combinations(ox_lists, counts):
        # smact.neutral_ratios(ox, stoichs=[(c,) for c in counts], threshold=max(counts)) is
        # non-empty exactly when sum(ox * counts) == 0 (counts are gcd-reduced), which
        # _neutral_combinations guarantees; checked again here through smact itself.
        if not smact.neutral_ratios(ox, stoichs=[(c,) for c in counts], threshold=max(counts)):
            continue
        if _cdvae_pauling_ok(ox, enegs):
            return True
    return False


def _neutral_combinations(ox_lists: list[tuple[int, ...]], counts: tuple[int, ...]):
    """Yield, in ``itertools.product`` order, the oxidation-state tuples with zero net charge."""
    sizes = [len(o) for o in ox_lists]
    if math.prod(sizes) <= _MAX_BROADCAST:
        total = np.zeros((), dtype=np.int64)
        for axis, (ox, c) in enumerate(zip(ox_lists, counts)):
            shape = [1] * len(ox_lists)
            shape[axis] = len(ox)
            total = total + (np.asarray(ox, dtype=np.int64) * int(c)).reshape(shape)
        for idx in np.argwhere(total == 0):  # row-major = product order
            yield tuple(ox_lists[a][i] for a, i in enumerate(idx))
        return
    for ox in itertools.product(*ox_lists):
        if sum(o * c for o, c in zip(ox, counts)) == 0:
            yield ox
