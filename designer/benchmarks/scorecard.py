"""``designer benchmark scorecard``: an S.U.N.-style table (stable, unique, novel) and scoring throughput.

For ``n_samples`` perov_5 prior samples of the shipped model and for the output of ``make design``
(``outputs/perov5_design``; run first if missing): stable = CHGNet energy above the hull <= 0.1
eV/atom on a complete hull (``hull``: a partial system is never called stable; single point for
all, the relaxed energy for the relaxed subset reported beside it),
unique and novel as in the crystal benchmark (formula-grouped StructureMatcher against the
training crystals). Rates are fractions of all samples (a sample that fails geometry or charge
balance counts as not S.U.N.). Throughput: single-point scoring structures/s (geometry, charge,
symmetry, CHGNet) and seconds per capped relaxation.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from designer.config import load_pipeline
from designer.data.crystal_io import read_crystals
from designer.workflow.data import known_data
from designer.workflow.run import design
from designer.domains.crystal.generate import sample
from designer.metrics import novelty_uniqueness
from designer.report.results import command_line, device_info, fmt, write_results
from designer.resources import require_pipeline
from designer.runs import load_run
from designer.scoring.crystal_card import relax_rows, score_crystals
from designer.scoring.hull import CAVEAT, STABLE, HullReference, default_hull_files


def _rates(rows: list[dict]) -> dict:
    n = len(rows)
    ok = np.array([bool(r.get("geometry_ok")) and bool(r.get("charge_neutral")) for r in rows])
    e = np.array([r.get("e_above_hull", np.nan) for r in rows], dtype=float)
    complete = np.array([r.get("hull_coverage") == "complete" for r in rows], dtype=bool)
    below = ok & np.isfinite(e) & (e <= STABLE)
    stable = below & complete  # a partial hull never calls a structure stable
    unique = ok & np.array([bool(r.get("unique", False)) for r in rows])
    novel = ok & np.array([bool(r.get("novel", False)) for r in rows])
    out = {"n": n, "valid_rate": float(ok.mean()), "stable_rate": float(stable.mean()),
           "complete_hull_rate": float(complete.mean()), "below_threshold_any_coverage_rate": float(below.mean()),
           "unique_rate": float(unique.mean()), "novel_rate": float(novel.mean()),
           "sun_rate": float((stable & unique & novel).mean()),
           "median_e_above_hull": float(np.nanmedian(e)) if np.isfinite(e).any() else None}
    er = np.array([r.get("e_above_hull_relaxed", np.nan) for r in rows], dtype=float)
    relaxed = np.isfinite(er)
    if relaxed.any():
        out["relaxed"] = {"n": int(relaxed.sum()), "stable_rate": float(((er <= STABLE) & complete)[relaxed].mean()),
                          "median_energy_drop": float(np.nanmedian([r.get("energy_drop", np.nan) for r in rows])),
                          "converged_rate": float(np.mean([bool(r.get("relax_converged")) for r in rows if np.isfinite(
                              r.get("e_above_hull_relaxed", np.nan))]))}
    return out


def _score(structures, ids, hull, train, relax_top, relax_steps, console) -> tuple[list[dict], dict]:
    t = time.time()
    rows = score_crystals(structures, ids, hull=hull, reference_structures=None, relax_top=0, energies=True)
    sp_s = time.time() - t
    ok = [i for i, r in enumerate(rows) if r["geometry_ok"]]
    nu = novelty_uniqueness([structures[i] for i in ok], train, return_flags=True)
    for k, i in enumerate(ok):
        rows[i]["novel"], rows[i]["unique"] = bool(nu["novel"][k]), bool(nu["unique"][k])
    timing = {"single_point_s": round(sp_s, 2), "structures_per_s": len(structures) / sp_s}
    if relax_top:
        picked = [i for i in ok if rows[i]["charge_neutral"]][:relax_top]
        t = time.time()
        relax_rows(structures, rows, picked, hull, relax_steps)
        timing["relax_s_per_structure"] = (time.time() - t) / max(len(picked), 1)
        timing["relaxed_count"] = len(picked)
    return rows, timing


def run(out: Path | None = None, n_samples: int = 1000, seed: int = 0, run: str | None = None,
        relax_top: int = 20, relax_steps: int = 200, console: Console | None = None) -> Path:
    console = console or Console(stderr=True)
    out = Path(out or "results/scorecard.json")
    t0 = time.time()
    r = load_run(run or "perov5")
    hull = HullReference.from_files(default_hull_files(r.training_paths()))
    console.print(f"hull reference: {hull.description}")
    train = known_data(r).items
    console.print(f"sampling {n_samples} prior crystals")
    dec = sample(r, n_samples, seed=seed)
    structs = [s for s in dec.structures]
    ids = [f"prior_{i}" for i in range(len(structs))]
    keep = [i for i, s in enumerate(structs) if s is not None]
    console.print(f"scoring {len(keep)} structures (single point) and relaxing {relax_top}")
    rows, timing = _score([structs[i] for i in keep], [ids[i] for i in keep], hull, train, relax_top, relax_steps,
                          console)
    rows += [{"id": ids[i], "geometry_ok": False} for i in range(len(structs)) if structs[i] is None]
    prior = {**_rates(rows), **timing}

    design_dir = Path("outputs/perov5_design")
    if not (design_dir / "candidates.csv").exists():
        console.print("running `make design`'s pipeline for the design-run scores")
        cfg, _ = load_pipeline(require_pipeline("perov5"))
        design(cfg, run="perov5", out=design_dir, log=lambda m: None, progress=False)
    design_rows = list(csv.DictReader(open(design_dir / "candidates.csv")))
    d_structs = [read_crystals(design_dir / row["file"])[0].to_structure() for row in design_rows]
    d_rows, d_timing = _score(d_structs, [row["id"] for row in design_rows], hull, train, relax_top, relax_steps,
                              console)
    design_res = {**_rates(d_rows), **d_timing, "folder": str(design_dir)}
    results = {"benchmark": "scorecard", "command": command_line(), "device": device_info(), "seed": seed,
               "model": str(r.path), "hull": hull.description, "hull_caveat": CAVEAT,
               "stable_threshold_ev_per_atom": STABLE, "minutes": round((time.time() - t0) / 60, 2),
               **{k: prior[k] for k in ("sun_rate", "stable_rate", "unique_rate", "novel_rate", "structures_per_s")},
               "relax_s_per_structure": prior.get("relax_s_per_structure"),
               "prior_samples": prior, "design_run": design_res}
    for k in ("sun_rate", "stable_rate", "unique_rate", "novel_rate", "structures_per_s", "relax_s_per_structure"):
        results["design_run"].setdefault(k, design_res.get(k))
    write_results(out, results, _markdown(results))
    return out


def _markdown(res: dict) -> str:
    p, d = res["prior_samples"], res["design_run"]

    def line(name, x):
        return (f"| {name} | {x['n']} | {fmt(x['valid_rate'], 3)} | {fmt(x['stable_rate'], 3)} | "
                f"{fmt(x['unique_rate'], 3)} | {fmt(x['novel_rate'], 3)} | **{fmt(x['sun_rate'], 3)}** | "
                f"{fmt(x.get('median_e_above_hull'), 3)} |")

    lines = ["# Synthesis scorecard: S.U.N. rates and throughput", "",
             f"Command: `{res['command']}`  ", f"Model: `{res['model']}`; {res['minutes']} min on "
             f"{res['device']['cpu']} ({res['device']['cpu_cores']} cores).  ",
             f"Hull: {res['hull']}. Stable: CHGNet (single point) energy above hull <= {res['stable_threshold_ev_per_atom']} eV/atom.  ",
             f"**Caveat:** {res['hull_caveat']}.", "",
             "| set | n | valid (geometry + charge) | stable | unique | novel | S.U.N. | median E above hull (eV/atom) |",
             "|---|---|---|---|---|---|---|---|", line("prior samples", p), line("`make design` output", d), ""]
    for name, x in (("prior samples", p), ("`make design` output", d)):
        if "relaxed" in x:
            rx = x["relaxed"]
            lines.append(f"Relaxed subset of the {name} ({rx['n']}, CHGNet FIRE, capped steps): stable "
                         f"{fmt(rx['stable_rate'], 3)}, median energy drop {fmt(rx['median_energy_drop'], 4)} eV/atom, "
                         f"converged {fmt(rx['converged_rate'], 2)}.  ")
    lines += ["", f"Throughput (CPU): {fmt(p['structures_per_s'], 3)} structures/s single-point scoring "
              f"(geometry, charge balance, symmetry, CHGNet); {fmt(p.get('relax_s_per_structure'), 3)} s per relaxation.", ""]
    return "\n".join(lines)
