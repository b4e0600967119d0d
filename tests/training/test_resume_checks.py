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
