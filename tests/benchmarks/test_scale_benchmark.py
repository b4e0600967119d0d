"""``designer benchmark scale`` writes its contract keys from real subprocess measurements (issue 18)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def test_a_tiny_scale_run_writes_every_contract_key(tmp_path):
    from designer.benchmarks.scale import run

    # one size, one preprocessing measurement: CI time
    out = run(sizes="40", out=tmp_path / "scale.json", epoch_steps=2, scoring=False, preprocess_jobs="2")
    res = json.loads(out.read_text())
    assert res["sizes"] == [40]
    for size in ("40",):
        r = res["runs"][size]
        for key in ("preprocess_s_per_1k", "preprocess_peak_rss_gb", "epoch_peak_rss_gb", "step_seconds"):
            assert r[key] > 0, (size, key)
        assert r["steps_timed"] >= 1 and r["atoms"] >= int(size)  # every crystal (one atom at least) was stored
    assert "| 40 |" in out.with_suffix(".md").read_text()


def test_the_synthetic_rows_parse_and_differ_from_their_bases(tmp_path):
    from designer.benchmarks.scale_worker import synth
    from designer.data.crystal_io import read_crystals

    synth(str(tmp_path / "s.csv"), "30", "0")
    assert len(pd.read_csv(tmp_path / "s.csv")) == 30
    recs = read_crystals(tmp_path / "s.csv", ["target"])
    assert len(recs) == 30 and len({round(abs(float(np.linalg.det(r.lattice))), 6) for r in recs}) == 30  # strained copies
