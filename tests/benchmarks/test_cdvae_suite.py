"""The CDVAE protocol (``designer.benchmarks.cdvae_suite``) end to end on a tiny run, and the fixed
holdout file (``data.holdout``) that the carbon24 pipeline trains with."""

from __future__ import annotations

import json
import warnings

import pytest

from conftest import perov_frame, write_csv, write_pipeline
from designer.benchmarks.cdvae_suite import Suite, run_suite
from designer.config import load_pipeline
from designer.domains import get_domain
from designer.errors import DesignerError

# the keys issue 15 names for results/carbon24.json and results/mp20_subset.json (a contract)
CONTRACT = ["reconstruction.match_rate", "reconstruction.rmse", "generation.struct_validity",
            "generation.comp_validity", "generation.cov_r", "generation.cov_p", "generation.emd_density",
            "generation.emd_num_elements", "generation.emd_property", "generation.unique_rate_mattergen",
            "generation.novel_rate_mattergen", "speed.nfe_per_structure", "speed.structures_per_s"]


@pytest.fixture(scope="module")
def fixed_holdout_run(tmp_path_factory):
    """A tiny run with a fixed holdout file (4 crystals) and a test file (6 crystals)."""
    from designer.training.train import train

    d = tmp_path_factory.mktemp("suite")
    write_csv(perov_frame(12), d / "train.csv")
    write_csv(perov_frame(4, start=12), d / "held.csv")
    write_csv(perov_frame(6, split="test"), d / "test.csv")
    pipe = write_pipeline(d / "p.yaml", "train.csv", data={"holdout": "held.csv", "test": "test.csv"},
                          model={"refine_steps": 2, "refine_hidden": 16, "refine_layers": 1})
    cfg, _ = load_pipeline(pipe)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(cfg, d / "run", progress=False)
    return d, cfg


def test_a_fixed_holdout_file_is_the_holdout_and_every_training_row_trains(fixed_holdout_run):
    _, cfg = fixed_holdout_run
    data = get_domain(cfg).load_training_data(cfg)
    assert (len(data.train), len(data.holdout)) == (12, 4)
    assert cfg.data.holdout[0].endswith("held.csv")  # resolved against the pipeline file


def test_the_protocol_writes_every_contract_key_on_the_test_part_and_states_the_split(fixed_holdout_run, tmp_path):
    d, _ = fixed_holdout_run
    suite = Suite("tiny", "tiny set", "perov5", "perov", "perovskite", "Split: tiny test of the protocol.", {})
    out = run_suite(suite, run=str(d / "run"), out=tmp_path / "tiny.json", n_samples=12, jobs=1,
                    compare_one_shot=False)
    res = json.loads(out.read_text())
    for key in CONTRACT:
        section, name = key.split(".")
        value = res[section][name]
        if key == "reconstruction.rmse" and res["reconstruction"]["match_rate"] == 0:
            assert value is None, key  # no matched crystal: no RMSE, never a made-up number
        else:
            assert isinstance(value, (int, float)), key
    assert res["reconstruction"]["n"] == 6 and res["protocol"]["test_rows"] == 6
    assert res["protocol"]["train_rows"] == 12 and res["generation"]["n_samples"] == 12
    assert res["speed"]["nfe_per_structure"] == 3  # the one-shot pass and 2 refinement steps
    assert "one_shot" not in res
    md = out.with_suffix(".md").read_text()
    assert md.startswith("# tiny set benchmark") and "Split: tiny test of the protocol." in md
    assert "6 test crystals (`test.csv`" in md


def test_sequences_refuse_a_fixed_holdout_file_with_a_line_saying_what_to_do(tmp_path):
    from conftest import ROOT

    cfg, _ = load_pipeline(ROOT / "pipelines" / "gfp.yaml", [f"data.holdout={tmp_path / 'x.fasta'}"])
    with pytest.raises(DesignerError, match="data.holdout: a fixed holdout file is read for crystals only"):
        get_domain(cfg).load_training_data(cfg)


@pytest.mark.parametrize("pipeline", ["carbon24", "mp20_subset"])
def test_a_shipped_pipeline_whose_data_is_missing_fails_with_one_line_naming_the_path(cli, pipeline, tmp_path):
    from conftest import ROOT

    res = cli("train", ROOT / "pipelines" / f"{pipeline}.yaml", "--out", tmp_path / "run",
              "--set", f"data.train={tmp_path / 'gone' / 'train.csv.gz'}")
    assert res.code == 2
    errors = [line for line in res.err_lines if line.startswith("error:")]
    assert len(errors) == 1 and "gone/train.csv.gz: no such file" in errors[0]
    assert not (tmp_path / "run" / "model.pt").exists()
