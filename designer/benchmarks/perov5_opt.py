"""perov_5 property optimisation (CDVAE's protocol, DESIGN section 5): ``designer benchmark perov5-opt``.

Start from the latents of the first 100 test crystals, minimise heat_ref with latent BO (GP on the
property head's values in a trust region around the start, plausibility penalty), decode at most
10 candidates per start (``select_candidates``: the model and the density only). Then, and only
then, judges score the valid ones: CDVAE's own DimeNet++ perovskite evaluator
(``designer.evaluators.cdvae``; the primary number, ``cdvae_evaluator.sr*``) and our
gradient-boosted trees (``designer.benchmarks.evaluator``; the top-level ``sr*`` keys, as in older
results). A start succeeds at level p when its best valid decode is at or below CDVAE's p-th
percentile threshold of heat_ref. Each start's decodes are appended to a file as they come, so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.console import Console

from designer.benchmarks.evaluator import fit_evaluator
from designer.benchmarks.latent_opt import judge_decodes, optimiser_text, select_for_starts
from designer.config import load_pipeline
from designer.data.crystal_dataset import load_records
from designer.evaluators.cdvae import CDVAEEvaluator
from designer.report.results import command_line, device_info, fmt, write_results
from designer.resources import require_pipeline
from designer.runs import load_run

CDVAE_THRESHOLDS = {"sr5": 0.439, "sr10": 0.612, "sr15": 0.736}  # CDVAE's fixed heat_ref percentiles
CDVAE_ANCHOR = {"sr5": 0.52, "sr10": 0.65, "sr15": 0.79}
DIFFCSP_ANCHOR = {"sr5": 1.00, "sr10": 1.00, "sr15": 1.00}


def run(run: str | None = None, out: Path | None = None, seed: int = 0, console: Console | None = None,
        n_starts: int = 100, decodes: int = 10, tr_length: float = 1.0, n_known: int = 0,
        pool: int = 40, decodes_dir: Path | None = None) -> Path:
    """Select candidates for every start (resumable: each start's decodes are appended to
    ``decodes_dir/decodes_<settings>.jsonl``, default ``runs/perov5_opt``), then judge them all."""
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
    train_recs = [rec for p in train_paths for rec in load_records(p, [prop])]
    test_recs = load_records(test_path, [prop])
    starts = test_recs[:n_starts]

    # selection: the model and the density only (no evaluator exists yet)
    t_select = time.time()
    decoded, decodes_file = select_for_starts(r, starts, prop, seed=seed, decodes=decodes, tr_length=tr_length,
                                              n_known=n_known, pool=pool,
                                              decodes_dir=Path(decodes_dir or "runs/perov5_opt"), console=console)
    select_minutes = (time.time() - t_select) / 60

    # judging: the GBM (top-level keys, as before) and CDVAE's own DimeNet++ evaluator (primary)
    console.print("judging: gradient-boosted trees (fitted on the training crystals) and CDVAE's perovskite evaluator")
    y_train = np.array([rec.properties[prop] for rec in train_recs])
    gbm = fit_evaluator([rec.to_structure() for rec in train_recs], y_train, seed=seed)
    y_test = np.array([rec.properties[prop] for rec in test_recs])
    evaluator_mae = float(np.abs(gbm.predict([rec.to_structure() for rec in test_recs]) - y_test).mean())
    cdvae = CDVAEEvaluator("perovskite")
    start_structs = [rec.to_structure() for rec in starts]
    y_starts = np.array([rec.properties[prop] for rec in starts])
    start_eval, best_values, best_formulas = judge_decodes(gbm.predict, start_structs, decoded)
    start_cdvae, best_cdvae, formulas_cdvae = judge_decodes(cdvae.predict, start_structs, decoded)
    own = {f"sr{p}": float(np.percentile(y_train, p)) for p in (5, 10, 15)}
    per_start = [{"start": rec.id, "start_value": float(start_eval[i]), "start_value_cdvae": float(start_cdvae[i]),
                  "valid_decodes": len(decoded[i]),
                  "best_value": best_values[i] if np.isfinite(best_values[i]) else None,
                  "best_formula": best_formulas[i],
                  "best_value_cdvae": best_cdvae[i] if np.isfinite(best_cdvae[i]) else None,
                  "best_formula_cdvae": formulas_cdvae[i]} for i, rec in enumerate(starts)]
    results = {
        "benchmark": "perov5-opt", "command": command_line(), "device": device_info(), "seed": seed,
        "model": {"path": str(r.path), "name": r.config.name},
        "protocol": {"starts": len(starts), "decodes_per_start": decodes, "objective": "minimise heat_ref",
                     "optimiser": optimiser_text(tr_length, n_known, pool, decodes),
                     "evaluator": "HistGradientBoostingRegressor on Magpie + site-resolved features (not the head)",
                     "judges_only": "the evaluators are built after every start's candidates are chosen; "
                                    "selection uses the model's head and the density only",
                     "decodes_file": str(decodes_file)},
        "evaluator_mae": evaluator_mae,
        "thresholds_cdvae": CDVAE_THRESHOLDS, "thresholds_own_training": own,
        "cdvae_anchor": CDVAE_ANCHOR,
        "cdvae_evaluator": {
            "evaluator": repr(cdvae), "thresholds": CDVAE_THRESHOLDS,
            "start_mae": float(np.abs(start_cdvae - y_starts).mean()),
            **{k: float((best_cdvae <= thr).mean()) for k, thr in CDVAE_THRESHOLDS.items()},
            **{f"{k}_starts_already": float((start_cdvae <= thr).mean()) for k, thr in CDVAE_THRESHOLDS.items()},
            "anchor_diffcsp": DIFFCSP_ANCHOR, "anchor_cdvae": CDVAE_ANCHOR},
        "select_minutes": round(select_minutes, 2),
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
        "| judge | SR5 | SR10 | SR15 |", "|---|---|---|---|",
    ]
    c = res.get("cdvae_evaluator")
    if c:
        lines += [f"| **CDVAE's perovskite evaluator** (CDVAE thresholds 0.439 / 0.612 / 0.736) | **{fmt(c['sr5'], 2)}** | "
                  f"**{fmt(c['sr10'], 2)}** | **{fmt(c['sr15'], 2)}** |",
                  f"| the starting crystals themselves, CDVAE's evaluator | {fmt(c['sr5_starts_already'], 2)} | "
                  f"{fmt(c['sr10_starts_already'], 2)} | {fmt(c['sr15_starts_already'], 2)} |"]
    lines += [
        f"| our GBM evaluator (CDVAE thresholds) | {fmt(res['sr5'], 2)} | {fmt(res['sr10'], 2)} | {fmt(res['sr15'], 2)} |",
        f"| our GBM evaluator (our training percentiles {own['sr5']:.3f} / {own['sr10']:.3f} / {own['sr15']:.3f}) | "
        f"{fmt(res['sr5_own_thresholds'], 2)} | {fmt(res['sr10_own_thresholds'], 2)} | {fmt(res['sr15_own_thresholds'], 2)} |",
        f"| the starting crystals themselves, GBM | {fmt(res['sr5_starts_already'], 2)} | {fmt(res['sr10_starts_already'], 2)} | {fmt(res['sr15_starts_already'], 2)} |",
        "| DiffCSP (anchor, CDVAE's evaluator) | 1.00 | 1.00 | 1.00 |",
        "| CDVAE (anchor) | 0.52 | 0.65 | 0.79 |", "",
    ]
    if c:
        lines += [f"CDVAE's evaluator on the 100 starting crystals: MAE {fmt(c['start_mae'], 4)} eV/atom against heat_ref "
                  "(all 3,785 test crystals: results/evaluators.md). The judges are built only after every start's "
                  "candidates are chosen.", ""]
    lines += [
        f"Valid decodes: {fmt(res['valid_decode_rate'], 3)} of all scored decodes. Bar (CDVAE's evaluator): "
        "SR5 >= 0.90, SR10 >= 0.98, SR15 >= 1.00 (target 1.00 each).", "",
    ]
    return "\n".join(lines)
