"""Calibrate a trained model's property-head uncertainty on its own seeded holdout.

``python -m designer.training.calibrate RUN [OUT]`` rescales the MC-dropout std so that the 90%
interval covers 90% of the holdout labels, and writes the model back (or to OUT). Training does
this itself; the command is for models trained before it did.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from designer.runs import load_run, save_model
from designer.training.datasets import load_training_data, make_loader
from designer.training.train import encode_means


def calibrate_run(run: str, out: str | None = None) -> dict:
    r = load_run(run)
    if r.model.property_head is None:
        raise SystemExit(f"{run}: no property head")
    data = load_training_data(r.config, init=r)  # the same seeded holdout as in training
    mu = encode_means(r.model, data.holdout, data.domain)
    y = torch.cat([b["y"] if isinstance(b, dict) else b.y for b in make_loader(data.domain, data.holdout, 512)])
    report = {r.config.data.properties[j]: v for j, v in r.model.property_head.calibrate(mu, y).items()}
    meta = {**r.meta, "uncertainty_calibration": report}
    target = Path(out) if out else r.path
    half = any(v.dtype == torch.float16 for v in torch.load(r.path, map_location="cpu", weights_only=True)["state_dict"].values())
    save_model(target, r.model, r.config, meta, half=half)  # keep the file's precision
    return report


if __name__ == "__main__":
    print(calibrate_run(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
