"""Diagnostics behind the figures in results/training_perov5.md (rerunnable).

    designer benchmark diagnose-misses [--run perov5] [--n-rows 1000] [--data TEST.csv]   # why reconstructions miss
    designer benchmark diagnose-step --pipeline PIPELINE [--batch 64] [--steps 3]       # seconds per training step

Both write ``results/diagnose_<kind>_<name>.json`` and ``.md``. The older form prints the JSON:

    python -m designer.benchmarks.diagnose misses RUN [--n 1000]     # (perov_5 test rows)
    python -m designer.benchmarks.diagnose step PIPELINE [--batch 64]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import torch
from pymatgen.core import Element
from rich.console import Console
from torch_geometric.loader import DataLoader

from designer.config import load_pipeline
from designer.data import load_graph_dataset
from designer.data.crystal_dataset import load_records
from designer.domains.crystal.generate import reconstruct, records_to_data
from designer.errors import DesignerError
from designer.metrics import match_structures
from designer.report.results import command_line, device_info, fmt, write_results
from designer.resources import dataset_path
from designer.runs import build_model, load_run


def reconstruction_misses(run: str, n: int = 1000, data: str | None = None) -> dict:
    """Split reconstruction misses into wrong composition vs wrong geometry (first ``n`` rows of the test split)."""
    r = load_run(run)
    path = Path(data) if data else dataset_path("perov_5", "test.csv.gz")
    records = load_records(path, [])[:n]
    decoded = reconstruct(r, records_to_data(r, records)).structures
    comp_wrong, geometry_miss, matched, missed_kind = 0, 0, 0, Counter()
    for rec, pred in zip(records, decoded):
        true = rec.to_structure()
        if pred is None or pred.composition.reduced_composition != true.composition.reduced_composition:
            comp_wrong += 1
            got = set() if pred is None else {e.Z for e in pred.composition.elements}
            for z in set(rec.atomic_numbers.tolist()) - got:
                missed_kind["anion" if (Element.from_Z(z).X or 0) > 2.5 else "cation"] += 1
        elif match_structures(pred, true) is None:
            geometry_miss += 1
        else:
            matched += 1
    misses = comp_wrong + geometry_miss
    return {"run": str(r.path), "data": str(path), "n": len(records), "matched": matched,
            "composition_wrong": comp_wrong, "composition_right_geometry_miss": geometry_miss,
            "fraction_of_misses_with_wrong_composition": comp_wrong / misses if misses else 0.0,
            "geometry_match_when_composition_right": matched / max(1, matched + geometry_miss),
            "missed_elements": dict(missed_kind)}


def training_step_seconds(pipeline: str, batch: int = 64, steps: int = 3) -> dict:
    """Wall seconds of a training step (forward, loss, backward, update) on one batch of the pipeline's data.

    Timed twice on the same batch: the full decoder (one-shot stage + refinement denoiser) and the
    one-shot stage alone (``model.refine: false``, the decoder before the refinement stage existed).
    """
    cfg, _ = load_pipeline(pipeline)
    d = cfg.data
    _, data, vocab = load_graph_dataset([Path(p) for p in d.train], d.properties, None, d.cutoff,
                                        d.max_neighbors, d.max_atoms, d.cache)
    b = next(iter(DataLoader(data, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))))
    out: dict = {"pipeline": pipeline, "batch": batch, "max_atoms_in_batch": int(b.num_atoms.max()),
                 "torch_threads": torch.get_num_threads()}
    for label, refine in (("with_refinement", True), ("one_shot_only", False)):
        c = cfg.model_copy(update={"model": cfg.model.model_copy(update={"refine": refine})})
        torch.manual_seed(0)
        model = build_model(c, {"atomic_numbers": list(vocab.atomic_numbers)})
        opt = torch.optim.Adam(model.parameters())
        times = []
        for _ in range(steps + 1):  # the first step warms up and is not counted
            t = time.perf_counter()
            loss = model.loss(b, cfg.loss.beta)
            opt.zero_grad()
            loss["loss"].backward()
            opt.step()
            times.append(time.perf_counter() - t)
        out[f"seconds_per_step_{label}"] = [round(x, 3) for x in times[1:]]
        out[f"median_seconds_{label}"] = round(float(sorted(times[1:])[len(times[1:]) // 2]), 3)
    out["seconds_per_step"] = out["seconds_per_step_with_refinement"]
    out["refinement_cost_ratio"] = round(out["median_seconds_with_refinement"] / out["median_seconds_one_shot_only"], 3)
    return out


def _write(out: Path, kind: str, res: dict) -> Path:
    doc = {"benchmark": f"diagnose-{kind}", "command": command_line(), "device": device_info(), **res}
    lines = [f"# Diagnostics: {kind}", "", f"Command: `{doc['command']}`", "", "| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(v) if not isinstance(v, (dict, list)) else json.dumps(v)} |" for k, v in res.items()]
    write_results(out, doc, "\n".join(lines) + "\n")
    return out


def run_misses(run: str | None = None, out: Path | None = None, n_rows: int = 1000, data: Path | None = None,
               console: Console | None = None) -> Path:
    """``designer benchmark diagnose-misses``: reconstruction misses split into composition vs geometry."""
    console = console or Console(stderr=True)
    run = run or "perov5"
    out = Path(out or f"results/diagnose_misses_{load_run(run).config.name}.json")
    console.print(f"reconstructing the first {n_rows} rows of {data or 'the perov_5 test split'} with {run}")
    return _write(out, "misses", reconstruction_misses(run, n_rows, str(data) if data else None))


def run_step(pipeline: str | None = None, out: Path | None = None, batch: int = 64, steps: int = 3,
             console: Console | None = None) -> Path:
    """``designer benchmark diagnose-step``: wall seconds of a training step of a pipeline."""
    if not pipeline:
        raise DesignerError("diagnose-step needs --pipeline PIPELINE.yaml (e.g. pipelines/carbon24.yaml)")
    console = console or Console(stderr=True)
    out = Path(out or f"results/diagnose_step_{load_pipeline(pipeline)[0].name}.json")
    console.print(f"timing {steps} training steps of {pipeline} (batch {batch})")
    return _write(out, "step", training_step_seconds(str(pipeline), batch, steps))


def command_line_parser() -> argparse.ArgumentParser:
    """The ``python -m designer.benchmarks.diagnose {misses,step}`` arguments."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("misses")
    m.add_argument("run")
    m.add_argument("--n", type=int, default=1000)
    s = sub.add_parser("step")
    s.add_argument("pipeline")
    s.add_argument("--batch", type=int, default=64)
    return ap


if __name__ == "__main__":
    a = command_line_parser().parse_args()
    out = reconstruction_misses(a.run, a.n) if a.cmd == "misses" else training_step_seconds(a.pipeline, a.batch)
    print(json.dumps(out, indent=2))
