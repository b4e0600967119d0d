"""perov5-opt: the evaluators judge only, after selection; an interrupted run resumes from its decodes file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from designer.benchmarks import perov5_opt


@pytest.fixture
def journal(monkeypatch):
    """Every selection call and every evaluator build or call, in order."""
    events: list[str] = []
    real_select = perov5_opt.select_candidates

    def select(*a, **k):
        events.append("select")
        return real_select(*a, **k)

    class FakeGBM:
        def predict(self, structures):
            events.append("gbm")
            return np.array([0.1 * len(s) for s in structures], dtype=float)

    class FakeCDVAE:
        def __init__(self, name):
            events.append(f"cdvae-built:{name}")

        def predict(self, structures):
            events.append("cdvae")
            return np.array([0.2 * s.composition.num_atoms for s in structures], dtype=float)

    def fit(structures, y, seed=0):
        events.append("gbm-built")
        return FakeGBM()

    monkeypatch.setattr(perov5_opt, "select_candidates", select)
    monkeypatch.setattr(perov5_opt, "fit_evaluator", fit)
    monkeypatch.setattr(perov5_opt, "CDVAEEvaluator", FakeCDVAE)
    return events


def test_no_evaluator_exists_while_candidates_are_selected_and_a_rerun_resumes(journal, tmp_path):
    out = perov5_opt.run(out=tmp_path / "opt.json", n_starts=2, decodes=2, pool=0, decodes_dir=tmp_path / "runs")
    first_judge = next(i for i, e in enumerate(journal) if e != "select")
    assert journal[:first_judge] == ["select", "select"]  # both starts chosen before any judge is built
    assert "select" not in journal[first_judge:]
    assert journal[first_judge:].count("cdvae-built:perovskite") == 1
    res = json.loads(out.read_text())
    c = res["cdvae_evaluator"]
    assert set(c) >= {"sr5", "sr10", "sr15", "thresholds", "start_mae"}
    assert {"sr5", "sr10", "sr15"} <= set(res)  # top-level keys stay the GBM's
    assert c["thresholds"] == perov5_opt.CDVAE_THRESHOLDS
    assert [p["valid_decodes"] for p in res["per_start"]] == [len(p) for p in _decodes(tmp_path)]
    # fake judges: 0.2 x atoms per cell (CDVAE) -> a 5-atom perovskite scores 1.0, above every threshold
    assert c["sr15"] == 0.0 and all(p["best_value_cdvae"] == pytest.approx(1.0) for p in res["per_start"]
                                    if p["valid_decodes"])

    journal.clear()
    again = json.loads(perov5_opt.run(out=tmp_path / "again.json", n_starts=2, decodes=2, pool=0,
                                      decodes_dir=tmp_path / "runs").read_text())
    assert "select" not in journal  # every start was in the decodes file
    assert [p["best_formula_cdvae"] for p in again["per_start"]] == [p["best_formula_cdvae"] for p in res["per_start"]]


def _decodes(tmp_path):
    (f,) = list((tmp_path / "runs").glob("decodes_*.jsonl"))
    return [json.loads(line)["structures"] for line in f.read_text().splitlines()]
