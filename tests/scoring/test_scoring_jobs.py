"""Scoring fans out over processes and gives the same table as one process (issue 18)."""

from __future__ import annotations

import math

import pytest


def _same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) and isinstance(y, float):
            if not (math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6) or (math.isnan(x) and math.isnan(y))):
                return False
        elif x != y:
            return False
    return True


def test_two_workers_score_exactly_what_one_does(tiny_structures):
    from designer.scoring.crystal_card import score_crystals

    structures = list(tiny_structures) * 3  # 36: more than one CHGNet batch of 32, so both workers get one
    ids = [f"s{i}" for i in range(len(structures))]
    one = score_crystals(structures, ids, reference_structures=structures[:4], energies=True, jobs=1)
    two = score_crystals(structures, ids, reference_structures=structures[:4], energies=True, jobs=2)
    assert len(two) == len(structures) and [r["id"] for r in two] == ids
    assert all(r["energy_per_atom"] < 0 for r in two if r["geometry_ok"])  # CHGNet ran in the workers
    for a, b in zip(one, two):
        assert _same(a, b), (a, b)


def test_the_single_point_batches_keep_their_order_over_workers(tiny_structures):
    from designer.scoring.chgnet_energy import single_point
    from designer.scoring.per_structure import checks_and_single_points

    structures = list(tiny_structures)
    serial = single_point(structures, batch_size=4)
    fanned = checks_and_single_points(structures, jobs=2, batch_size=4)
    assert [r["energy_per_atom"] for r in fanned] == pytest.approx([r["energy_per_atom"] for r in serial], rel=1e-5)
