"""The stability call: competing phases, decomposition, coverage, one energy convention, the reference build."""

from __future__ import annotations

import gzip
import hashlib
import json
import math

import numpy as np
import pytest
from pymatgen.core import Composition

from designer.scoring import competing_phases as cp
from designer.scoring import energy_convention
from designer.scoring.hull import STABLE, HullReference
from designer.scoring.prototypes import PROTOTYPES, binary_tasks, bond_length, prototype_structure, stoichiometry

ELEMENTS = {"Ba": -1.9, "V": -9.0, "O": -4.9}


def _hull(compounds=(), convention="chgnet"):
    return HullReference(ELEMENTS, list(compounds), convention=convention)


def _energy(formula: str, formation: float, elements=ELEMENTS) -> float:
    """Energy per atom of ``formula`` with the given formation energy (eV/atom)."""
    c = Composition(formula)
    return formation + sum(elements[el.symbol] * n for el, n in c.items()) / c.num_atoms


def test_competing_phases_lift_a_compound_off_the_hull_and_name_its_decomposition():
    bavo3 = _energy("BaVO3", -2.9)
    alone = _hull().evaluate("BaVO3", bavo3)
    assert alone["e_above_hull"] == pytest.approx(-2.9)  # only the elements: far "below" the hull
    phases = [("BaO", _energy("BaO", -2.8), "BaO (rocksalt)"), ("VO2", _energy("VO2", -3.1), "VO2 (rutile)"),
              ("BaV", _energy("BaV", 0.1), "BaV (CsCl)")]
    full = _hull(phases).evaluate("BaVO3", bavo3)
    # BaVO3 = 1/2 BaO (2 atoms of 5) + ... : the mix BaO + VO2 has formation (2 * -2.8 + 3 * -3.1) / 5 = -2.98
    assert full["e_above_hull"] == pytest.approx(-2.9 - (-2.98), abs=1e-6)
    assert "BaO (rocksalt)" in full["decomposition"] and "VO2 (rutile)" in full["decomposition"]
    assert full["hull_coverage"] == "complete" and full["stable"] is True  # 0.08 eV/atom above: metastable
    worse = _hull(phases).evaluate("BaVO3", _energy("BaVO3", -2.7))
    assert worse["e_above_hull"] == pytest.approx(0.28, abs=1e-6) and worse["stable"] is False
    assert STABLE == pytest.approx(0.1)


def test_a_system_missing_a_lower_order_subsystem_is_partial_and_never_called_stable():
    only_oxides = [("BaO", _energy("BaO", -2.8), "BaO"), ("VO2", _energy("VO2", -3.1), "VO2")]
    h = _hull(only_oxides)
    assert h.coverage("BaVO3") == "partial"  # no Ba-V reference compound
    res = h.evaluate("BaVO3", _energy("BaVO3", -3.5))
    assert res["hull_coverage"] == "partial" and res["stable"] is None and res["e_above_hull"] < 0
    assert h.coverage("VO2") == "complete"  # a binary with a reference compound of its own system
    assert h.coverage("VO2", exclude_formula="VO2") == "partial"  # ... and without it: only the elements
    assert h.coverage("BaV") == "partial" and h.evaluate("BaV", -5.0)["stable"] is None
    assert h.coverage("BaTiO3") == "partial"  # Ti has no reference at all
    assert math.isnan(h.evaluate("BaTiO3", -8.0)["e_above_hull"])


def test_leaving_a_formula_out_scores_a_known_stable_compound_against_the_others_only():
    phases = [("BaO", _energy("BaO", -2.8), "BaO"), ("VO2", _energy("VO2", -3.1), "VO2"),
              ("BaV", _energy("BaV", 0.1), "BaV"), ("BaVO3", _energy("BaVO3", -3.1), "BaVO3 (perovskite)"),
              ("Ba2V2O6", _energy("BaVO3", -3.0), "BaVO3 (a polymorph)")]
    h = _hull(phases)
    e = _energy("BaVO3", -3.1)
    assert h.evaluate("BaVO3", e)["e_above_hull"] == pytest.approx(0.0, abs=1e-9)  # it is the hull
    out = h.evaluate("BaVO3", e, exclude_formula="BaVO3")
    assert out["e_above_hull"] == pytest.approx(-3.1 + 2.98, abs=1e-6)  # every polymorph left out
    assert "perovskite" not in out["decomposition"] and "polymorph" not in out["decomposition"]
    element = h.evaluate("V", ELEMENTS["V"] + 0.05, exclude_formula="V")  # an element keeps its reference state
    assert element["e_above_hull"] == pytest.approx(0.05)


def test_the_mp2020_convention_corrects_references_and_candidates_once():
    corr = energy_convention.mp2020_correction_per_atom("BaO")
    assert corr < 0  # the oxide correction
    assert energy_convention.mp2020_correction_per_atom("V2O5") < energy_convention.mp2020_correction_per_atom("BaO")
    raw = _hull([("BaO", _energy("BaO", -2.8), "BaO")])
    fixed = _hull([("BaO", _energy("BaO", -2.8), "BaO")], convention="chgnet+mp2020")
    e = _energy("BaO", -2.8)
    assert raw.formation_energy("BaO", e) == pytest.approx(-2.8)
    assert fixed.formation_energy("BaO", e) == pytest.approx(-2.8 + corr)  # once, not twice
    assert fixed.evaluate("BaO", e)["e_above_hull"] == pytest.approx(0.0, abs=1e-9)  # same convention both sides
    with pytest.raises(ValueError, match="unknown energy convention"):
        energy_convention.apply("BaO", -5.0, "mp2021")


@pytest.mark.parametrize("stoich,names", sorted(PROTOTYPES.items()))
def test_every_prototype_has_its_stoichiometry_and_the_guessed_bond_length(stoich, names):
    q_of = {(1, 1): (2, -2), (1, 2): (4, -2), (2, 1): (1, -2), (2, 3): (3, -2), (1, 3): (3, -1), (3, 1): (1, -3),
            (3, 2): (2, -3)}
    q, p = q_of[stoich]
    assert stoichiometry(q, p) == stoich
    cation, anion = ("Al" if q == 3 else "Mg" if q == 2 else "Ti" if q == 4 else "Li"), ("F" if p == -1 else "N" if p == -3 else "O")
    d = bond_length(cation, q, anion, p)
    for name in names:
        s = prototype_structure(name, cation, q, anion, p)
        amounts = s.composition.get_el_amt_dict()
        ratio = amounts[cation] / amounts[anion]
        assert ratio == pytest.approx(stoich[0] / stoich[1]), name
        dist = s.distance_matrix + np.eye(len(s)) * 99
        assert 0.85 * d < dist.min() < 1.15 * d, name  # no overlapping atoms, bonds near the guess
    with pytest.raises(ValueError, match="stoichiometry"):
        prototype_structure("rocksalt", "Al", 3, "O", -2)


def test_binary_tasks_follow_smacts_common_oxidation_states():
    ids = {t["id"] for t in binary_tasks(["V", "Ba"], {"O": -2})}
    assert {"VO2:rutile", "V2O3:corundum", "BaO:rocksalt"} <= ids
    assert not any(i.startswith("VO:") for i in ids)  # V2+ is not a common state
    assert not any(t["prototype"] == "bixbyite" for t in binary_tasks(["V"], {"O": -2}))
    assert {t["prototype"] for t in binary_tasks(["V"], {"O": -2}, large=True)} == {"bixbyite"}


def test_every_metal_pair_gets_a_cscl_cell_and_mp20_training_pairs_get_l12_cells():
    from designer.scoring.competing_phases import intermetallic_pairs, vocabulary
    from designer.scoring.prototypes import intermetallic_structure

    every, mp_pairs = intermetallic_pairs(vocabulary())
    assert len(every) == len(set(every)) and all(a != b for a, b in every)
    assert not {"O", "N", "F", "S", "Cl", "H", "C", "P", "Se", "Te"} & {x for p in every for x in p}
    assert ("V", "Ba") in every and ("Ca", "Pt") in every  # perov_5 pair; any metal pair
    assert set(mp_pairs) <= set(every) and 0 < len(mp_pairs) < len(every)
    first = every[: len(every) // 2]
    assert ("V", "Ba") in first  # pairs seen in training crystals come first
    s = intermetallic_structure("Ba", "V")
    assert len(s) == 2 and s.composition.reduced_formula == "BaV"
    assert s.get_space_group_info()[1] == 221  # CsCl
    assert 2.0 < s.distance_matrix[0, 1] < 4.5
    l12 = intermetallic_structure("Ca", "Pt", "L12")
    assert l12.composition.reduced_formula == "Ca3Pt" and l12.get_space_group_info()[1] == 221  # Pm-3m
    d = l12.distance_matrix + np.eye(4) * 99
    assert 2.0 < d.min() < 4.5
    ids = [t["id"] for t in cp.tasks(("i",))]
    assert "CaPt:CsCl" in ids and len(ids) == len(set(ids)) == len(every) + 2 * len(mp_pairs)
    with pytest.raises(ValueError, match="known"):
        intermetallic_structure("Ca", "Pt", "Laves")


def _fake_relax(structure, steps=200, fmax=0.1, relax_cell=True):
    e = -1.0 - 0.01 * len(structure)
    return {"relaxed": structure, "relaxed_energy_per_atom": e, "initial_energy_per_atom": e + 0.1, "energy_drop": 0.1,
            "residual_max_force": 0.01, "relax_steps": 3, "relax_converged": True, "relax_error": ""}


def test_the_reference_build_resumes_and_freezes_with_its_hash(tmp_path, monkeypatch):
    import designer.scoring.chgnet_energy as chg

    monkeypatch.setattr(chg, "relax", _fake_relax)
    tiny = [t for t in binary_tasks(["Mg", "Ba"], {"O": -2})]
    monkeypatch.setattr(cp, "tasks", lambda tiers=cp.TIER_ORDER: iter(
        [{"id": t["id"], "tier": "b", "source": "prototype", "formula": t["formula"], "prototype": t["prototype"],
          "make": (lambda t=t: prototype_structure(t["prototype"], t["cation"], t["q"], t["anion"], t["p"]))}
         for t in tiny]))
    progress, frozen, meta = tmp_path / "progress.jsonl", tmp_path / "phases.csv.gz", tmp_path / "meta.json"
    assert cp.build(progress, budget_minutes=0.0, frozen=frozen, log=lambda m: None) == 1  # budget spent after one
    assert cp.build(progress, frozen=frozen, log=lambda m: None) == len(tiny) - 1  # resumes, redoes nothing
    assert cp.build(progress, frozen=frozen, log=lambda m: None) == 0
    doc = cp.freeze(progress, frozen, meta)
    assert doc["rows"] == len(tiny) and doc["relaxed_by_tier"] == {"b": len(tiny)}
    assert doc["sha256"] == hashlib.sha256(frozen.read_bytes()).hexdigest() == json.loads(meta.read_text())["sha256"]
    rows = cp.read_rows(frozen)
    assert {r["id"] for r in rows} == {t["id"] for t in tiny}
    s = cp.structure_from_compact(rows[0]["structure"])
    assert s.composition.reduced_formula == rows[0]["reduced_formula"]
    assert cp.freeze(progress, frozen, meta)["sha256"] == doc["sha256"]  # freezing again changes nothing
    loaded = HullReference.from_files([], phases=frozen)
    names = {e.name for e in loaded.entries}
    assert {f"{r['reduced_formula']} ({r['prototype']})" for r in rows} <= names
    assert f"sha256 {doc['sha256'][:12]}" in loaded.description
    assert gzip.decompress(frozen.read_bytes()).decode().splitlines()[0].startswith("id,tier,source")


def test_stability_benchmark_controls_and_groups_are_built_as_specified():
    from pymatgen.core import Lattice, Structure

    from designer.benchmarks.stability import _anion_family, _antisite, _called_stable, _group, convention_check

    s = Structure(Lattice.cubic(4.0), ["Ba", "V", "O", "O", "O"],
                  [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    swapped = _antisite(s)
    assert swapped.composition == s.composition  # same atoms, an anion and a cation site exchanged
    assert str(swapped[0].specie) == "O" and sum(str(x.specie) == "Ba" for x in swapped) == 1
    assert [str(x.specie) for x in s] == ["Ba", "V", "O", "O", "O"]  # the original is untouched
    assert _anion_family(s) == "O"
    mixed = s.copy()
    mixed.replace(2, "N")
    assert _anion_family(mixed) == "mixed"
    g = _group([(0.05, 0.02), (0.5, 0.05), (math.nan, 0.03)])
    assert g == {"mae": pytest.approx((0.03 + 0.45) / 2), "frac_within_0_1": 0.5, "n": 2, "n_unscored": 1}
    called = _called_stable([{"e_above_hull": 0.05, "hull_coverage": "complete"},
                             {"e_above_hull": 0.3, "hull_coverage": "complete"},
                             {"e_above_hull": -1.0, "hull_coverage": "partial"},
                             {"e_above_hull": math.nan, "hull_coverage": "partial"}])
    assert called["frac_called_stable"] == pytest.approx(2 / 3) and called["frac_called_stable_complete_hull"] == 0.5
    assert called["n"] == 3 and called["n_unscored"] == 1

    class Rec:  # one training row: MP's formation energy is -2.8 eV/atom
        id, properties = "mp-1", {"formation_energy_per_atom": -2.8}

        @staticmethod
        def to_structure():
            return Structure(Lattice.cubic(4.2), ["Ba", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])

    res = convention_check(_hull(), [Rec], {"mp-1": _energy("BaO", -2.8)})
    assert res["chgnet"]["formation_energy_mae"] == pytest.approx(0.0, abs=1e-9) and res["better"] == "chgnet"
    corr = energy_convention.mp2020_correction_per_atom("BaO")
    assert res["chgnet+mp2020"]["formation_energy_mae"] == pytest.approx(abs(corr))


def test_ab2_intermetallics_and_ternary_oxides_are_sane_cells_at_balanced_charges():
    from designer.scoring.prototypes import TERNARY, intermetallic_structure, ternary_structure, ternary_tasks

    for proto, sg in (("AlB2", 191), ("C15", 227)):
        s = intermetallic_structure("Mg", "Cu", proto)
        assert s.composition.reduced_formula == "MgCu2" and s.get_space_group_info()[1] == sg
        assert 2.0 < (s.distance_matrix + np.eye(len(s)) * 99).min() < 3.5
    tasks = {t["id"]: t for t in ternary_tasks([("Sr", "Ti"), ("Mg", "Al")], {"O": -2})}
    assert {"SrTiO3:perovskite", "Sr2TiO4:K2NiF4", "MgAl2O4:spinel"} <= set(tasks)
    for t in tasks.values():  # every task is charge balanced at common oxidation states
        na, nb, nx = TERNARY[t["prototype"]]
        assert na * t["qa"] + nb * t["qb"] + nx * t["p"] == 0
    for key, sg in (("SrTiO3:perovskite", 221), ("Sr2TiO4:K2NiF4", 139), ("MgAl2O4:spinel", 227)):
        t = tasks[key]
        s = ternary_structure(t["prototype"], t["a"], t["qa"], t["b"], t["qb"], t["x"], t["p"])
        assert s.composition.reduced_formula == key.split(":")[0] and s.get_space_group_info()[1] == sg
        assert 1.7 < (s.distance_matrix + np.eye(len(s)) * 99).min() < 2.6  # B-O bonds near Shannon's
    with pytest.raises(ValueError, match="known"):
        ternary_structure("garnet", "Y", 3, "Al", 3, "O", -2)


def test_a_hull_read_from_files_is_remembered_until_a_file_changes(tmp_path):
    import os

    csv = tmp_path / "chgnet_energies.csv"
    csv.write_text("id,formula,energy_per_atom\nt1,NaCl,-3.0\n")
    first = HullReference.from_files([csv], phases=None)
    assert HullReference.from_files([csv], phases=None) is first  # no second read of the same files
    csv.write_text("id,formula,energy_per_atom\nt1,NaCl,-3.5\n")
    os.utime(csv, ns=(first_ns := csv.stat().st_mtime_ns + 10**9, first_ns))
    changed = HullReference.from_files([csv], phases=None)
    assert changed is not first
    nacl = [e for e in changed.entries if e.composition.reduced_formula == "NaCl"]
    assert nacl and nacl[0].energy_per_atom == pytest.approx(-3.5)
