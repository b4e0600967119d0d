"""gfp-design: the cross-fitted CNN oracle, and every method judged on one budget within the mutation cap."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from designer.benchmarks import benchmark_options, gfp_design
from designer.benchmarks.gfp_oracle import Oracle, train_oracle
from designer.errors import DesignerError

from protein_fixtures import REFERENCE, _variants, write_protein_pipeline


def _additive(n: int, length: int = 30, seed: int = 0):
    """Random 1-3 substitution variants of a fixed sequence; each position's mutation adds its own weight."""
    rng = np.random.default_rng(seed)
    wt = rng.integers(0, 20, length)
    w = rng.normal(0, 1, length)
    x = np.repeat(wt[None], n, 0)
    for row in x:
        for p in rng.choice(length, rng.integers(1, 4), replace=False):
            row[p] = (row[p] + rng.integers(1, 20)) % 20
    return torch.as_tensor(x), ((x != wt) * w).sum(1)


def test_the_oracle_is_cross_fitted_and_survives_a_save(tmp_path):
    x, y = _additive(1200)
    lab = train_oracle(x, y, folds=3, epochs=12, log=lambda *_: None)
    assert len(lab.members) == 3 and lab.meta["n"] == 1200
    assert lab.meta["cv_spearman"] > 0.6  # out-of-fold: each row judged by the member that never saw it
    mean, spread = lab.predict(x[:50])
    assert mean.shape == spread.shape == (50,) and (spread > 0).all()
    lab.save(tmp_path / "o.pt")
    again = Oracle.load(tmp_path / "o.pt")
    assert again.meta == lab.meta
    np.testing.assert_allclose(again.predict(x[:50])[0], mean, atol=0.05 * float(np.std(y)))  # float16 weights


def test_a_missing_oracle_or_unequal_labels_are_one_line_errors(tmp_path):
    with pytest.raises(DesignerError, match="no oracle file"):
        Oracle.load(tmp_path / "none.pt")
    with pytest.raises(DesignerError, match="finite label"):
        train_oracle(torch.zeros(3, 5, dtype=torch.long), np.array([1.0, np.nan, 2.0]))


CAP = 10  # substitutions from the 28-residue reference (a 3-epoch model decodes far from it)


def test_gfp_design_runs_every_method_on_one_budget_and_writes_the_contract_keys(tmp_path, cli):
    seq = {"format": "mutations", "reference": "ref.fasta", "index_base": 1, "max_mutations": 3}
    path = write_protein_pipeline(tmp_path, _variants(200, max_mut=3), epochs=3,
                                  extra={"design": {"q": 4, "start_points": 16, "max_fit_points": 64},
                                         "data": {"sequences": seq}})
    assert cli("train", path, "--out", tmp_path / "run").code == 0
    with pytest.raises(DesignerError, match="--methods nope"):
        gfp_design.run(run=str(tmp_path / "run"), methods="nope")

    out = gfp_design.run(run=str(tmp_path / "run"), out=tmp_path / "gd.json", seeds="0", rounds=2, q=4,
                         max_mutations=CAP, oracle=tmp_path / "oracle.pt", train_oracle_epochs=2)
    res = json.loads(out.read_text())
    assert (tmp_path / "oracle.pt").exists() and 0 < res["oracle"]["spread_p95"]
    for key in ("best_training_oracle", "wild_type_oracle"):
        assert np.isfinite(res[key])
    assert -1 <= res["oracle"]["cv_spearman"] <= 1
    assert set(res["baselines"]) == set(gfp_design.METHODS) - {"designer"}
    for agg in [res["designer"], *res["baselines"].values()]:
        assert agg["best_oracle"] >= agg["top16_mean_oracle"]  # the best is in the top 16
        assert agg["best_oracle_std"] == 0.0  # one seed: no spread
    for seed in ("0",):
        for name, m in res["per_seed"][seed].items():
            assert 0 < m["designs"] <= 2 * 4, name  # never more than the lab budget
            assert m["best_mutations"] <= CAP and m["mean_mutations"] <= CAP, name  # within the cap
            assert len(m["best_sequence"]) == len(REFERENCE) or name == "designer"
    md = out.with_suffix(".md").read_text()
    assert "| designer |" in md and "| hill_climb |" in md


def test_gfp_design_takes_its_options():
    assert {"run", "seeds", "rounds", "q", "max_mutations", "methods", "oracle", "train_oracle_epochs"} <= \
        set(benchmark_options("gfp-design"))
