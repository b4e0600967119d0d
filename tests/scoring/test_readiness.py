"""The synthesis-readiness formula (designer.scoring.rank.readiness with each domain's terms), term by term."""

from __future__ import annotations

import math

import numpy as np
import pytest

from designer.domains import get_domain
from designer.scoring.rank import DEFAULT_WEIGHTS, readiness

CRYSTAL = get_domain("crystal")
SEQUENCE = get_domain("protein")


def crystal_row(**kw) -> dict:
    row = {"objective": 0.0, "geometry_ok": "True", "charge_neutral": "True", "plausibility_percentile": 0.0,
           "e_above_hull": 0.0, "max_force": 0.0, "novel": "False"}
    row.update(kw)
    return row


def test_objective_enters_standardised_over_the_batch():
    rows = [crystal_row(objective=v) for v in (1.0, 2.0, 3.0)]
    z = (np.array([1.0, 2.0, 3.0]) - 2.0) / np.std([1.0, 2.0, 3.0])
    assert readiness(rows, CRYSTAL) == pytest.approx(z)
    assert readiness(rows, CRYSTAL, {"objective": 2.0}) == pytest.approx(2 * z)


def test_each_crystal_term_has_its_documented_weight():
    base = readiness([crystal_row()], CRYSTAL)[0]
    assert base == 0.0
    one = lambda **kw: readiness([crystal_row(**kw)], CRYSTAL)[0] - base  # noqa: E731
    assert one(plausibility_percentile=80.0) == pytest.approx(0.5 * 0.8)
    assert one(e_above_hull=0.2) == pytest.approx(-2.0)  # 1 per 0.1 eV/atom above the hull
    assert one(e_above_hull=3.0) == pytest.approx(-10.0)  # clipped at 1 eV/atom
    assert one(e_above_hull=-0.5) == pytest.approx(0.0)  # below the hull is not a bonus
    assert one(e_above_hull=0.5, e_above_hull_relaxed=0.1) == pytest.approx(-1.0)  # the relaxed value wins
    assert one(max_force=2.0) == pytest.approx(-0.4)
    assert one(max_force=9.0) == pytest.approx(-1.0)  # clipped at 5 eV/Å
    assert one(max_force=2.0, residual_max_force=0.5) == pytest.approx(-0.1)  # residual force after relaxation wins
    assert one(novel="True") == pytest.approx(0.5)
    assert one(e_above_hull=None, max_force="", plausibility_percentile=None) == pytest.approx(0.0)  # missing = 0


def test_crystal_gates_rank_a_failing_candidate_last():
    rows = [crystal_row(objective=5.0, geometry_ok="False"), crystal_row(objective=1.0, charge_neutral=False),
            crystal_row(objective=0.0)]
    s = readiness(rows, CRYSTAL)
    assert s[0] == -math.inf and s[1] == -math.inf and math.isfinite(s[2])


def test_sequence_terms_and_stop_codon_gate():
    row = {"objective": 0.0, "elbo_percentile": 50.0, "plausibility_percentile": 90.0, "num_liabilities": 2,
           "edit_distance_wild_type": 20, "stop_codon": False}
    w = DEFAULT_WEIGHTS
    expected = w["plausibility"] * 0.5 - w["liability"] * 2 - w["distance"] * 2.0
    assert readiness([row], SEQUENCE)[0] == pytest.approx(expected)  # ELBO percentile preferred to plausibility
    no_elbo = {k: v for k, v in row.items() if k != "elbo_percentile"}
    assert readiness([no_elbo], SEQUENCE)[0] == pytest.approx(expected + w["plausibility"] * 0.4)
    assert readiness([{**row, "stop_codon": "True"}], SEQUENCE)[0] == -math.inf


def test_weights_from_the_pipeline_change_the_ranking():
    rows = [crystal_row(objective=1.0, e_above_hull=0.05), crystal_row(objective=0.0, e_above_hull=0.0)]
    default = readiness(rows, CRYSTAL)
    assert default[0] > default[1]  # z = +-1 beats half of a 0.1 eV/atom step
    heavy = readiness(rows, CRYSTAL, {"hull": 10.0})
    assert heavy[0] < heavy[1]
