"""--resume rebuilds the run's own network or stops with one line naming the changed setting (issue 19)."""

from __future__ import annotations

import pytest

from conftest import write_pipeline


@pytest.fixture(scope="module")
def two_epoch_run(tmp_path_factory, tiny_csv):
    from designer.config import load_pipeline
    from designer.training.train import train

    d = tmp_path_factory.mktemp("resume")
    pipe = write_pipeline(d / "p.yaml", str(tiny_csv))
    cfg, _ = load_pipeline(pipe, ["train.epochs=2"])
    train(cfg, d / "run", progress=False)
    return pipe, d / "run"


def test_a_resume_with_another_architecture_names_the_setting_and_leaves_the_run_as_it_was(cli, two_epoch_run):
    pipe, run = two_epoch_run
    before = {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
    res = cli("train", pipe, "--out", run, "--resume", "--set", "model.latent_dim=3")
    errors = [line for line in res.err_lines if line.startswith("error:")]
    assert res.code == 2 and len(errors) == 1 and "Traceback" not in res.err, res
    assert "model.latent_dim is 3 here but" in errors[0] and "config.yaml" in errors[0]
    after = {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
    assert after == before  # the config.yaml of the run was not overwritten by the refused resume


def test_a_resume_with_new_training_settings_continues(cli, two_epoch_run):
    import json

    pipe, run = two_epoch_run
    res = cli("train", pipe, "--out", run, "--resume", "--set", "train.epochs=3")
    assert res.code == 0, res
    assert json.loads((run / "summary.json").read_text())["epochs"] == 3


def test_a_training_that_fails_before_its_first_checkpoint_leaves_no_run_folder(tmp_path, tiny_csv, monkeypatch):
    from designer.config import load_pipeline
    from designer.training import module, train as train_mod

    def broken(self, batch, batch_idx):
        raise RuntimeError("the first step broke")

    monkeypatch.setattr(module.LitBetaVAE, "training_step", broken)
    cfg, _ = load_pipeline(write_pipeline(tmp_path / "p.yaml", str(tiny_csv)), ["train.epochs=1"])
    with pytest.raises(RuntimeError, match="the first step broke"):
        train_mod.train(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
