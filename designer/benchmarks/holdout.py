"""Holdout reconstruction of a run: the seeded 10% of its training rows that selected the model.

Used to compare training runs (model selection) without touching the test split:
``designer benchmark holdout --run RUN`` (writes ``results/holdout_<name>.json`` and ``.md``), or
``python -m designer.benchmarks.holdout RUN [RUN ...]`` (one JSON line per run on stdout).

``--refine-grid 0:0.1,10:0.05,10:0.1`` also reconstructs the holdout with each decode setting
(refinement steps : start noise level; 0 steps = one-shot), which is how the shipped settings are chosen.
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


def parse_grid(text: str) -> list[tuple[int, float]]:
    """``"0:0.1,10:0.05"`` -> ``[(0, 0.1), (10, 0.05)]`` (steps, start sigma)."""
    out = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        try:
            steps, sigma = item.split(":")
            out.append((int(steps), float(sigma)))
        except ValueError:
            raise DesignerError(f"--refine-grid: {item!r} is not STEPS:START_SIGMA (e.g. 10:0.1)") from None
        if not (0 <= out[-1][0] <= 49 and 0.005 < out[-1][1] <= 0.5):
            raise DesignerError(f"--refine-grid: {item!r}: steps must be 0-49 and the start sigma in (0.005, 0.5]")
    return out


def holdout_reconstruction(run: str, steps: int | None = None, start_sigma: float | None = None) -> dict:
    """Reconstruction metrics on the run's holdout; ``steps`` / ``start_sigma`` override the decode settings."""
    r = load_run(run)
    if start_sigma is not None:
        r.model.plugin.refine_start_sigma = start_sigma
    cfg = r.config
    if not isinstance(get_domain(cfg), CrystalDomain):
        raise DesignerError(f"{r.path}: a {cfg.domain} model; the holdout benchmark reconstructs crystals "
                            "(for proteins see `designer analyze`)")
    paths = r.training_paths()
    if not paths:
        raise DesignerError(f"{r.path}: none of its training files exists here ({', '.join(cfg.data.train)})")
    if cfg.data.holdout:  # a fixed holdout file
        held_paths = r.holdout_paths()
        if not held_paths:
            raise DesignerError(f"{r.path}: none of its holdout files exists here ({', '.join(cfg.data.holdout)})")
        records = [x for p in held_paths for x in load_records(Path(p), [])]
    else:
        records = [x for p in paths for x in load_records(Path(p), [])]
        _, held = holdout_split(len(records), cfg.data.holdout_fraction, cfg.seed)
        records = [records[i] for i in held]
    dec = reconstruct(r, records_to_data(r, records), refine_steps=steps)
    return reconstruction_metrics(dec.structures, [x.to_structure() for x in records])


def run(run: str | None = None, out: Path | None = None, refine_grid: str | None = None,
        console: Console | None = None) -> Path:
    """``designer benchmark holdout``: the holdout reconstruction of one run (default: the shipped perov5)."""
    console = console or Console(stderr=True)
    grid = parse_grid(refine_grid) if refine_grid else []
    run = run or "perov5"
    loaded = load_run(run)
    name = loaded.config.name
    out = Path(out or f"results/holdout_{name}.json")
    console.print(f"reconstructing the holdout of {run}")
    metrics = holdout_reconstruction(run)
    res = {"benchmark": "holdout", "command": command_line(), "device": device_info(), "run": str(run),
           "decode": {"refine_steps": loaded.model.plugin.refine_steps,
                      "refine_start_sigma": loaded.model.plugin.refine_start_sigma},
           "metrics": metrics}
    lines = [f"# Holdout reconstruction: {run}", "", f"Command: `{res['command']}`  ",
             "The seeded holdout of the run's training rows (the split that selected the model; the test "
             "split is not used).", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(v)} |" for k, v in metrics.items()]
    if grid:
        res["grid"] = []
        lines += ["", "Decode settings (refinement steps, start noise level):", "",
                  "| steps | start sigma | match rate | RMSE | V/atom MAE |", "|---|---|---|---|---|"]
        for steps, sigma in grid:
            console.print(f"  {steps} steps from sigma {sigma}")
            m = holdout_reconstruction(run, steps, sigma)
            res["grid"].append({"refine_steps": steps, "refine_start_sigma": sigma, **m})
            lines.append(f"| {steps} | {sigma} | {fmt(m['match_rate'])} | {fmt(m['rmse'])} | "
                         f"{fmt(m['volume_per_atom_mae'])} |")
    write_results(out, res, "\n".join(lines) + "\n")
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(json.dumps({"run": arg, **{k: round(v, 4) for k, v in holdout_reconstruction(arg).items()}}))
