"""perov5-opt and carbon24-opt: the evaluators judge only, after selection; an interrupted run resumes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from designer.benchmarks import carbon24_opt, latent_opt, perov5_opt

from conftest import head_csv


@pytest.fixture
def journal(monkeypatch):
    """Every selection call and every evaluator build or call, in order."""
    events: list[str] = []
    real_select = latent_opt.select_candidates

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

    monkeypatch.setattr(latent_opt, "select_candidates", select)
    monkeypatch.setattr(perov5_opt, "fit_evaluator", fit)
    for module in (perov5_opt, carbon24_opt):
        monkeypatch.setattr(module, "CDVAEEvaluator", FakeCDVAE)
    return events


def _selection_before_judging(journal: list[str], n_starts: int) -> int:
    first_judge = next(i for i, e in enumerate(journal) if e != "select")
    assert journal[:first_judge] == ["select"] * n_starts  # every start chosen before any judge is built
    assert "select" not in journal[first_judge:]
    return first_judge


def test_no_evaluator_exists_while_candidates_are_selected_and_a_rerun_resumes(journal, tmp_path, monkeypatch,
                                                                             few_training_rows):
    real_load = perov5_opt.load_records  # the GBM judge is a fake: the first 64 training and test rows do
    monkeypatch.setattr(perov5_opt, "load_records", lambda path, props: real_load(head_csv(path, 64, tmp_path), props))
    out = perov5_opt.run(out=tmp_path / "opt.json", n_starts=2, decodes=2, pool=0, decodes_dir=tmp_path / "runs")
    first_judge = _selection_before_judging(journal, 2)
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

    # a run killed while writing its last line: that start is selected again, the file stays valid
    (f,) = list((tmp_path / "runs").glob("decodes_*.jsonl"))
    text = f.read_text()
    f.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1] + text.splitlines()[-1][:25])
    journal.clear()
    perov5_opt.run(out=tmp_path / "third.json", n_starts=2, decodes=2, pool=0, decodes_dir=tmp_path / "runs")
    assert journal.count("select") == 1
    assert [json.loads(line)["start"] for line in f.read_text().splitlines()] == [p["start"] for p in res["per_start"]]


def test_carbon24_opt_judges_with_the_carbon_evaluator_against_training_percentiles(journal, tmp_path, monkeypatch,
                                                                                    few_training_rows):
    real_relax = latent_opt._relax_start

    def relax(args):
        journal.append("relax")
        return real_relax(args)

    monkeypatch.setattr(latent_opt, "_relax_start", relax)
    out = carbon24_opt.run(out=tmp_path / "c.json", n_starts=2, decodes=2, pool=0, decodes_dir=tmp_path / "runs",
                           relax_steps=3, jobs=1)
    first_judge = _selection_before_judging(journal, 2)
    # --relax-steps: CHGNet relaxes every chosen decode after selection and before the judge exists
    assert journal[first_judge:first_judge + 3] == ["relax", "relax", "cdvae-built:carbon"]
    assert journal[first_judge:].count("cdvae-built:carbon") == 1 and "gbm-built" not in journal
    res = json.loads(out.read_text())
    rel = res["cdvae_evaluator_relaxed"]  # beside the protocol's as-decoded numbers, not instead of them
    assert {"sr5", "sr10", "sr15", "relax_steps", "relaxed_file"} <= set(rel) and rel["relax_steps"] == 3
    relaxed = [json.loads(line)["structures"] for line in Path(rel["relaxed_file"]).read_text().splitlines()]
    assert [len(r) for r in relaxed] == [len(d) for d in _decodes(tmp_path)]
    assert relaxed != _decodes(tmp_path)  # three FIRE steps moved atoms or the cell
    c = res["cdvae_evaluator"]
    assert {"sr5", "sr10", "sr15", "thresholds", "start_mae"} <= set(c)
    # the thresholds are the 5th/10th/15th percentiles of the shipped training rows' energies
    from designer.config import load_pipeline
    from designer.data.crystal_dataset import load_records
    from designer.resources import require_pipeline
    cfg, _ = load_pipeline(require_pipeline("carbon24"))
    y = [r.properties["energy_per_atom"] for p in cfg.data.train for r in load_records(p, ["energy_per_atom"])]
    assert c["thresholds"] == pytest.approx({f"sr{p}": float(np.percentile(y, p)) for p in (5, 10, 15)})
    assert c["thresholds"]["sr5"] < c["thresholds"]["sr10"] < c["thresholds"]["sr15"] < 0  # eV/atom of carbon
    # fake judge: 0.2 x atoms > 0 > every threshold, so no start succeeds, whatever was decoded
    assert c["sr15"] == 0.0 and c["sr5_starts_already"] == 0.0
    assert [p["valid_decodes"] for p in res["per_start"]] == [len(p) for p in _decodes(tmp_path)]


def test_carbon24_opt_refuses_a_model_without_the_energy_head(tmp_path):
    from designer.errors import DesignerError
    with pytest.raises(DesignerError, match="no energy_per_atom head"):
        carbon24_opt.run(run="perov5", out=tmp_path / "c.json", n_starts=1, decodes=1, pool=0,
                         decodes_dir=tmp_path / "runs")


def _decodes(tmp_path):
    (f,) = [p for p in (tmp_path / "runs").glob("decodes_*.jsonl") if "_relaxed" not in p.name]
    return [json.loads(line)["structures"] for line in f.read_text().splitlines()]

