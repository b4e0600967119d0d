"""A new domain is one folder: the toy bit-string domain (``tests/toy_domain/``, registered only here) runs
train -> sample -> design -> score -> report through the CLI with no change anywhere else."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml

from designer.domains import domain_names, get_domain, register_domain, unregister_domain
from toy_domain import DOMAIN, ones_fraction

L = 16


@pytest.fixture()
def bits_domain():
    register_domain("bits", DOMAIN, replace=True)
    yield DOMAIN
    unregister_domain("bits")


@pytest.fixture()
def bits_pipeline(tmp_path, bits_domain):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(160):
        b = "".join(rng.choice(["0", "1"], size=L, p=[0.7, 0.3]))  # mostly zeros: the optimum (all ones) is far
        lines.append(f"b{i} {b} {ones_fraction(b):.4f}")
    data = tmp_path / "train.bits"
    data.write_text("\n".join(lines) + "\n")
    cfg = {"name": "bits_toy", "domain": "bits", "seed": 0,
           "data": {"train": [data.name], "properties": ["ones"], "holdout_fraction": 0.1},
           "model": {"latent_dim": 4, "hidden": 32, "feature_dim": 16, "property_hidden": 16},
           "loss": {"beta": 0.01},
           "train": {"epochs": 25, "batch_size": 32, "max_minutes": 2, "patience": 25},
           "design": {"objective": {"property": "ones", "direction": "maximize"}, "q": 4, "rounds": 2,
                      "start_points": 32, "plausibility": {"mode": "none"}}}
    path = tmp_path / "bits.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_config_takes_its_domains_from_the_registry(bits_domain, cli, tmp_path):
    assert "bits" in domain_names() and get_domain("bits") is bits_domain
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "domain": "bitz", "data": {"train": ["a"]}}))
    res = cli("train", bad)
    assert res.code == 2 and "unknown domain 'bitz'" in res.err and "did you mean 'bits'" in res.err


def test_toy_domain_trains_samples_designs_scores_and_reports_through_the_cli(bits_pipeline, cli, tmp_path,
                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "bits_toy"
    res = cli("train", bits_pipeline, "--out", run)
    assert res.code == 0, res.err
    assert (run / "model.pt").exists()

    res = cli("sample", run, "-n", "20", "--out", tmp_path / "samples")
    assert res.code == 0, res.err
    samples = (tmp_path / "samples" / "samples.bits").read_text().split()
    assert len(samples) == 40 and all(set(s) <= {"0", "1"} and len(s) == L for s in samples[1::2])

    out = tmp_path / "design"
    res = cli("design", bits_pipeline, "--run", run, "--out", out)
    assert res.code == 0, res.err
    with open(out / "candidates.csv") as f:
        rows = list(csv.DictReader(f))
    assert 1 <= len(rows) <= 8
    for r in rows:  # the domain's scorecard column and readiness term (the fraction of ones) reached the table
        assert float(r["ones"]) == pytest.approx(ones_fraction(r["bits"]))
        assert r["synthesis_score"] != ""
    assert (out / "candidates.bits").read_text().count("\n") == len(rows)
    page = (out / "report.html").read_text()
    assert page.count("<tr class=") == len(rows) and "<th title='bits'>bits</th>" in page

    scored = tmp_path / "scored"
    res = cli("score", out / "candidates.bits", "--run", run, "--out", scored)
    assert res.code == 0, res.err
    with open(scored / "scores.csv") as f:
        srows = list(csv.DictReader(f))
    assert [r["bits"] for r in srows] == [r["bits"] for r in rows]
    assert all(r["plausibility_percentile"] != "" and r["pred_ones"] != "" for r in srows)
