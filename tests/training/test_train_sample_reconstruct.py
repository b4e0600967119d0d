"""End to end through the CLI entry point on the tiny pipeline: train -> sample -> reconstruct,
seeds, fine-tuning, the shipped model, and what a run folder records (KL per dimension, holdout)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import run_designer
from designer.config import load_pipeline
from designer.data import holdout_split
from designer.runs import SHIPPED, load_run


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, tiny_pipeline) -> Path:
    """`designer train PIPE --out RUN --set train.epochs=1` through the installed console script."""
    run = tmp_path_factory.mktemp("cli") / "run"
    res = run_designer("train", tiny_pipeline, "--out", run, "--set", "train.epochs=1")
    assert res.code == 0, res
    assert "Traceback" not in res.err
    return run


def read_summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


# --------------------------------------------------------------------------- train


def test_train_writes_a_complete_run_folder(cli_run):
    for name in ("model.pt", "config.yaml", "summary.json", "kl_per_dim.csv"):
        assert (cli_run / name).is_file(), name
    assert list(cli_run.rglob("metrics.csv")), "no metrics log"
    summary = read_summary(cli_run)
    assert summary["epochs"] == 1
    assert summary["latent_dim"] == 8
    cfg, _ = load_pipeline(cli_run / "config.yaml")
    assert cfg.train.epochs == 1  # the --set override is what was recorded
    run = load_run(cli_run)
    assert run.model.latent_dim == 8 and run.config.name == "tiny"


def test_kl_per_dimension_is_logged_every_epoch(tiny_run):
    summary = read_summary(tiny_run)
    kl = pd.read_csv(tiny_run / "kl_per_dim.csv")
    assert list(kl.columns) == ["epoch", *[f"z{j}" for j in range(8)]]
    assert len(kl) == summary["epochs"] == 2
    assert kl["epoch"].tolist() == [0, 1]
    values = kl.drop(columns="epoch").to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    np.testing.assert_allclose(values[-1], summary["kl_per_dim_last_epoch"], atol=1e-4)


def test_kl_log_of_the_cli_run_has_one_row(cli_run):
    kl = pd.read_csv(cli_run / "kl_per_dim.csv")
    assert len(kl) == 1 and kl.shape[1] == 1 + 8


def test_holdout_is_a_seeded_ten_percent(tiny_run, cli_run):
    for run in (tiny_run, cli_run):
        s = read_summary(run)
        assert s["train_rows"] + s["holdout_rows"] == 12
        assert s["holdout_rows"] == len(holdout_split(12, 0.1, 0)[1]) == 1


@pytest.mark.parametrize("n", [2, 12, 30, 101, 1000])
def test_holdout_split_properties(n):
    tr, ho = holdout_split(n, 0.1, seed=0)
    assert len(ho) == max(1, round(n * 0.1))
    assert len(tr) + len(ho) == n and not set(tr) & set(ho)
    assert sorted([*tr, *ho]) == list(range(n))
    tr2, ho2 = holdout_split(n, 0.1, seed=0)
    assert np.array_equal(ho, ho2) and np.array_equal(tr, tr2)  # seeded
    if n >= 30:
        assert not np.array_equal(ho, holdout_split(n, 0.1, seed=1)[1])  # and the seed matters


# --------------------------------------------------------------------------- sample


def test_sample_writes_cifs_and_a_table(cli_run, tmp_path):
    out = tmp_path / "samples"
    res = run_designer("sample", cli_run, "-n", "5", "--out", out, "--seed", "3")
    assert res.code == 0, res
    table = pd.read_csv(out / "samples.csv")
    assert len(table) == 5
    assert table["id"].tolist() == [f"sample_{i}" for i in range(5)]
    cifs = sorted(p.name for p in out.glob("*.cif"))
    assert cifs == sorted(table["file"].tolist()) and len(cifs) == 5
    assert "pred_heat_ref" in table.columns and table["pred_heat_ref"].notna().all()
    from pymatgen.core import Structure

    for _, row in table.iterrows():
        s = Structure.from_file(out / row["file"])
        assert len(s) == row["num_atoms"]
        assert s.composition.reduced_formula == row["formula"]
        assert 1 <= len(s) <= 8  # max_atoms of the pipeline
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


def test_sample_seed_is_reproducible(tiny_run, tmp_path, cli):
    outs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        res = cli("sample", tiny_run, "-n", "6", "--seed", seed, "--out", tmp_path / name)
        assert res.code == 0, res
        outs[name] = (tmp_path / name / "samples.csv").read_text()
    assert outs["a"] == outs["b"]
    for f in sorted((tmp_path / "a").glob("*.cif")):
        assert f.read_text() == (tmp_path / "b" / f.name).read_text()
    assert outs["a"] != outs["c"]


def test_shipped_model_by_name(tmp_path, cli):
    if not (SHIPPED / "perov5.pt").exists():
        pytest.skip("designer/checkpoints/perov5.pt is not there (no shipped model yet)")
    res = cli("sample", "perov5", "-n", "3", "--out", tmp_path / "s")
    assert res.code == 0, res
    assert len(pd.read_csv(tmp_path / "s" / "samples.csv")) == 3


# --------------------------------------------------------------------------- reconstruct


def test_reconstruct_writes_one_cif_per_input_named_by_id(cli_run, tiny_csv, tiny_df, tmp_path):
    out = tmp_path / "recon"
    res = run_designer("reconstruct", cli_run, "--data", tiny_csv, "--out", out)
    assert res.code == 0, res
    table = pd.read_csv(out / "reconstruct.csv", dtype={"id": str})
    ids = [str(x) for x in tiny_df["material_id"]]
    assert table["id"].tolist() == ids
    assert sorted(p.stem for p in out.glob("*.cif")) == sorted(ids)
    assert (table["file"] == [f"{i}.cif" for i in ids]).all()
    assert {"formula_in", "formula_out", "match", "rms_dist"} <= set(table.columns)
    from pymatgen.core import Composition

    assert table["formula_in"].tolist() == [Composition(f).reduced_formula for f in tiny_df["formula"]]


def test_reconstruct_a_cif_folder_keeps_file_stems(tiny_run, tiny_structures, tmp_path, cli):
    from designer.io.crystal_files import write_cif

    data = tmp_path / "in"
    for name, s in zip(["alpha", "beta-2"], tiny_structures):
        write_cif(s, data / f"{name}.cif")
    res = cli("reconstruct", tiny_run, "--data", data, "--out", tmp_path / "out")
    assert res.code == 0, res
    assert sorted(p.name for p in (tmp_path / "out").glob("*.cif")) == ["alpha.cif", "beta-2.cif"]


def test_reconstruct_with_repeated_ids_writes_every_row_its_own_cif(tiny_run, tiny_df, tmp_path, cli):
    df = tiny_df.head(3).copy()
    df["material_id"] = ["dup", "dup", "Dup"]  # a repeat, and one that differs only in case
    data = tmp_path / "dups.csv"
    df.to_csv(data, index=False)
    res = cli("reconstruct", tiny_run, "--data", data, "--out", tmp_path / "out")
    assert res.code == 0, res
    table = pd.read_csv(tmp_path / "out" / "reconstruct.csv", dtype={"id": str})
    files = [f for f in table["file"] if isinstance(f, str) and f]
    assert len(files) == 3 and len({f.lower() for f in files}) == 3
    assert len(list((tmp_path / "out").glob("*.cif"))) == 3


def test_reconstruction_uses_the_posterior_mean(tiny_loaded, tiny_csv):
    """Reconstructing twice gives the same crystals (no sampling of z)."""
    from designer.domains.crystal.generate import read_for_run, reconstruct

    _, graphs = read_for_run(tiny_loaded, tiny_csv)
    a, b = reconstruct(tiny_loaded, graphs[:4]), reconstruct(tiny_loaded, graphs[:4])
    torch.testing.assert_close(a.z, b.z)
    assert [s.composition for s in a.structures] == [s.composition for s in b.structures]


# --------------------------------------------------------------------------- fine-tuning


def test_init_from_fine_tunes_the_first_run(cli_run, tiny_pipeline, tmp_path, cli):
    run2 = tmp_path / "ft"
    res = cli("train", tiny_pipeline, "--init-from", cli_run, "--out", run2,
              "--set", "train.epochs=1", "--set", "train.lr=1e-12", "--set", "model.latent_dim=4")
    assert res.code == 0, res
    assert (run2 / "model.pt").is_file()
    summary = read_summary(run2)
    assert summary["init_from"] is not None
    assert Path(summary["init_from"]).resolve() in {cli_run.resolve(), (cli_run / "model.pt").resolve()}
    assert summary["latent_dim"] == 8  # the architecture is the first run's, not the pipeline's
    first, second = load_run(cli_run).model.state_dict(), load_run(run2).model.state_dict()
    assert first.keys() == second.keys()
    for k in first:  # lr 1e-12: the weights are the first run's
        torch.testing.assert_close(second[k], first[k], atol=1e-6, rtol=0, msg=lambda m, k=k: f"{k}: {m}")


def test_fresh_training_has_no_init_from(tiny_run):
    assert read_summary(tiny_run)["init_from"] is None


def _spy_training(monkeypatch):
    import designer.training.train as tr

    seen = {}
    real = tr.LitBetaVAE

    class Spy(real):
        def __init__(self, model, cfg, steps_per_epoch, **kwargs):
            seen["weights"] = dict(model.loss_weights)
            seen["likelihood"] = model.plugin.likelihood
            super().__init__(model, cfg, steps_per_epoch, **kwargs)

    monkeypatch.setattr(tr, "LitBetaVAE", Spy)
    return tr, seen


def test_fine_tuning_uses_the_new_loss_weights(tiny_pipeline, tiny_run, tmp_path, monkeypatch):
    tr, seen = _spy_training(monkeypatch)
    cfg, _ = load_pipeline(tiny_pipeline, ["train.epochs=1", "loss.weights={coords: 0.0, lattice: 3.0}"])
    tr.train(cfg, tmp_path / "ft", init_from=str(tiny_run), progress=False)
    assert seen["weights"] == {"coords": 0.0, "lattice": 3.0}


def test_fine_tuning_uses_the_new_likelihood(tiny_pipeline, tiny_run, tmp_path, monkeypatch):
    tr, seen = _spy_training(monkeypatch)
    cfg, _ = load_pipeline(tiny_pipeline, ["train.epochs=1", "loss.likelihood=gaussian"])
    tr.train(cfg, tmp_path / "ft", init_from=str(tiny_run), progress=False)
    assert seen["likelihood"] == "gaussian"


def test_fresh_training_uses_the_pipelines_loss_settings(tiny_pipeline, tmp_path, monkeypatch):
    """Control for the two tests above."""
    tr, seen = _spy_training(monkeypatch)
    cfg, _ = load_pipeline(tiny_pipeline, ["train.epochs=1", "loss.likelihood=gaussian",
                                           "loss.weights={coords: 0.0}"])
    tr.train(cfg, tmp_path / "fresh", progress=False)
    assert seen == {"weights": {"coords": 0.0}, "likelihood": "gaussian"}


def test_resumed_training_keeps_one_kl_row_per_epoch(tiny_pipeline, tmp_path):
    from designer.training.train import train

    run = tmp_path / "run"
    cfg, _ = load_pipeline(tiny_pipeline)  # 2 epochs
    train(cfg, run, progress=False)
    cfg3, _ = load_pipeline(tiny_pipeline, ["train.epochs=3"])
    train(cfg3, run, resume=True, progress=False)
    kl = pd.read_csv(run / "kl_per_dim.csv")
    assert read_summary(run)["epochs"] == 3
    assert kl["epoch"].tolist() == [0, 1, 2]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_the_tiny_pipeline_trains_and_samples_on_cuda(tmp_path, tiny_pipeline):
    """The device bug this guards: a solver or metric calling .numpy() on a tensor that lives on the GPU."""
    run = tmp_path / "cuda_run"
    res = run_designer("train", tiny_pipeline, "--out", run, "--set", "train.epochs=1",
                       "--set", "train.accelerator=gpu")
    assert res.code == 0 and "Traceback" not in res.err, res
    assert (run / "model.pt").exists()
    res = run_designer("sample", run, "-n", "4", "--out", tmp_path / "samples")
    assert res.code == 0 and "Traceback" not in res.err, res
