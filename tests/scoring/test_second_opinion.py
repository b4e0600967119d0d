"""SevenNet-0 as a second opinion on the stability call: its hull, its column, and where the models disagree."""

from __future__ import annotations

import gzip
import json
import math

import pytest
from pymatgen.core import Lattice, Structure

from designer.scoring import second_opinion as so
from designer.scoring.competing_phases import frozen_hash
from designer.scoring.crystal_card import score_crystals
from designer.scoring.hull import HullReference


def _nacl(a: float = 5.64) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


class _Fixed:
    """A stand-in second opinion: the same energy above hull for every structure."""

    def __init__(self, e_hull: float):
        self.e_hull, self.seen = e_hull, []

    def score(self, structures):
        self.seen += structures
        return [{"energy_per_atom_sevennet": -3.0, "e_above_hull_sevennet": self.e_hull} for _ in structures]


def _hull_where_nacl_is_stable() -> HullReference:
    from designer.scoring.chgnet_energy import single_point

    e = single_point([_nacl()])[0]["energy_per_atom"]
    # elements 1 eV/atom above NaCl's energy, and a NaCl2 reference, so the binary's hull is complete
    return HullReference({"Na": e + 1.0, "Cl": e + 1.0}, [("NaCl2", e + 0.5, "NaCl2 (made up)")])


def test_a_call_the_two_models_disagree_on_is_flagged_and_one_they_share_is_not():
    hull = _hull_where_nacl_is_stable()
    agree, disagree = _Fixed(-0.2), _Fixed(0.5)
    row = score_crystals([_nacl()], ["nacl"], hull=hull, second_opinion=agree)[0]
    assert row["stable"] is True and row["e_above_hull_sevennet"] == -0.2
    assert "disagree" not in row["reasons"] and len(agree.seen) == 1
    row = score_crystals([_nacl()], ["nacl"], hull=hull, second_opinion=disagree)[0]
    assert row["stable"] is True and "CHGNet and SevenNet-0 disagree on stability" in row["reasons"]


def test_the_second_opinion_judges_the_relaxed_structure_where_there_is_one():
    hull = _hull_where_nacl_is_stable()
    other = _Fixed(0.0)
    squeezed = _nacl(5.2)
    score_crystals([squeezed], ["nacl"], hull=hull, relax_top=1, relax_steps=30, second_opinion=other)
    assert len(other.seen) == 1 and other.seen[0].volume > squeezed.volume * 1.05  # relaxed, not as given


def test_energies_of_another_frozen_set_are_refused_with_the_fix(tmp_path):
    phases = tmp_path / "competing_phases.csv.gz"
    phases.write_bytes(gzip.compress(b"id,tier,source,formula,reduced_formula,prototype,num_atoms,energy_per_atom,"
                                     b"initial_energy_per_atom,residual_max_force,relax_steps,spacegroup,structure\n"))
    energies, meta = tmp_path / "sevennet_energies.csv.gz", tmp_path / "sevennet_energies.meta.json"
    energies.write_bytes(gzip.compress(b"id,formula,energy_per_atom\nelement:Na,Na,-1.3\nelement:Cl,Cl,-1.8\n"))
    meta.write_text(json.dumps({"competing_phases_sha256": "0" * 64}))
    with pytest.raises(RuntimeError, match="second-opinion"):
        so.load_hull(energies, meta, phases)
    meta.write_text(json.dumps({"competing_phases_sha256": frozen_hash(phases)}))
    hull = so.load_hull(energies, meta, phases)
    assert hull.elements == {"Na": -1.3, "Cl": -1.8}
    with pytest.raises(RuntimeError, match="missing"):
        so.load_hull(tmp_path / "nothing.csv.gz", meta, phases)


@pytest.mark.skipif(not so.available(), reason="sevenn is not installed (pip install 'designer[sevenn]')")
def test_sevennet_agrees_with_chgnet_on_rock_salt_within_a_tenth_of_an_ev():
    from designer.scoring.chgnet_energy import single_point

    from designer.scoring.energy_convention import apply

    (e7,) = so.single_point([_nacl()])
    e_chg = single_point([_nacl()])[0]["energy_per_atom"]
    # SevenNet-0 learned MPtrj's uncorrected energies, CHGNet the MP2020-corrected ones (Cl: -0.614 eV per atom)
    assert math.isfinite(e7) and abs(apply("NaCl", e7, "chgnet+mp2020") - e_chg) < 0.1
    squeezed = so.single_point([_nacl(4.9)])[0]
    assert squeezed > e7 + 0.1  # compressed rock salt costs energy


@pytest.mark.skipif(not so.available(), reason="sevenn is not installed (pip install 'designer[sevenn]')")
def test_the_shipped_second_opinion_matches_the_frozen_set():
    if not so.ENERGIES_FILE.exists():
        pytest.fail("sevennet_energies.csv.gz is not shipped: run python -m designer.scoring.references second-opinion")
    hull = so.load_hull()
    assert {"O", "Ba", "Ti"} <= set(hull.elements)
    from designer.scoring.energy_convention import apply

    assert hull.convention == so.json.loads(so.META_FILE.read_text())["convention"]["used"]
    el = hull.elements
    correction = apply("BaTiO3", 0.0, hull.convention)  # SevenNet-0's convention: MP2020 added, once
    e = (el["Ba"] + el["Ti"] + 3 * el["O"]) / 5 - 3.0 - correction  # a formation energy of -3 eV/atom
    ev = hull.evaluate("BaTiO3", e, exclude_formula="BaTiO3")  # BaTiO3 itself is an MP-20 phase: leave it out
    assert ev["formation_energy"] == pytest.approx(-3.0)
    assert ev["hull_coverage"] == "complete" and ev["e_above_hull"] > -2.0  # the oxides lie far below the elements
    assert "TiO2" in ev["decomposition"] and "BaTiO3" not in ev["decomposition"]  # its competing phases


@pytest.mark.skipif(not so.available(), reason="sevenn is not installed (pip install 'designer[sevenn]')")
def test_designer_score_with_a_second_opinion_writes_sevennets_column(tmp_path):
    import csv

    from designer.workflow.score_files import score_files

    cif = tmp_path / "nacl.cif"
    cif.write_text(_nacl().to(fmt="cif"))
    res = score_files([cif], tmp_path / "out", second_opinion=True, log=lambda m: None)
    (row,) = list(csv.DictReader(open(tmp_path / "out" / "scores.csv")))
    assert math.isfinite(float(row["e_above_hull_sevennet"])) and math.isfinite(float(row["e_above_hull"]))
    assert abs(float(row["e_above_hull_sevennet"]) - float(row["e_above_hull"])) < 0.3  # rock salt: both near the hull
    assert any("second opinion" in n for n in res.notes)
    plain = score_files([cif], tmp_path / "plain", log=lambda m: None)
    assert "e_above_hull_sevennet" not in plain.rows[0]
