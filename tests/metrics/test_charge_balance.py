"""SMACT charge balance has one implementation: the scorecard agrees with the benchmark (issue 12).

The scorecard's charge check used to pass every neutral combination that had an element without a
Pauling electronegativity (Pm, Rn) among its ions; CDVAE's test (the benchmark's) still fails such a
combination when a cation/anion pair that comes earlier in atomic-number order fails.
"""

from __future__ import annotations

import itertools
import random

import pytest
from pymatgen.core import Composition, Element, Lattice, Structure

from designer.metrics import composition_validity
from designer.metrics.charge_balance import _element_data, reduced_key, smact_charge_balance
from designer.scoring.crystal_checks import charge_balance

#: The elements of the project's crystal data sets (CDVAE's perov_5 / carbon_24 / mp_20 run up to Pu).
ELEMENTS = [Element.from_Z(z).symbol for z in range(1, 95)]


def _structure(counts: dict[str, int]) -> Structure:
    species = [el for el, n in counts.items() for _ in range(n)]
    coords = [[i / len(species), 0, 0] for i in range(len(species))]
    return Structure(Lattice.cubic(10.0), species, coords)


def _random_compositions(n: int = 4000, seed: int = 12) -> list[dict[str, int]]:
    """Pm, Rn or both, plus 1-3 other elements, each with 1-6 atoms."""
    rng = random.Random(seed)
    others = [s for s in ELEMENTS if s not in ("Pm", "Rn")]
    out = []
    for _ in range(n):
        els = rng.choice([["Pm"], ["Rn"], ["Pm", "Rn"]]) + rng.sample(others, rng.randint(1, 3))
        out.append({el: rng.randint(1, 6) for el in els})
    return out


def _old_scorecard_verdict(counts: dict[str, int]) -> bool:
    """The scorecard's former rule (any missing electronegativity among the ions passes), for reference."""
    cb = smact_charge_balance(Composition(counts))
    if cb.status in ("elemental", "metallic"):
        return True
    if cb.status in ("unreadable", "no_states"):
        return False
    data = [_element_data(s) for s in cb.symbols]
    for combo in itertools.product(*[d[0] for d in data]):
        if sum(o * c for o, c in zip(combo, cb.counts)) != 0:
            continue
        ions = [(o, d[1]) for o, d in zip(combo, data) if o != 0]
        if any(e is None for _, e in ions):
            return True
        cations = [e for o, e in ions if o > 0]
        anions = [e for o, e in ions if o < 0]
        if not cations or not anions or max(cations) < min(anions):
            return True
    return False


def test_scorecard_and_benchmark_agree_on_4000_random_compositions_with_pm_or_rn():
    comps = _random_compositions()
    assert len(comps) == 4000 and all({"Pm", "Rn"} & set(c) for c in comps)
    disagreed_before = 0
    for counts in comps:
        bench = composition_validity(Composition(counts))
        card = charge_balance(_structure(counts))
        assert (card["charge_neutral"] and card["electronegativity_ok"]) == bench, (counts, card)
        if bench:
            assert card["oxidation_states"] and not card["charge_reason"], (counts, card)
        else:
            assert not card["oxidation_states"] and card["charge_reason"], (counts, card)
        disagreed_before += _old_scorecard_verdict(counts) != bench
    # The sample exercises the bug: with the original files (copied aside before the fix) 93 of these
    # 4,000 compositions got a different answer from the scorecard than from the benchmark.
    assert disagreed_before == 93


# Expected values computed with the ORIGINAL benchmark implementation (designer/metrics/_validity.py
# before issue 12, copied to /tmp and run on these formulas): CDVAE's answer, which must not change.
# "old card" notes what the former scorecard said where it differed.
CDVAE_ANSWERS = [
    ("Si3Ag3Rn", False),    # old card True: Si-4 Ag+2 Rn+6 fails on Si/Ag before the Rn pair is reached
    ("K5RnBr3", False),     # old card True
    ("Te3Rn2N", False),     # old card True
    ("PmH3Pd2I2", False),   # old card True
    ("Pm2Sn5Rn5C", False),  # old card True
    ("H2RnAu2", False),
    ("H4PmAu", True),       # H-1/Pm+3 is the first pair: missing electronegativity, passes
    ("PmCl3", True),
    ("RnF2", True),
    ("RnO3", True),
    ("KRnBr3", True),
    ("PmNa3", True),
    ("PmFe", True),
    ("PmAl", False),        # Pm is not in smact.metals, so this is no alloy
    ("Pm2Rn3", False),
    ("PmRn", False),
    ("HePm", False),        # He has no smact14 oxidation states
    ("Pm", True),
    ("Rn", True),
]


@pytest.mark.parametrize("formula,expected", CDVAE_ANSWERS)
def test_compositions_with_pm_or_rn_give_cdvaes_answer_in_benchmark_and_scorecard(formula, expected):
    assert composition_validity(formula) is expected
    counts = {el.symbol: int(n) for el, n in Composition(formula).items()}
    card = charge_balance(_structure(counts))
    assert (card["charge_neutral"] and card["electronegativity_ok"]) is expected, card


def test_scorecard_reports_cdvaes_oxidation_states_and_reasons_for_pm_and_rn():
    card = charge_balance(_structure({"Si": 3, "Ag": 3, "Rn": 1}))
    assert card["charge_neutral"] and not card["electronegativity_ok"] and not card["oxidation_states"]
    assert card["charge_reason"] == ("Si3Ag3Rn: neutral oxidation states exist but a cation is more "
                                     "electronegative than an anion")
    assert charge_balance(_structure({"Pm": 1, "Cl": 3}))["oxidation_states"] == "Cl-1 Pm+3"
    assert charge_balance(_structure({"Rn": 1, "F": 2}))["oxidation_states"] == "F-1 Rn+2"
    assert charge_balance(_structure({"Pm": 2, "Rn": 3}))["charge_reason"] == (
        "Pm2Rn3: no combination of common oxidation states sums to zero")
    assert charge_balance(_structure({"He": 1, "Pm": 1}))["charge_reason"] == "no known oxidation states for He"


def test_obvious_cases():
    nacl = charge_balance(_structure({"Na": 1, "Cl": 1}))
    assert composition_validity("NaCl") and nacl["charge_neutral"] and nacl["oxidation_states"] == "Na+1 Cl-1"
    nacl2 = charge_balance(_structure({"Na": 1, "Cl": 2}))
    assert not composition_validity("NaCl2") and not nacl2["electronegativity_ok"] and nacl2["charge_reason"]
    for formula, counts in (("Si", {"Si": 4}), ("Cu3Au", {"Cu": 3, "Au": 1})):  # an element, an alloy
        card = charge_balance(_structure(counts))
        assert composition_validity(formula) and card["oxidation_states"] == "metallic/elemental", card
    cb = smact_charge_balance("Na2Cl4")
    assert (cb.symbols, cb.counts, cb.valid) == (("Na", "Cl"), (1, 2), False)
    assert reduced_key(None) is None and not composition_validity(None)
    assert smact_charge_balance("NaCl").oxidation_states == (1, -1)
