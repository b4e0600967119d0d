"""Diagnostics behind the figures in results/training_perov5.md (rerunnable).

    python -m designer.benchmarks.diagnose misses RUN [--n 1000]     # why reconstructions miss (perov_5 test rows)
    python -m designer.benchmarks.diagnose step PIPELINE [--batch 64] # seconds per training step of a pipeline
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path


def reconstruction_misses(run: str, n: int = 1000, data: str | None = None) -> dict:
    """Split reconstruction misses into wrong composition vs wrong geometry (first ``n`` rows of the test split)."""
    from pymatgen.core import Element

    from designer.data.crystal_dataset import load_records
    from designer.generate import records_to_data, reconstruct
    from designer.metrics import match_structures
    from designer.runs import load_run

    r = load_run(run)
    path = Path(data or Path(__file__).parents[2] / "datasets" / "perov_5" / "test.csv.gz")
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
    """Wall seconds of a training step (forward, loss, backward, update) on one batch of the pipeline's data."""
    import torch
    from torch_geometric.loader import DataLoader

    from designer.config import load_pipeline
    from designer.data import load_graph_dataset
    from designer.models.factory import build_model

    cfg, _ = load_pipeline(pipeline)
    d = cfg.data
    _, data, vocab = load_graph_dataset([Path(p) for p in d.train], d.properties, None, d.cutoff,
                                        d.max_neighbors, d.max_atoms, d.cache)
    model = build_model(cfg, {"atomic_numbers": list(vocab.atomic_numbers)})
    opt = torch.optim.Adam(model.parameters())
    b = next(iter(DataLoader(data, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))))
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        out = model.loss(b, cfg.loss.beta)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return {"pipeline": pipeline, "batch": batch, "seconds_per_step": [round(x, 2) for x in times],
            "torch_threads": torch.get_num_threads()}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("misses")
    m.add_argument("run")
    m.add_argument("--n", type=int, default=1000)
    s = sub.add_parser("step")
    s.add_argument("pipeline")
    s.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    out = reconstruction_misses(a.run, a.n) if a.cmd == "misses" else training_step_seconds(a.pipeline, a.batch)
    print(json.dumps(out, indent=2))
