"""A training killed at a random point and resumed ends exactly where an uninterrupted one does (issue 19)."""

from __future__ import annotations

import random
import signal
import subprocess
import time

import pandas as pd
import pytest
import torch

from conftest import DESIGNER_BIN, perov_frame, write_csv, write_pipeline

EPOCHS = 9


def _rows(run) -> int:
    try:
        return len(pd.read_csv(run / "logs" / "metrics.csv"))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume_kill")
    write_csv(perov_frame(80), d / "train.csv")
    # threads 1: the same arithmetic in every process; patience above the epochs: no early stop
    return write_pipeline(d / "p.yaml", "train.csv", train_cfg={"epochs": EPOCHS, "threads": 1, "patience": 50,
                                                                 "max_minutes": 5})


def _train(pipeline, out, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([str(DESIGNER_BIN), "train", str(pipeline), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=600)


def test_a_run_killed_at_a_random_point_and_resumed_equals_an_uninterrupted_run(pipeline, tmp_path):
    full = tmp_path / "full"
    res = _train(pipeline, full)
    assert res.returncode == 0, res.stderr

    rng = random.Random()
    after_rows = rng.randint(2, EPOCHS - 3)  # kill once this many epochs are logged ...
    fraction = rng.random()  # ... plus this fraction of one epoch's time
    where = f"(killed after {after_rows} epochs + {fraction:.2f} of the next)"
    cut = tmp_path / "cut"
    proc = subprocess.Popen([str(DESIGNER_BIN), "train", str(pipeline), "--out", str(cut)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: dict[int, float] = {}
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        n = _rows(cut)
        seen.setdefault(n, time.time())
        if n >= after_rows and 1 in seen and 2 in seen:
            time.sleep(fraction * (seen[2] - seen[1]))
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.003)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the run was not killed mid-training {where}"
    assert _rows(cut) < EPOCHS and not (cut / "model.pt").exists(), where

    res = _train(pipeline, cut, "--resume")
    assert res.returncode == 0, res.stderr + where

    a = pd.read_csv(full / "logs" / "metrics.csv")
    b = pd.read_csv(cut / "logs" / "metrics.csv")
    assert a["epoch"].tolist() == list(range(EPOCHS)), "one log row per epoch"
    assert b["epoch"].tolist() == list(range(EPOCHS)), f"one continuous log, no epoch repeated {where}"
    pd.testing.assert_frame_equal(a, b, check_exact=True, obj=f"epoch metrics {where}")

    wa = torch.load(full / "model.pt", map_location="cpu", weights_only=True)["state_dict"]
    wb = torch.load(cut / "model.pt", map_location="cpu", weights_only=True)["state_dict"]
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), f"{k} differs {where}"
    assert pd.read_csv(full / "kl_per_dim.csv").equals(pd.read_csv(cut / "kl_per_dim.csv")), where
