"""perov_5 property optimisation (CDVAE's protocol, DESIGN section 5): ``designer benchmark perov5-opt``.

Start from the latents of the first 100 test crystals, minimise heat_ref with latent BO (GP on the
property head's values in a trust region around the start, plausibility penalty), decode at most
10 candidates per start, score the valid ones with an independent evaluator (gradient-boosted
trees, ``designer.benchmarks.evaluator``), and count a start as a success at level p when its best
valid decode is at or below the p-th percentile threshold of the training property.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from designer.benchmarks.evaluator import fit_evaluator
from designer.config import load_pipeline
from designer.data.crystal_dataset import load_records
from designer.design.data import known_data
from designer.domains.crystal.generate import records_to_data
from designer.domains.crystal.generate import encode as encode_graphs
from designer.domains.crystal.space import CrystalSpace
from designer.metrics import composition_validity, structure_validity
from designer.optimize.bo import TrustRegion, latent_box, propose
from designer.optimize.plausibility import fit_plausibility
from designer.report.results import command_line, device_info, fmt, write_results
from designer.resources import require_pipeline
from designer.runs import load_run

CDVAE_THRESHOLDS = {"sr5": 0.439, "sr10": 0.612, "sr15": 0.736}  # CDVAE's fixed heat_ref percentiles
CDVAE_ANCHOR = {"sr5": 0.52, "sr10": 0.65, "sr15": 0.79}


def run(run: str | None = None, out: Path | None = None, seed: int = 0, console: Console | None = None,
        n_starts: int = 100, decodes: int = 10, tr_length: float = 1.0, n_known: int = 0,
        pool: int = 40) -> Path:
    console = console or Console(stderr=True)
    out = Path(out or "results/perov5_opt.json")
    t0 = time.time()
    r = load_run(run or "perov5")
    default, _ = load_pipeline(require_pipeline("perov5"))
    train_paths = [Path(p) for p in r.config.data.train] if all(Path(p).exists() for p in r.config.data.train) \
        else [Path(p) for p in default.data.train]
    test_path = Path(r.config.data.test) if r.config.data.test and Path(r.config.data.test).exists() \
        else Path(default.data.test)
    prop = "heat_ref"
    idx = r.config.data.properties.index(prop)

    console.print("training the independent evaluator (gradient-boosted trees on Magpie + site features)")
    train_recs = [rec for p in train_paths for rec in load_records(p, [prop])]
    test_recs = load_records(test_path, [prop])
    y_train = np.array([rec.properties[prop] for rec in train_recs])
    evaluator = fit_evaluator([rec.to_structure() for rec in train_recs], y_train, seed=seed)
    y_test = np.array([rec.properties[prop] for rec in test_recs])
    pred_test = evaluator.predict([rec.to_structure() for rec in test_recs])
    evaluator_mae = float(np.abs(pred_test - y_test).mean())
    own = {f"sr{p}": float(np.percentile(y_train, p)) for p in (5, 10, 15)}

    console.print("encoding the training latents (box, plausibility)")
    known = known_data(r)
    box = latent_box(known.mu)
    plaus = fit_plausibility(known.mu.numpy(), seed=seed)
    space = CrystalSpace(r)
    starts = test_recs[:n_starts]
    z_starts = encode_graphs(r, records_to_data(r, starts))[0]
    start_eval = evaluator.predict([rec.to_structure() for rec in starts])

    best_values, per_start = [], []
    head = r.model.property_head
    with torch.no_grad():
        known_y = -head(known.mu)[:, idx]
    top = torch.argsort(known_y, descending=True)[:n_known]
    z_known, y_known = known.mu[top], known_y[top]  # the best known chemistry, by the head
    sobol = torch.quasirandom.SobolEngine(r.model.latent_dim, scramble=True, seed=seed)
    with console.status("optimising") as status:
        for i, z0 in enumerate(z_starts):
            status.update(f"optimising start {i + 1}/{len(z_starts)}")
            bounds = TrustRegion(length=tr_length).bounds(z0.double(), box)
            pts = bounds[0] + (bounds[1] - bounds[0]) * sobol.draw(63).double()
            zs = torch.cat([z0.unsqueeze(0).double(), pts]).float()
            with torch.no_grad():
                y = -head(zs)[:, idx]  # minimise heat_ref
            if n_known:
                zs, y = torch.cat([zs, z_known]), torch.cat([y, y_known])
            zq = propose(zs, y, box, decodes, plaus, "penalty", 1.0, 5.0, bounds=bounds, seed=seed + i,
                         num_restarts=4, raw_samples=128, max_fit_points=256)
            if pool > decodes:  # screen a larger pool with the head on the decoded crystals (re-encoded)
                extra = zs[: len(pts) + 1][torch.argsort(y[: len(pts) + 1], descending=True)[: pool - decodes]]
                zq = torch.cat([zq.float(), extra.float()])
            cands = [c for c in space.decode(zq) if c.obj is not None and c.violation is None
                     and structure_validity(c.obj) and composition_validity(c.obj)]
            if pool > decodes and cands:
                uniq = {}
                for c in cands:
                    uniq.setdefault(c.key, c)
                cands = list(uniq.values())
                with torch.no_grad():
                    rt = -head(torch.as_tensor(np.stack([c.z_roundtrip for c in cands]), dtype=torch.float32))[:, idx]
                cands = [cands[j] for j in torch.argsort(rt, descending=True)[:decodes].tolist()]
            valid = [c.obj for c in cands[:decodes]]
            vals = evaluator.predict(valid) if valid else np.array([])
            best = float(vals.min()) if len(vals) else float("inf")
            best_values.append(best)
            per_start.append({"start": starts[i].id, "start_value": float(start_eval[i]), "valid_decodes": len(valid),
                              "best_value": best if np.isfinite(best) else None,
                              "best_formula": valid[int(np.argmin(vals))].composition.reduced_formula if valid else None})
    best_values = np.array(best_values)
    results = {
        "benchmark": "perov5-opt", "command": command_line(), "device": device_info(), "seed": seed,
        "model": {"path": str(r.path), "name": r.config.name},
        "protocol": {"starts": len(starts), "decodes_per_start": decodes, "objective": "minimise heat_ref",
                     "optimiser": "qLogNEI on a GP fitted to the head's values at the start, 63 Sobol points in a "
                                  f"trust region of {tr_length} x the latent box"
                                  + (f" and the {n_known} training latents the head rates best" if n_known else "")
                                  + "; plausibility penalty (floor: 5th percentile)"
                                  + (f"; a pool of {pool} decodes (the {decodes} proposals + the Sobol points the head "
                                     f"rates best) screened by the head on the re-encoded crystals, the best {decodes} "
                                     "distinct valid ones scored" if pool > decodes else ""),
                     "evaluator": "HistGradientBoostingRegressor on Magpie + site-resolved features (not the head)"},
        "evaluator_mae": evaluator_mae,
        "thresholds_cdvae": CDVAE_THRESHOLDS, "thresholds_own_training": own,
        "cdvae_anchor": CDVAE_ANCHOR,
        "minutes": round((time.time() - t0) / 60, 2),
        "per_start": per_start,
    }
    for k, thr in CDVAE_THRESHOLDS.items():
        results[k] = float((best_values <= thr).mean())
        results[f"{k}_own_thresholds"] = float((best_values <= own[k]).mean())
        results[f"{k}_starts_already"] = float((start_eval <= thr).mean())
    results["valid_decode_rate"] = float(np.mean([p["valid_decodes"] for p in per_start]) / decodes)
    write_results(out, results, _markdown(results))
    return out


def _markdown(res: dict) -> str:
    own = res["thresholds_own_training"]
    lines = [
        "# perov_5 property optimisation (CDVAE protocol)", "",
        f"Command: `{res['command']}`  ",
        f"Model: `{res['model']['path']}`; {res['protocol']['starts']} starts (first rows of test.csv), "
        f"{res['protocol']['decodes_per_start']} decodes scored per start; {res['minutes']} min on "
        f"{res['device']['cpu']} ({res['device']['cpu_cores']} cores).  ",
        f"Optimiser: {res['protocol']['optimiser']}.  ",
        f"Evaluator: {res['protocol']['evaluator']}; test MAE {fmt(res['evaluator_mae'], 4)} eV/atom.  ",
        "Trained on ~42% of CDVAE's training crystals (their train split is not available).", "",
        "| | SR5 | SR10 | SR15 |", "|---|---|---|---|",
        f"| designer (CDVAE thresholds 0.439 / 0.612 / 0.736) | {fmt(res['sr5'], 2)} | {fmt(res['sr10'], 2)} | {fmt(res['sr15'], 2)} |",
        f"| designer (our training percentiles {own['sr5']:.3f} / {own['sr10']:.3f} / {own['sr15']:.3f}) | "
        f"{fmt(res['sr5_own_thresholds'], 2)} | {fmt(res['sr10_own_thresholds'], 2)} | {fmt(res['sr15_own_thresholds'], 2)} |",
        f"| the starting crystals themselves | {fmt(res['sr5_starts_already'], 2)} | {fmt(res['sr10_starts_already'], 2)} | {fmt(res['sr15_starts_already'], 2)} |",
        f"| CDVAE (anchor) | 0.52 | 0.65 | 0.79 |", "",
        f"Valid decodes: {fmt(res['valid_decode_rate'], 3)} of all scored decodes. Bar: SR5 >= 0.52 (target 0.70 / 0.80 / 0.90).", "",
    ]
    return "\n".join(lines)
