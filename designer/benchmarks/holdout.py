"""Holdout reconstruction of a run: the seeded 10% of its training rows that selected the model.

Used to compare training runs (model selection) without touching the test split:
``designer benchmark holdout --run RUN`` (writes ``results/holdout_<name>.json`` and ``.md``), or
``python -m designer.benchmarks.holdout RUN [RUN ...]`` (one JSON line per run on stdout).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console

from designer.data import holdout_split
from designer.data.crystal_dataset import load_records
from designer.domains import get_domain
from designer.domains.crystal.domain import CrystalDomain
from designer.domains.crystal.generate import reconstruct, records_to_data
from designer.errors import DesignerError
from designer.metrics import reconstruction_metrics
from designer.report.results import command_line, device_info, fmt, write_results
from designer.runs import load_run


def holdout_reconstruction(run: str) -> dict:
    r = load_run(run)
    cfg = r.config
    if not isinstance(get_domain(cfg), CrystalDomain):
        raise DesignerError(f"{r.path}: a {cfg.domain} model; the holdout benchmark reconstructs crystals "
                            "(for proteins see `designer analyze`)")
    paths = r.training_paths()
    if not paths:
        raise DesignerError(f"{r.path}: none of its training files exists here ({', '.join(cfg.data.train)})")
    records = [x for p in paths for x in load_records(Path(p), [])]
    _, held = holdout_split(len(records), cfg.data.holdout_fraction, cfg.seed)
    records = [records[i] for i in held]
    dec = reconstruct(r, records_to_data(r, records))
    return reconstruction_metrics(dec.structures, [x.to_structure() for x in records])


def run(run: str | None = None, out: Path | None = None, console: Console | None = None) -> Path:
    """``designer benchmark holdout``: the holdout reconstruction of one run (default: the shipped perov5)."""
    console = console or Console(stderr=True)
    run = run or "perov5"
    name = load_run(run).config.name
    out = Path(out or f"results/holdout_{name}.json")
    console.print(f"reconstructing the holdout of {run}")
    metrics = holdout_reconstruction(run)
    res = {"benchmark": "holdout", "command": command_line(), "device": device_info(), "run": str(run),
           "metrics": metrics}
    lines = [f"# Holdout reconstruction: {run}", "", f"Command: `{res['command']}`  ",
             "The seeded holdout of the run's training rows (the split that selected the model; the test "
             "split is not used).", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(v)} |" for k, v in metrics.items()]
    write_results(out, res, "\n".join(lines) + "\n")
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(json.dumps({"run": arg, **{k: round(v, 4) for k, v in holdout_reconstruction(arg).items()}}))
