"""Latent diagnostics: collapse warning, active units, capacity annealing, designer analyze, beta-sweep."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from protein_fixtures import _variants, write_protein_pipeline

from designer.models.vae import BetaVAE, capacity_at


def _train(path, run_dir, overrides=()):
    from designer.config import load_pipeline
    from designer.training.train import train

    cfg, _ = load_pipeline(path, list(overrides))
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(cfg, run_dir, progress=False, notify=notes.append)
    from designer.training.module import PosteriorCollapseWarning

    collapse = [w for w in caught if issubclass(w.category, PosteriorCollapseWarning)]
    return json.loads((run_dir / "summary.json").read_text()), collapse, notes


@pytest.fixture(scope="module")
def prot_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diag")
    write_protein_pipeline(folder, _variants(240), epochs=6,
                           extra={"loss": {"schedule": {"kind": "constant"}}, "train": {"lr": 0.003}})
    return folder


@pytest.fixture(scope="module")
def healthy_run(prot_folder):
    summary, collapse, notes = _train(prot_folder / "pipeline.yaml", prot_folder / "healthy", ["loss.beta=0.01"])
    return prot_folder / "healthy", summary, collapse, notes


def test_collapse_warning_fires_on_a_beta_100_run_and_names_the_remedies(prot_folder, healthy_run):
    summary, collapse, notes = _train(prot_folder / "pipeline.yaml", prot_folder / "collapsed", ["loss.beta=100"])
    assert collapse, "no PosteriorCollapseWarning at beta = 100"
    msg = summary["collapse_warning"]
    assert msg and notes == [msg]  # the CLI's notify hook hears it once, at once
    for remedy in ("loss.beta", "free_bits", "cyclical", "capacity"):
        assert remedy in msg
    assert summary["holdout_rate_nats"] < 2.0
    # the same data at beta = 0.01 keeps its latent alive and does not warn
    _, healthy_summary, healthy_collapse, healthy_notes = healthy_run
    assert not healthy_collapse and healthy_summary["collapse_warning"] is None and not healthy_notes
    assert healthy_summary["holdout_rate_nats"] > 10.0


def test_summary_reports_kl_per_dimension_on_the_holdout(healthy_run):
    _, summary, _, _ = healthy_run
    kl = summary["holdout_kl_per_dim"]
    assert len(kl) == summary["latent_dim"] == 8
    assert sum(kl) == pytest.approx(summary["holdout_rate_nats"], rel=1e-3)
    assert len(summary["active_unit_dims"]) == summary["active_units"]


def _dead_dims_model(run_dir, dead: list[int], out_path):
    """The healthy run's model with ``dead`` latent dimensions forced constant (their mean ignores x)."""
    from designer.runs import load_run, save_model

    run = load_run(run_dir)
    with torch.no_grad():
        run.model.to_mu.weight[dead] = 0.0
        run.model.to_mu.bias[dead] = 0.3
        live = [j for j in range(run.model.latent_dim) if j not in dead]
        run.model.to_mu.weight[live] *= 50.0  # clearly above the 0.01 variance threshold
    save_model(out_path, run.model, run.config, run.meta)
    return out_path


def test_active_units_finds_exactly_the_live_dimensions(healthy_run, tmp_path):
    from designer.analysis.rate_distortion import latent_stats, run_items
    from designer.runs import load_run

    dead = [1, 4, 6]
    path = _dead_dims_model(healthy_run[0], dead, tmp_path / "dead.pt")
    run = load_run(path)
    domain, items = run_items(run, "holdout")
    st = latent_stats(run.model, items, domain)
    assert np.flatnonzero(st.active).tolist() == [0, 2, 3, 5, 7]


def test_analyze_writes_the_diagnostics_and_reports_dead_dims(healthy_run, tmp_path, cli):
    path = _dead_dims_model(healthy_run[0], [1, 4, 6], tmp_path / "dead.pt")
    res = cli("analyze", str(path), "--out", str(tmp_path / "an"))
    assert res.code == 0, res
    assert "active units 5/8" in res.out
    r = json.loads((tmp_path / "an" / "analysis.json").read_text())
    assert r["active_unit_dims"] == [0, 2, 3, 5, 7]
    for key in ("rate", "distortion", "kl_per_dim", "total_correlation", "mig", "intervention", "correlations",
                "prototype", "traversal_dims"):
        assert key in r
    live = {0, 2, 3, 5, 7}
    assert set(r["traversal_dims"]) <= live  # dimensions are named in the full code's numbering
    assert r["intervention"]["top_dim"] in live
    assert {j for j in r["mig"]["top_dim"] if j is not None} <= live
    assert {"substitutions", "net_charge", "score"} <= set(r["factors"])
    for f in ("analysis.md", "kl_per_dim.png", "traversals.png", "interpolation.png", "correlations.png",
              "prototype.fasta", "traversals.csv", "interpolation.csv"):
        assert (tmp_path / "an" / f).stat().st_size > 0, f
    assert (tmp_path / "an" / "prototype.fasta").read_text().startswith(">prototype z=0")


def test_capacity_annealing_steers_the_rate_to_its_target():
    assert capacity_at(0.0, 20.0, 10.0) == 0.0
    assert capacity_at(5.0, 20.0, 10.0) == pytest.approx(10.0)
    assert capacity_at(30.0, 20.0, 10.0) == 20.0

    class Plugin(torch.nn.Module):
        feature_dim = 4

        def encode_features(self, batch):
            return batch["x"]

        def decode(self, z):
            return {"z": z}

        def reconstruction_loss(self, decoded, batch):
            return {"mse": torch.zeros(len(batch["x"]))}

        def targets(self, batch):
            return torch.zeros(len(batch["x"]), 0)

    vae = BetaVAE(Plugin(), latent_dim=2)
    x = {"x": torch.randn(16, 4)}
    out = vae.loss(x, beta=1.0, sample=False)
    kl = out["kl"].item()
    below = vae.loss(x, beta=1.0, sample=False, capacity=(kl + 3.0, 2.0))["loss"].item()
    above = vae.loss(x, beta=1.0, sample=False, capacity=(kl - 3.0, 2.0))["loss"].item()
    assert below == pytest.approx(6.0, rel=1e-4) and above == pytest.approx(6.0, rel=1e-4)  # gamma |KL - C|


def test_capacity_config_trains_and_unknown_keys_are_named(prot_folder, tmp_path, cli):
    summary, _, _ = _train(prot_folder / "pipeline.yaml", tmp_path / "cap",
                           ["loss.capacity={max_nats: 5, anneal_epochs: 2, weight: 5}", "train.epochs=3"])
    assert summary["epochs"] >= 2
    res = cli("train", str(prot_folder / "pipeline.yaml"), "--set", "loss.capacity={max_nat: 5}",
              "--out", str(tmp_path / "bad"))
    assert res.code == 2 and "max_nats" in res.err


def test_beta_sweep_writes_one_row_per_beta_and_reuses_finished_runs(prot_folder, tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "res" / "sweep.json"
    args = ("benchmark", "beta-sweep", "--pipeline", str(prot_folder / "pipeline.yaml"), "--betas", "0.01,100",
            "--epochs", "6", "--minutes", "2", "--out", str(out))
    res = cli(*args)
    assert res.code == 0, res
    rows = json.loads(out.read_text())
    assert [r["beta"] for r in rows] == [0.01, 100.0]
    for r in rows:
        assert {"beta", "rate", "distortion", "active_units", "property_spearman", "prior_diversity"} <= set(r)
    low, high = rows
    assert high["collapsed"] and not low["collapsed"] and low["rate"] > high["rate"]
    assert out.with_suffix(".png").stat().st_size > 0 and "Collapse begins at β = 100" in out.with_suffix(".md").read_text()
    meta = json.loads((tmp_path / "res" / "sweep_meta.json").read_text())
    assert meta["recommended_beta"] == 0.01 and meta["collapse_onset_beta"] == 100.0
    again = cli(*args)
    assert again.code == 0 and again.err.count("reusing the trained run") == 2 and "training" not in again.err
    assert json.loads(out.read_text()) == rows  # measured again: the same numbers


def test_collapse_rule_reads_the_rate_first_and_active_units_on_request():
    from designer.models.vae import is_collapsed

    assert is_collapsed(0.5, 15, 64)  # a head can spread the means of a latent that carries half a nat
    assert not is_collapsed(30.0, 0, 64)  # small but informative means: not collapse by default ...
    assert is_collapsed(30.0, 2, 64, min_active_fraction=0.05)  # ... unless active units are required
    assert not is_collapsed(30.0, 4, 64, min_active_fraction=0.05)


def test_analyze_interpolates_between_two_given_sequences(healthy_run, tmp_path, cli):
    from protein_fixtures import REFERENCE

    mutant = "W" + REFERENCE[1:]
    res = cli("analyze", str(healthy_run[0]), "--out", str(tmp_path / "an"), "--between", REFERENCE,
              "--between", mutant)
    assert res.code == 0, res
    r = json.loads((tmp_path / "an" / "analysis.json").read_text())
    assert r["interpolation_ends"] == [REFERENCE, mutant]
    rows = (tmp_path / "an" / "interpolation.csv").read_text().splitlines()
    assert len(rows) == 1 + 11
    once = cli("analyze", str(healthy_run[0]), "--out", str(tmp_path / "an2"), "--between", REFERENCE)
    assert once.code == 2 and "exactly two" in once.err
    bad = cli("analyze", str(healthy_run[0]), "--out", str(tmp_path / "an3"), "--between", "MK1TA", "--between", mutant)
    assert bad.code == 2 and len(bad.err_lines) == 1 and "--between: 'MK1TA'" in bad.err, bad
    assert not (tmp_path / "an3").exists()  # it failed before writing anything


def test_analyze_a_crystal_run_names_site_factors_and_interpolates_between_two_cifs(tmp_path, cli):
    from conftest import perov_frame, write_csv, write_pipeline
    from pymatgen.core import Structure
    from pymatgen.io.cif import CifWriter

    df = perov_frame(60)
    write_csv(df, tmp_path / "p.csv")
    pipe = write_pipeline(tmp_path / "p.yaml", "p.csv", data={"holdout_fraction": 0.2}, train_cfg={"epochs": 2})
    assert cli("train", pipe, "--out", tmp_path / "run").code == 0
    a, b = (Structure.from_str(c, fmt="cif") for c in df["cif"].iloc[:2])
    (tmp_path / "a.cif").write_text(str(CifWriter(a)))
    (tmp_path / "b.cif").write_text(str(CifWriter(b)))
    res = cli("analyze", tmp_path / "run", "--between", tmp_path / "a.cif", "--between", tmp_path / "b.cif")
    assert res.code == 0, res
    r = json.loads((tmp_path / "run" / "analysis" / "analysis.json").read_text())
    assert {"A_electronegativity", "B_radius", "lattice_constant", "heat_ref"} <= set(r["factors"])  # constant ones dropped
    assert r["intervention"] is None or r["intervention"]["factor"].startswith("lattice_constant")
    assert r["interpolation_ends"] == [str(tmp_path / "a.cif"), str(tmp_path / "b.cif")]
    assert (tmp_path / "run" / "analysis" / "prototype.cif").exists() or r["prototype"]["formula"] is None
    missing = cli("analyze", tmp_path / "run", "--between", tmp_path / "nope.cif", "--between", tmp_path / "b.cif")
    assert missing.code == 2 and "nope.cif" in missing.err


def test_analyze_a_model_with_a_single_live_dimension(healthy_run, tmp_path, cli):
    path = _dead_dims_model(healthy_run[0], [0, 1, 2, 3, 4, 5, 7], tmp_path / "one.pt")
    res = cli("analyze", str(path), "--out", str(tmp_path / "an"))
    assert res.code == 0, res
    r = json.loads((tmp_path / "an" / "analysis.json").read_text())
    assert r["active_unit_dims"] == [6] and r["traversal_dims"] == [6]
    assert r["mig"] is None and r["intervention"] is None and r["total_correlation"] is None
    assert "analysis.md" in r["files"]
