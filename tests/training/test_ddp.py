"""Lightning DDP on two CPU processes (gloo): one run folder, equal weights, a holdout loss reduced over the ranks
(issue 18). The settings reach the Trainer."""

from __future__ import annotations

import json
import subprocess

import lightning as L
import pytest
import torch

from conftest import DESIGNER_BIN, perov_frame, write_csv, write_pipeline


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("ddp")
    write_csv(perov_frame(40), d / "train.csv")
    pipe = write_pipeline(d / "p.yaml", "train.csv", train_cfg={"epochs": 3, "threads": 1, "max_minutes": 5})
    run = d / "run"
    res = subprocess.run([str(DESIGNER_BIN), "train", str(pipe), "--out", str(run), "--set", "train.strategy=ddp",
                          "--set", "train.devices=2", "--set", "train.accelerator=cpu"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return pipe, run, res


def test_two_ranks_write_one_run_folder_and_end_with_the_same_weights(ddp_run):
    _, run, res = ddp_run
    summary = json.loads((run / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["strategy"] == "DDPStrategy"
    assert summary["rank_weight_max_abs_difference"] <= 1e-6
    assert res.stderr.count("training tiny ->") == 1 and res.stdout.count("model:") == 1  # printed by rank zero only
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    assert files == ["checkpoints/best.ckpt", "checkpoints/last.ckpt", "config.yaml", "kl_per_dim.csv",
                     "logs/metrics.csv", "model.pt", "summary.json"]  # nothing half-written, no second log
    import pandas as pd

    assert pd.read_csv(run / "logs" / "metrics.csv")["epoch"].tolist() == [0, 1, 2]


def test_the_selected_holdout_loss_is_the_mean_over_both_ranks_shards(ddp_run):
    """Lightning's distributed sampler gives rank r the holdout rows r, r + 2, ...; val/selection is
    their mean loss reduced over the ranks, not rank zero's alone."""
    from designer.config import load_pipeline
    from designer.runs import load_run
    from designer.training.datasets import load_training_data, make_loader

    pipe, run, _ = ddp_run
    cfg, _ = load_pipeline(pipe)
    holdout = load_training_data(cfg).holdout
    assert len(holdout) % 2 == 0  # equal shards, no padding rows
    model = load_run(run).model.eval()
    shard_loss = []
    with torch.no_grad():
        for r in (0, 1):
            batch = next(iter(make_loader(cfg.domain, [holdout[i] for i in range(r, len(holdout), 2)], 512)))
            out = model.loss(batch, cfg.loss.beta, 0.0, sample=False, property_weight=cfg.loss.property_weight)
            shard_loss.append(float(out["loss"]))
    best = json.loads((run / "summary.json").read_text())["best_val_selection"]
    assert best == pytest.approx(sum(shard_loss) / 2, rel=1e-5)
    assert abs(shard_loss[0] - shard_loss[1]) > 1e-3 * abs(best)  # the shards differ, so the check has teeth


def test_the_train_settings_reach_the_trainer(tiny_pipeline):
    from designer.config import load_pipeline
    from designer.training.train import trainer_settings

    cfg, _ = load_pipeline(tiny_pipeline, ["train.strategy=ddp_spawn", "train.devices=2", "train.num_nodes=3",
                                           "train.precision=bf16-mixed", "train.accelerator=cpu"])
    trainer = L.Trainer(**trainer_settings(cfg), logger=False, enable_progress_bar=False)
    assert type(trainer.strategy).__name__ == "DDPStrategy" and trainer.strategy._start_method == "spawn"
    assert trainer.num_nodes == 3 and trainer.num_devices == 2 and trainer.precision == "bf16-mixed"


def test_an_unknown_strategy_is_one_line_naming_the_closest(tiny_pipeline):
    from designer.config import load_pipeline
    from designer.errors import ConfigError

    with pytest.raises(ConfigError, match="ddp_spawn"):
        load_pipeline(tiny_pipeline, ["train.strategy=ddp_spwan"])
