"""Which energies the hull compares: CHGNet's own, or CHGNet's with MP2020 corrections added.

CHGNet was trained on MPtrj, the GGA/GGA+U relaxation trajectories of the Materials Project. Its
documentation and paper (Deng et al., Nat. Mach. Intell. 2023) say it learns those energies as MP
computed them, and MPtrj's ``corrected_total_energy`` carries MP2020 corrections; whether the
pretrained weights were fit to the raw or the corrected energies decides whether the corrections
must be added here. ``designer benchmark stability`` measures it on mp_20_subset/train (never val):
the formation-energy error against MP with and without ``MaterialsProject2020Compatibility``
(results/stability.md). The better one is ``CONVENTION`` and is applied once, in ``hull``, to
reference phases and candidates alike; nothing else corrects energies. Measured: CHGNet's own
energies (formation MAE 0.067 eV/atom against 0.296 with MP2020 added), i.e. CHGNet learned the
corrected energies and adding the corrections again would count them twice. SevenNet-0, the
second opinion (``second_opinion``), learned the uncorrected ones; its convention is measured the
same way and recorded with its energies.
"""

from __future__ import annotations

import functools
import math
import warnings

from pymatgen.core import Composition

CONVENTIONS = ("chgnet", "chgnet+mp2020")
CONVENTION = "chgnet"  # measured on mp_20_subset/train: see results/stability.md ("convention")
U_ELEMENTS_ANIONS = ("O", "F")  # MP runs GGA+U only for these anions with its U elements


@functools.lru_cache(maxsize=1)
def _compat():
    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

    return MaterialsProject2020Compatibility(check_potcar=False)


@functools.lru_cache(maxsize=65536)
def mp2020_correction_per_atom(formula: str) -> float:
    """MP2020 correction (eV/atom) of a composition computed the way MP would (GGA+U for oxides and
    fluorides of its U elements, GGA otherwise); NaN where the scheme refuses the composition."""
    from pymatgen.entries.computed_entries import ComputedEntry

    comp = Composition(formula)
    compat = _compat()
    symbols = {el.symbol for el in comp.elements}
    anion = next((a for a in U_ELEMENTS_ANIONS if a in symbols), None)
    hubbards = {s: compat.u_settings[anion].get(s, 0.0) for s in symbols} if anion else {}
    plus_u = any(v > 0 for v in hubbards.values())
    entry = ComputedEntry(comp, 0.0, parameters={"run_type": "GGA+U" if plus_u else "GGA",
                                                 "hubbards": hubbards if plus_u else {}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = compat.process_entry(entry)
    return math.nan if out is None else float(out.correction_per_atom)


def apply(composition, energy_per_atom: float, convention: str = CONVENTION) -> float:
    """Energy per atom (eV) on ``convention``; corrections are added exactly once, here."""
    if convention == "chgnet":
        return float(energy_per_atom)
    if convention == "chgnet+mp2020":
        return float(energy_per_atom) + mp2020_correction_per_atom(Composition(composition).formula)
    raise ValueError(f"unknown energy convention {convention!r}; known: {', '.join(CONVENTIONS)}")
