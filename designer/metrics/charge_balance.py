"""SMACT charge balance of a composition: the one implementation (issue 12).

Used by the benchmark's compositional validity (``designer.metrics.composition_validity``) and by the
scorecard's charge-neutrality check (``designer.scoring.crystal_checks.charge_balance``), so the two can
never disagree. The rule is CDVAE's ``smact_validity`` (DESIGN section 5):

* a single element, or only metals (``smact.metals``), is valid;
* otherwise the gcd-reduced integer counts are valid when some product of the elements' smact14
  oxidation states has ``smact.neutral_ratios(ox, stoichs=[(c,) for c in counts], threshold=max(counts))``
  non-empty and passes the Pauling test as CDVAE ran it (smact 2.x ``pauling_test``: each cation/anion
  pair, in atomic-number order, must have the cation less electronegative; the first such pair with a
  missing electronegativity, e.g. Pm or Rn, raised TypeError, which CDVAE caught as a pass).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import smact
from pymatgen.core import Composition, Structure

#: Oxidation-state list used: smact's original 2014 list, the one CDVAE's ``smact_validity`` used
#: (smact >= 3 defaults to a stricter ICSD-2024 list).
OXIDATION_STATE_SET = "smact14"

# Above this many oxidation-state combinations the neutrality search falls back from a
# broadcast array to a lazy loop (keeps memory bounded for compositions of many elements).
_MAX_BROADCAST = 4_000_000


@dataclass(frozen=True)
class ChargeBalance:
    """The SMACT charge balance of one reduced composition, with the evidence for it.

    Attributes:
        valid: CDVAE's answer (the benchmark's compositional validity).
        status: why: ``"unreadable"`` (no integer counts), ``"elemental"``, ``"metallic"``,
            ``"no_states"`` (an element without smact14 oxidation states or unknown to smact),
            ``"balanced"`` (a neutral combination passes the Pauling test), ``"electronegativity"``
            (neutral combinations exist, none passes) or ``"not_neutral"``.
        symbols: element symbols sorted by atomic number (``()`` when unreadable).
        counts: gcd-reduced integer counts, aligned with ``symbols``.
        oxidation_states: the first combination (``itertools.product`` order) that is neutral and
            passes the Pauling test, aligned with ``symbols``; ``()`` when there is none.
        neutral_found: some combination sums to zero (True for elemental and metallic too).
        missing: the elements with no smact14 oxidation states (status ``"no_states"``).
    """

    valid: bool
    status: str
    symbols: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    oxidation_states: tuple[int, ...] = ()
    neutral_found: bool = False
    missing: tuple[str, ...] = ()

    @property
    def formula(self) -> str:
        """The reduced formula in atomic-number order, e.g. ``"NaCl2"``."""
        return "".join(f"{s}{c if c > 1 else ''}" for s, c in zip(self.symbols, self.counts))


def smact_charge_balance(composition_or_structure: Structure | Composition | str | None) -> ChargeBalance:
    """CDVAE's SMACT charge balance of a composition, with the oxidation states that balance it.

    Args:
        composition_or_structure: a pymatgen ``Structure``, ``Composition`` or formula string
            (``None`` is unreadable). Oxidation-state decorations are ignored.

    Returns:
        a :class:`ChargeBalance`; ``.valid`` is exactly ``composition_validity``. Results are cached
        per reduced composition.
    """
    key = reduced_key(composition_or_structure)
    if key is None:
        return ChargeBalance(valid=False, status="unreadable")
    return _balance(key)


def reduced_key(obj) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """``(symbols sorted by atomic number, gcd-reduced integer counts)``, or None if unusable."""
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


# --------------------------------------------------------------------------- internals


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
    electronegativity raised TypeError there, which CDVAE caught and treated as a pass. So a pair
    that fails before the first pair with a missing value still fails the test.
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


def clear_cache() -> None:
    """Forget cached verdicts (benchmarks time each decode path from the same cold start)."""
    _balance.cache_clear()


@functools.lru_cache(maxsize=200_000)
def _balance(key: tuple[tuple[str, ...], tuple[int, ...]]) -> ChargeBalance:
    symbols, counts = key
    smact = _smact_module()
    if len(symbols) == 1:
        return ChargeBalance(True, "elemental", symbols, counts, neutral_found=True)
    if all(s in smact.metals for s in symbols):
        return ChargeBalance(True, "metallic", symbols, counts, neutral_found=True)
    data = [_element_data(s) for s in symbols]
    missing = tuple(s for s, d in zip(symbols, data) if d is None or len(d[0]) == 0)
    if missing:
        return ChargeBalance(False, "no_states", symbols, counts, missing=missing)
    ox_lists = [d[0] for d in data]
    enegs = [d[1] for d in data]
    neutral_found = False
    for ox in _neutral_combinations(ox_lists, counts):
        # smact.neutral_ratios(ox, stoichs=[(c,) for c in counts], threshold=max(counts)) is
        # non-empty exactly when sum(ox * counts) == 0 (counts are gcd-reduced), which
        # _neutral_combinations guarantees; checked again here through smact itself.
        if not smact.neutral_ratios(ox, stoichs=[(c,) for c in counts], threshold=max(counts)):
            continue
        neutral_found = True
        if _cdvae_pauling_ok(ox, enegs):
            return ChargeBalance(True, "balanced", symbols, counts, tuple(int(o) for o in ox), True)
    status = "electronegativity" if neutral_found else "not_neutral"
    return ChargeBalance(False, status, symbols, counts, neutral_found=neutral_found)


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
