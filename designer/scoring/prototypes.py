"""Starting structures for competing phases: binary compounds in their usual prototypes.

Pure functions; nothing is downloaded. A compound ``A_m X_n`` is built from a cation A with a
common oxidation state and an anion X (O, N, F, S, ...), in every prototype this module knows for
that stoichiometry. Cells start from Shannon radii (cation-anion distance ``d``) and are then
relaxed with CHGNet (``references``), so only a sensible first guess is needed here.

Prototypes (``PROTOTYPES``: stoichiometry -> names), with their conventional cells:

========  ===========================================================================
AX        rocksalt, CsCl, zincblende, wurtzite, NiAs
AX2       fluorite, rutile, CdI2
A2X       antifluorite, Cu2O (cuprite)
A2X3      corundum, La2O3 (A-type sesquioxide), bixbyite (40 atoms: the last tier)
AX3       ReO3
A3X       anti-ReO3 (Cu3N)
A3X2      anti-La2O3 (Mg3N2-like layered)
========  ===========================================================================

Intermetallics (``intermetallic_structure``): CsCl-type AB and Cu3Au-type (L1_2) A3B.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

from pymatgen.core import Element, Lattice, Species, Structure

# stoichiometry (cations, anions) -> prototypes, cheapest and most common first
PROTOTYPES: dict[tuple[int, int], tuple[str, ...]] = {
    (1, 1): ("rocksalt", "CsCl", "zincblende", "wurtzite", "NiAs"),
    (1, 2): ("fluorite", "rutile", "CdI2"),
    (2, 1): ("antifluorite", "Cu2O"),
    (2, 3): ("corundum", "La2O3", "bixbyite"),
    (1, 3): ("ReO3",),
    (3, 1): ("anti-ReO3",),
    (3, 2): ("anti-La2O3",),
}
LARGE = {"bixbyite"}  # 40 atoms in the primitive cell: built last
ANIONS_B = {"O": -2, "N": -3, "F": -1, "S": -2}  # the perov_5 anions (priority b)
ANIONS_C = {"Cl": -1, "Br": -1, "I": -1, "H": -1, "Se": -2, "Te": -2, "P": -3, "C": -4}  # priority c
MIN_SHARE = 0.10  # an oxidation state counts as common with >= 10 % of the element's ICSD-24 occurrences


@lru_cache(maxsize=1)
def _icsd24_counts() -> dict[str, dict[int, int]]:
    import smact

    path = Path(smact.__file__).parent / "data" / "oxidation_states_icsd24_counts.json"
    out: dict[str, dict[int, int]] = {}
    for row in json.loads(path.read_text()):
        if row["results_count"] > 0:
            out.setdefault(row["element"], {})[int(row["oxidation_state"])] = int(row["results_count"])
    return out


def common_oxidation_states(symbol: str, min_share: float = MIN_SHARE) -> list[int]:
    """Positive oxidation states of ``symbol`` with at least ``min_share`` of its ICSD-24 occurrences (smact)."""
    counts = {q: c for q, c in _icsd24_counts().get(symbol, {}).items() if q > 0}
    total = sum(counts.values())
    return sorted(q for q, c in counts.items() if total and c / total >= min_share)


def stoichiometry(cation_charge: int, anion_charge: int) -> tuple[int, int]:
    """Reduced ``(cations, anions)`` of a neutral binary, e.g. (3, -2) -> (2, 3)."""
    a, x = abs(anion_charge), cation_charge
    g = math.gcd(a, x)
    return a // g, x // g


def _radius(symbol: str, charge: int) -> float:
    try:
        r = Species(symbol, charge).ionic_radius
        if r:
            return float(r)
    except Exception:
        pass
    el = Element(symbol)
    return float(el.atomic_radius or 1.5)


def bond_length(cation: str, q: int, anion: str, p: int) -> float:
    """Cation-anion distance guess (Å): the sum of Shannon radii, kept within 1.6-3.6 Å."""
    return min(max(_radius(cation, q) + _radius(anion, p), 1.6), 3.6)


def _build(name: str, a_el: str, x_el: str, d: float) -> Structure:
    """Conventional cell of prototype ``name`` with A = ``a_el``, X = ``x_el`` and A-X distance ``d``."""
    A, X = a_el, x_el
    if name == "rocksalt":
        return Structure.from_spacegroup("Fm-3m", Lattice.cubic(2 * d), [A, X], [[0, 0, 0], [0.5, 0.5, 0.5]])
    if name == "CsCl":
        return Structure(Lattice.cubic(2 * d / math.sqrt(3)), [A, X], [[0, 0, 0], [0.5, 0.5, 0.5]])
    if name == "zincblende":
        return Structure.from_spacegroup("F-43m", Lattice.cubic(4 * d / math.sqrt(3)), [A, X],
                                         [[0, 0, 0], [0.25, 0.25, 0.25]])
    if name == "wurtzite":
        a = d * math.sqrt(8 / 3)
        return Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(a, a * math.sqrt(8 / 3)), [A, X],
                                         [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.375]])
    if name == "NiAs":
        a = d * math.sqrt(2)
        return Structure.from_spacegroup("P6_3/mmc", Lattice.hexagonal(a, 1.39 * a), [A, X],
                                         [[0, 0, 0], [1 / 3, 2 / 3, 0.25]])
    if name in ("fluorite", "antifluorite"):
        cat, an = (A, X) if name == "fluorite" else (X, A)
        return Structure.from_spacegroup("Fm-3m", Lattice.cubic(4 * d / math.sqrt(3)), [cat, an],
                                         [[0, 0, 0], [0.25, 0.25, 0.25]])
    if name == "rutile":
        return Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(2.35 * d, 1.52 * d), [A, X],
                                         [[0, 0, 0], [0.305, 0.305, 0]])
    if name == "CdI2":
        return Structure.from_spacegroup("P-3m1", Lattice.hexagonal(1.42 * d, 2.29 * d), [A, X],
                                         [[0, 0, 0], [1 / 3, 2 / 3, 0.25]])
    if name == "Cu2O":  # cuprite: X on a bcc lattice, A tetrahedrally between (linear X-A-X)
        a = 4 * d / math.sqrt(3)
        return Structure(Lattice.cubic(a), [X, X, A, A, A, A],
                         [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.25],
                          [0.75, 0.25, 0.75], [0.25, 0.75, 0.75]])
    if name == "corundum":
        return Structure.from_spacegroup("R-3c", Lattice.hexagonal(2.49 * d, 6.8 * d), [A, X],
                                         [[0, 0, 0.352], [0.306, 0, 0.25]])
    if name in ("La2O3", "anti-La2O3"):
        cat, an = (A, X) if name == "La2O3" else (X, A)
        return Structure.from_spacegroup("P-3m1", Lattice.hexagonal(1.61 * d, 2.5 * d), [cat, an, an],
                                         [[1 / 3, 2 / 3, 0.245], [0, 0, 0], [1 / 3, 2 / 3, 0.645]])
    if name == "bixbyite":
        return Structure.from_spacegroup("Ia-3", Lattice.cubic(4.7 * d), [A, A, X],
                                         [[0.25, 0.25, 0.25], [-0.0327, 0, 0.25], [0.385, 0.145, 0.380]])
    if name in ("ReO3", "anti-ReO3"):
        cat, an = (A, X) if name == "ReO3" else (X, A)
        return Structure(Lattice.cubic(2 * d), [cat, an, an, an],
                         [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]])
    raise ValueError(f"unknown prototype {name!r}; known: {sorted({p for v in PROTOTYPES.values() for p in v})}")


def prototype_structure(name: str, cation: str, q: int, anion: str, p: int) -> Structure:
    """Primitive cell of binary ``name`` for cation ``cation`` (charge ``q``) and anion ``anion`` (charge ``p < 0``).

    The stoichiometry is checked against the prototype: rocksalt NaCl yes, rocksalt "CaF" no.
    """
    want = stoichiometry(q, p)
    if name not in PROTOTYPES.get(want, ()):
        raise ValueError(f"prototype {name!r} does not have the {want[0]}:{want[1]} stoichiometry of {cation}{anion}")
    s = _build(name, cation, anion, bond_length(cation, q, anion, p))
    return s.get_primitive_structure()


INTERMETALLIC = ("CsCl", "L12", "AlB2", "C15")  # AB (2 atoms); A3B Cu3Au (4); AB2 AlB2 (3); AB2 MgCu2 Laves (6)


def _metal_radius(sym: str) -> float:
    el = Element(sym)
    return float(el.metallic_radius or el.atomic_radius or 1.5)


def intermetallic_structure(a_el: str, b_el: str, prototype: str = "CsCl") -> Structure:
    """An intermetallic cell with the A-B distance the sum of the metallic (else atomic) radii.

    ``CsCl``: AB, A at the corner and B at the body centre (2 atoms). ``L12``: A3B of the Cu3Au
    type, B at the corner and A on the face centres (4 atoms; A-B distance a/sqrt(2)). ``AlB2``: AB2,
    A between graphite-like B sheets (P6/mmm, c/a 1.08). ``C15``: the cubic Laves phase AB2 (MgCu2,
    Fd-3m; A-B distance a sqrt(11)/8).
    """
    d = _metal_radius(a_el) + _metal_radius(b_el)
    if prototype == "CsCl":
        return Structure(Lattice.cubic(2 * d / math.sqrt(3)), [a_el, b_el], [[0, 0, 0], [0.5, 0.5, 0.5]])
    if prototype == "L12":
        return Structure(Lattice.cubic(d * math.sqrt(2)), [b_el, a_el, a_el, a_el],
                         [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    if prototype == "AlB2":
        a = d / math.sqrt(1 / 3 + 1.08 ** 2 / 4)
        return Structure(Lattice.hexagonal(a, 1.08 * a), [a_el, b_el, b_el],
                         [[0, 0, 0], [1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]])
    if prototype == "C15":  # pymatgen's Fd-3m is origin choice 1: A on 8a (0,0,0), B on 16d (5/8,5/8,5/8)
        s = Structure.from_spacegroup("Fd-3m", Lattice.cubic(8 * d / math.sqrt(11)), [a_el, b_el],
                                      [[0, 0, 0], [5 / 8, 5 / 8, 5 / 8]])
        return s.get_primitive_structure()
    raise ValueError(f"unknown intermetallic prototype {prototype!r}; known: {INTERMETALLIC}")


TERNARY = {"perovskite": (1, 1, 3), "K2NiF4": (2, 1, 4), "spinel": (1, 2, 4)}  # A_a B_b X_x


def ternary_structure(name: str, a_el: str, qa: int, b_el: str, qb: int, x_el: str, p: int) -> Structure:
    """A ternary prototype cell, sized from B's Shannon bond to X (B: the octahedral cation).

    ``perovskite``: cubic ABX3 (5 atoms). ``K2NiF4``: A2BX4, the n = 1 Ruddlesden-Popper layered
    perovskite (I4/mmm, 7 atoms). ``spinel``: AB2X4, A tetrahedral, B octahedral (Fd-3m origin
    choice 1, x = 0.387; 14 atoms).
    """
    d = bond_length(b_el, qb, x_el, p)
    if name == "perovskite":
        return Structure(Lattice.cubic(2 * d), [b_el, x_el, x_el, x_el, a_el],
                         [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]])
    if name == "K2NiF4":
        a = 2 * d
        return Structure.from_spacegroup("I4/mmm", Lattice.tetragonal(a, 3.28 * a), [b_el, x_el, x_el, a_el],
                                         [[0, 0, 0], [0, 0.5, 0], [0, 0, 0.155], [0, 0, 0.355]]).get_primitive_structure()
    if name == "spinel":
        return Structure.from_spacegroup("Fd-3m", Lattice.cubic(4.19 * d), [a_el, b_el, x_el],
                                         [[0, 0, 0], [5 / 8, 5 / 8, 5 / 8], [0.387, 0.387, 0.387]]).get_primitive_structure()
    raise ValueError(f"unknown ternary prototype {name!r}; known: {sorted(TERNARY)}")


def ternary_tasks(pairs: list[tuple[str, str]], anions: dict[str, int]) -> list[dict]:
    """Every charge-balanced (A, B, X, prototype) of ``TERNARY`` at smact's common oxidation states, for
    each pair in both roles, prototype by prototype (all perovskites first: a capped build gets the
    commonest type everywhere). Returns dicts ``{"id", "formula", "prototype", "a", "qa", "b", "qb", "x", "p"}``."""
    out, seen = [], set()
    for name, (na, nb, nx) in TERNARY.items():
        for x, p in anions.items():
            for u, v in pairs:
                for a, b in ((u, v), (v, u)):
                    for qa in common_oxidation_states(a):
                        for qb in common_oxidation_states(b):
                            if qa <= 0 or qb <= 0 or na * qa + nb * qb + nx * p != 0:
                                continue
                            formula = f"{a}{na if na > 1 else ''}{b}{nb if nb > 1 else ''}{x}{nx}"
                            key = f"{formula}:{name}"
                            if key not in seen:
                                seen.add(key)
                                out.append({"id": key, "formula": formula, "prototype": name, "a": a, "qa": qa,
                                            "b": b, "qb": qb, "x": x, "p": p})
    return out


def binary_tasks(cations: list[str], anions: dict[str, int], large: bool = False) -> list[dict]:
    """Every (cation, oxidation state, anion, prototype) with a known prototype for its stoichiometry.

    Returns dicts ``{"id", "formula", "prototype", "cation", "q", "anion", "p"}``; ``large``: only the
    large prototypes (``LARGE``), else only the others. Ordered by anion, then cation, then prototype.
    """
    out = []
    for anion, p in anions.items():
        for cation in cations:
            if cation == anion:
                continue
            for q in common_oxidation_states(cation):
                m, n = stoichiometry(q, p)
                for name in PROTOTYPES.get((m, n), ()):
                    if (name in LARGE) != large:
                        continue
                    formula = f"{cation}{m if m > 1 else ''}{anion}{n if n > 1 else ''}"
                    out.append({"id": f"{formula}:{name}", "formula": formula, "prototype": name,
                                "cation": cation, "q": q, "anion": anion, "p": p})
    return out
