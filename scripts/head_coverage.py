"""Coverage of the property head's calibrated 90% interval on a labelled test file (issue 4's calibration check).

``python scripts/head_coverage.py perov5 datasets/perov_5/test.csv.gz results/head_coverage_perov5.json``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from designer.runs import load_run  # noqa: E402


def main(run: str, test: str, out: str) -> dict:
    r = load_run(run)
    props = r.config.data.properties
    if r.config.domain == "crystal":
        from designer.data.crystal_io import read_crystals
        from designer.domains.crystal.generate import encode, records_to_data

        recs = read_crystals(test, props)
        mu = encode(r, records_to_data(r, recs))[0]
        y = np.array([[rec.properties[p] for p in props] for rec in recs], dtype=float)
    else:
        from designer.domains.sequence.generate import encode, read_for_run

        pset = read_for_run(r, Path(test))
        mu, y = encode(r, pset.tokens)[0], pset.y.numpy()
    torch.manual_seed(0)
    mean, std = r.model.property_head.predict(mu, mc_samples=30)
    z = float(norm.ppf(0.95))
    res = {"run": str(r.path), "test": test, "n": len(y), "level": 0.9}
    for j, p in enumerate(props):
        ok = np.isfinite(y[:, j])
        inside = np.abs(y[ok, j] - mean.numpy()[ok, j]) <= z * std.numpy()[ok, j]
        res[p] = {"coverage_90": float(inside.mean()), "mae": float(np.abs(y[ok, j] - mean.numpy()[ok, j]).mean()),
                  "mean_std": float(std.numpy()[ok, j].mean())}
    Path(out).write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4]), indent=2))
