"""Crystal-structure prediction: formulas in, structures of exactly that composition out (issue 17)."""

from __future__ import annotations

import csv
import itertools
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Lattice, Structure

from designer.domains.crystal.templates import TemplateBaseline, best_mapping
from designer.domains.crystal.csp import Cell, StructurePredictor, assign_elements, parse_formula, score_cell
from designer.errors import DataError

KNOWN = {8, 22, 38, 56}  # O Ti Sr Ba


# ------------------------------------------------------------------ formulas


def test_a_reduced_formula_tries_every_multiple_that_fits_and_a_shared_factor_is_the_exact_cell():
    cells = parse_formula("SrTiO3", KNOWN, max_atoms=20)
    assert [c.num_atoms for c in cells] == [5, 10, 15, 20]
    assert dict(cells[1].counts) == {8: 6, 22: 2, 38: 2}
    (exact,) = parse_formula("Sr2Ti2O6", KNOWN, max_atoms=20)
    assert exact.num_atoms == 10
    (fixed,) = parse_formula("SrTiO3", KNOWN, max_atoms=20, z=3)
    assert fixed.num_atoms == 15 and fixed.formula == "Sr3Ti3O9"


@pytest.mark.parametrize("text, words", [
    ("SrTiO3x", "cannot be parsed"), ("", "cannot be parsed"), ("Sr(Ti", "cannot be parsed"),
    ("Xx2", "not an element"), ("Li0.5O", "whole numbers"),
    ("SrFeO3", "does not know Fe"), ("SrTiO30", "32 atoms do not fit"),
])
def test_a_bad_formula_is_one_line_naming_it(text, words):
    with pytest.raises(DataError) as info:
        parse_formula(text, KNOWN, max_atoms=20)
    msg = str(info.value)
    assert words in msg and repr(text) in msg and "\n" not in msg


# ------------------------------------------------------------------ assignment and ranking


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(2, 4), st.integers(0, 10_000))
def test_the_slot_assignment_is_the_best_of_all_orderings(n, v, seed):
    rng = np.random.default_rng(seed)
    slot_logp = np.log(rng.dirichlet(np.ones(v), size=n))
    cell = np.sort(rng.integers(0, v, size=n))
    types, score = assign_elements(slot_logp, cell)
    assert Counter(types.tolist()) == Counter(cell.tolist())  # exactly the cell's atoms
    brute = max(sum(slot_logp[s, t] for s, t in enumerate(p)) for p in set(itertools.permutations(cell.tolist())))
    assert score == pytest.approx(brute)
    assert score == pytest.approx(slot_logp[np.arange(n), types].sum())


def test_the_bounded_search_returns_the_exact_top_k():
    gen = torch.Generator().manual_seed(0)
    p, s, v = 300, 6, 4
    na = torch.log_softmax(torch.randn(p, s, generator=gen), -1)
    sl = torch.log_softmax(torch.randn(p, s, v, generator=gen) * 3, -1)
    cell = np.array([0, 0, 2, 3])
    idx, score, types = score_cell(na, sl, cell, k=7, start=8)
    exact = [float(na[i, 3]) + assign_elements(sl[i, :4].numpy().astype(float), cell)[1] for i in range(p)]
    assert idx.tolist() == np.argsort(exact)[::-1][:7].tolist()
    assert score == pytest.approx(sorted(exact, reverse=True)[:7])
    assert all(Counter(t.tolist()) == Counter(cell.tolist()) for t in types)


# ------------------------------------------------------------------ the predictor on a trained model


@pytest.fixture(scope="module")
def predictor(tiny_loaded):
    return StructurePredictor(tiny_loaded, prior_draws=64, seed=0)


def test_every_prediction_has_exactly_the_asked_composition(predictor, tiny_structures):
    target = tiny_structures[3]
    pred = predictor.predict(target.composition.formula.replace(" ", ""), k=6)
    assert len(pred.structures) == 6 and all(s is not None for s in pred.structures)
    for s in pred.structures:
        assert s.composition == target.composition  # atom count and elements fixed
    assert list(pred.scores) == sorted(pred.scores, reverse=True)  # the first is the best-scored latent
    ids = [r.id for r in predictor.training_records]
    assert set(pred.sources) <= {"prior"} | {f"{kind} {i}" for i in ids for kind in ("training", "template")}


def test_template_latents_are_the_substituted_prototypes_of_the_cell(tiny_loaded, tiny_structures):
    target = tiny_structures[2]
    pred = StructurePredictor(tiny_loaded, prior_draws=0, use_training=False, templates=3).predict(
        target.composition.formula.replace(" ", ""), k=3)
    assert pred.sources and all(s.startswith("template ") for s in pred.sources)  # the only candidates
    assert all(s.composition == target.composition for s in pred.structures)


def test_the_pool_holds_each_training_latent_once_and_the_seeded_prior_draws(predictor, tiny_loaded, tiny_structures):
    n_train = len(tiny_structures)
    assert len(predictor.z) == n_train + 64 and predictor.sources.count("prior") == 64
    again = StructurePredictor(tiny_loaded, prior_draws=64, seed=0)
    assert torch.equal(again.z, predictor.z)  # seeded
    prior_only = StructurePredictor(tiny_loaded, prior_draws=16, seed=1, use_training=False, templates=0)
    pred = prior_only.predict(tiny_structures[0].composition.formula.replace(" ", ""), k=4)
    assert pred.sources == ["prior"] * 4 and len(prior_only.z) == 16


# ------------------------------------------------------------------ template baseline


def _cubic(a_el, b_el, x_el, a=4.0):
    return Structure(Lattice.cubic(a), [a_el, b_el, x_el, x_el, x_el],
                     [[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])


def test_the_template_baseline_substitutes_elements_and_rescales_the_volume():
    train = [_cubic("Sr", "Ti", "O", 3.9), _cubic("Ba", "Zr", "O", 4.2), _cubic("Ca", "Ti", "O", 3.8)]
    base = TemplateBaseline(train)
    out = base.predict({38: 1, 22: 1, 8: 3}, k=3)  # SrTiO3
    assert len(out) == 3 and all(s.composition.reduced_formula == "SrTiO3" for s in out)
    assert out[0].volume == pytest.approx(base.volume({38: 1, 22: 1, 8: 3}))
    # the exact composition in the training set is the closest template, Sr on the Sr site
    assert [site.specie.symbol for site in out[0]][:2] == ["Sr", "Ti"]
    assert base.predict({38: 2, 8: 2}, k=3) == []  # no training crystal of that prototype


def test_equal_count_roles_go_to_the_closest_elements():
    mapping, _ = best_mapping({56: 1, 40: 1, 8: 3}, {38: 1, 22: 1, 8: 3})  # BaZrO3 onto SrTiO3
    assert mapping == {38: 56, 22: 40, 8: 8}  # A site to A site, B to B


# ------------------------------------------------------------------ CLI


def test_predict_structure_writes_k_cifs_per_formula_and_a_ranked_table(cli, tiny_run, tiny_structures, tmp_path):
    formula = tiny_structures[1].composition.reduced_formula
    listing = tmp_path / "formulas.csv"
    listing.write_text(f"formula\n{formula}\n")
    res = cli("predict-structure", str(listing), "--run", tiny_run, "-k", "3", "--out", tmp_path / "out",
              "--prior-draws", "32", "--no-energies")
    assert res.code == 0, res
    rows = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    assert [int(r["rank"]) for r in rows] == [1, 2, 3] and {r["formula"] for r in rows} == {formula}
    for r in rows:
        s = Structure.from_file(tmp_path / "out" / r["file"])
        assert s.composition.reduced_formula == formula
        assert r["spacegroup"] and r["closest_training_basis"] in {"same formula", "same prototype", "none"}
    assert [float(r["log_likelihood"]) for r in rows] == sorted((float(r["log_likelihood"]) for r in rows),
                                                                 reverse=True)


def test_predict_structure_checks_every_formula_before_any_work(cli, tiny_run, tiny_structures, tmp_path):
    good = tiny_structures[0].composition.reduced_formula
    res = cli("predict-structure", good, "Qq3", "--run", tiny_run, "--out", tmp_path / "out")
    assert res.code == 2 and len(res.err_lines) == 1 and "'Qq3'" in res.err, res
    assert not (tmp_path / "out").exists()
