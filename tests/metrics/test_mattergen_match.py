"""Uniqueness and novelty as MatterGen defines them: groups count once; ordered vs disordered matcher."""

from __future__ import annotations

import pytest
from pymatgen.core import Element, Lattice, Structure

from designer.metrics.mattergen_match import disordered_version, fit, mattergen_uniqueness_novelty, substitutable

O_FACES = [[0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]


def perovskite(a_site: str, b_site: str, a: float = 4.0) -> Structure:
    """ABO3 with A at the corner, B at the body centre, O at the face centres (next to B)."""
    return Structure(Lattice.cubic(a), [a_site, b_site, "O", "O", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]] + O_FACES)


def rocksalt(a: float = 5.0) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_substitution_rule_is_radius_and_electronegativity():
    assert substitutable(Element("Ca"), Element("Sr"))
    assert not substitutable(Element("Sr"), Element("Ti"))  # radii differ by more than 30 %
    assert not substitutable(Element("Na"), Element("Cl"))


def test_swapping_substitutable_elements_matches_only_under_the_disordered_matcher():
    a, b = perovskite("Ca", "Sr"), perovskite("Sr", "Ca")
    assert not fit(a, b, disordered=False)
    assert fit(a, b)
    merged = disordered_version(a)
    assert merged is not None and not merged.is_ordered
    assert disordered_version(perovskite("Sr", "Ti")) is None


def test_a_group_of_duplicates_counts_once_and_the_strict_variant_counts_none():
    dup = [rocksalt(5.0), rocksalt(5.02), rocksalt(5.0).copy()]  # scale=True: a slightly larger cell is the same
    other = perovskite("Sr", "Ti")
    res = mattergen_uniqueness_novelty(dup + [other], train=[])
    assert res["n"] == 4
    assert res["unique_rate_mattergen"] == pytest.approx(2 / 4)  # two groups
    assert res["unique_rate_strict"] == pytest.approx(1 / 4)  # only the perovskite has no twin
    assert res["novel_rate_mattergen"] == 1.0 and res["novel_rate_mattergen_ordered"] == 1.0


def test_novelty_against_training_crystals_under_each_matcher():
    train = [perovskite("Ca", "Sr"), rocksalt()]
    samples = [perovskite("Sr", "Ca"), rocksalt(5.1), perovskite("Sr", "Ti")]
    res = mattergen_uniqueness_novelty(samples, train)
    assert res["novel_rate_mattergen_ordered"] == pytest.approx(2 / 3)  # the swapped perovskite is new to it
    assert res["novel_rate_mattergen"] == pytest.approx(1 / 3)  # ... but an ordering of a known alloy here
    assert res["novel_unique_rate_mattergen"] == pytest.approx(1 / 3)


def test_no_samples_gives_nan_not_an_error():
    res = mattergen_uniqueness_novelty([], [rocksalt()])
    assert res["n"] == 0 and res["unique_rate_mattergen"] != res["unique_rate_mattergen"]


def test_oxidation_states_do_not_hide_a_disordered_match():
    a, b = perovskite("Ca", "Sr"), perovskite("Sr", "Ca")
    a.add_oxidation_state_by_element({"Ca": 2, "Sr": 2, "O": -2})
    assert fit(a, b) and fit(b, a)


def graphite(a: float = 2.46, c: float = 6.7) -> Structure:
    """AB-stacked graphite: 4 carbon atoms in its primitive cell."""
    return Structure(Lattice.hexagonal(a, c), ["C"] * 4,
                     [[0, 0, 0.25], [0, 0, 0.75], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])


def diamond(a: float = 3.57) -> Structure:
    """Conventional diamond: 8 atoms, 2 in its primitive cell."""
    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["C"], [[0, 0, 0]])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_one_formula_sets_compare_reduced_cells_so_supercells_still_match(n_jobs, monkeypatch):
    """Carbon samples all share a formula; the comparison works on primitive cells, so a supercell of a
    training crystal is not novel and a supercell of another sample is its duplicate, while crystals
    with different primitive cells stay apart."""
    from designer.metrics import _matching, novelty_uniqueness

    monkeypatch.setattr(_matching, "MIN_POOL_REDUCTIONS", 0)  # a pool even for this little work
    monkeypatch.setattr(_matching, "MIN_POOL_PAIRS", 0)

    big_diamond = diamond()
    big_diamond.make_supercell([2, 1, 1])  # 16 atoms, the same crystal as the 8-atom cell
    stretched_graphite = graphite()
    stretched_graphite.make_supercell([1, 1, 3])  # 12 atoms
    samples = [big_diamond, graphite(), stretched_graphite, diamond(3.6)]
    res = novelty_uniqueness(samples, train=[diamond()], n_jobs=n_jobs, return_flags=True)
    assert res["novel"].tolist() == [False, True, True, False]
    assert res["unique"].tolist() == [False, False, False, False]
    mg = mattergen_uniqueness_novelty(samples, train=[diamond()], n_jobs=n_jobs)
    assert mg["unique_rate_mattergen"] == pytest.approx(2 / 4)  # two groups: diamond, graphite
    assert mg["novel_rate_mattergen"] == pytest.approx(2 / 4)
    assert mg["novel_unique_rate_mattergen"] == pytest.approx(1 / 4)  # the graphite group's founder
