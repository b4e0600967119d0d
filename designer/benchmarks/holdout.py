"""Holdout reconstruction of a run: the seeded 10% of its training rows that selected the model.

Used to compare training runs (model selection) without touching the test split:
``python -m designer.benchmarks.holdout RUN [RUN ...]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from designer.data import holdout_split
from designer.data.crystal_dataset import load_records
from designer.generate import records_to_data, reconstruct
from designer.metrics import reconstruction_metrics
from designer.runs import load_run


def holdout_reconstruction(run: str) -> dict:
    r = load_run(run)
    cfg = r.config
    records = [x for p in cfg.data.train for x in load_records(Path(p), [])]
    _, held = holdout_split(len(records), cfg.data.holdout_fraction, cfg.seed)
    records = [records[i] for i in held]
    dec = reconstruct(r, records_to_data(r, records))
    return reconstruction_metrics(dec.structures, [x.to_structure() for x in records])


if __name__ == "__main__":
    for run in sys.argv[1:]:
        print(json.dumps({"run": run, **{k: round(v, 4) for k, v in holdout_reconstruction(run).items()}}))
