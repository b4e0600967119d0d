"""``designer benchmark score-files --samples PATH``: the scorecard on someone else's CIFs, every file reported.

PATH is a folder of CIFs (searched recursively) or a ``.zip`` of them; default: MatterGen's CIF
release in ``$DESIGNER_SHARED/datasets/mattergen_cifs/cifs.zip`` (772 files; without the variable,
``../shared/...`` relative to the current working directory). No model is involved
(``designer score`` without ``--run``): geometry, charge balance, space group, CHGNet single point,
formation energy and energy above the hull of the shipped reference set (elements, the frozen
competing phases and the perov_5 training crystals; a structure on a partial hull is never called
stable). Reported: how many files parse, the pass rate of each
check, the reasons of the failures, and scoring throughput.
"""

from __future__ import annotations

import collections
import re
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from rich.console import Console

from designer.workflow.score_files import read_inputs
from designer.errors import DataError
from designer.report.results import command_line, device_info, fmt, write_results
from designer.resources import shared_dir
from designer.scoring.crystal_card import score_crystals
from designer.scoring.hull import CAVEAT, HullReference, default_hull_files

DEFAULT_PARTS = ("datasets", "mattergen_cifs", "cifs.zip")


def default_samples() -> Path:
    """MatterGen's CIF release under the shared data folder: ``$DESIGNER_SHARED/datasets/mattergen_cifs/cifs.zip``,
    else ``../shared/datasets/mattergen_cifs/cifs.zip`` relative to the current working directory."""
    return shared_dir().joinpath(*DEFAULT_PARTS)


def _cif_files(path: Path, tmp: Path) -> list[Path]:
    if path.is_file() and path.suffix.lower() == ".cif":
        return [path]
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as z:
                z.extractall(tmp)
        except zipfile.BadZipFile:
            raise DataError(f"{path}: not a readable zip archive") from None
        path = tmp
    if not path.is_dir():
        raise DataError(f"{path}: give a folder of CIFs, a .zip of them or one .cif file")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".cif")
    if not files:
        raise DataError(f"{path}: no .cif files found")
    return files


def run(samples: Path | None = None, out: Path | None = None, console: Console | None = None) -> Path:
    console = console or Console(stderr=True)
    src = Path(samples) if samples else default_samples()
    if not src.exists():
        hint = ("give --samples FOLDER_OR_ZIP of CIF files" if samples else
                "give --samples FOLDER_OR_ZIP of CIF files, or set DESIGNER_SHARED to the folder holding "
                "datasets/mattergen_cifs/cifs.zip")
        raise DataError(f"{src}: not found; {hint}")
    out = Path(out or "results/scorecard_mattergen.json")
    with tempfile.TemporaryDirectory() as tmp:
        files = _cif_files(src, Path(tmp))
        root = Path(tmp) if src.suffix.lower() == ".zip" else (src.parent if src.is_file() else src)
        t0 = time.time()
        items = []
        for f in files:  # one file at a time: ids are the relative paths (stems repeat across folders)
            _, got = read_inputs([f])
            rel = str(f.relative_to(root).with_suffix(""))
            items += [(rel if len(got) == 1 else f"{rel}_{k}", obj, reason) for k, (_, obj, reason) in enumerate(got)]
        parse_s = time.time() - t0
    good = [(sid, s) for sid, s, _ in items if s is not None]
    console.print(f"{len(files)} files, {len(good)} readable structures; scoring (CHGNet single points)")
    hull = HullReference.from_files(default_hull_files([]))
    t = time.time()
    rows = score_crystals([s for _, s in good], [sid for sid, _ in good], hull=hull, energies=True,
                          log=lambda m: console.print(m))
    score_s = time.time() - t
    geo = np.array([r["geometry_ok"] for r in rows])
    charge = np.array([bool(r.get("charge_neutral")) for r in rows])
    e = np.array([r.get("e_above_hull", np.nan) for r in rows], dtype=float)
    ef = np.array([r.get("formation_energy", np.nan) for r in rows], dtype=float)
    reasons = collections.Counter(reason.split(";")[0][:90] for _, s, reason in items if s is None)
    fails = collections.Counter(re.sub(r"[0-9.]+", "#", str(r.get("reasons", "")).split(";")[0])[:70]
                                for r in rows if not r["geometry_ok"])  # grouped: numbers masked
    n = len(items)
    res = {
        "benchmark": "score-files", "command": command_line(), "device": device_info(), "source": str(src),
        "files": len(files), "structures": n, "readable": len(good), "readable_rate": len(good) / max(n, 1),
        "geometry_ok_rate": float(geo.mean()) if len(geo) else None,
        "charge_neutral_rate": float(charge.mean()) if len(charge) else None,
        "negative_formation_energy_rate": float(np.mean(ef[np.isfinite(ef)] < 0)) if np.isfinite(ef).any() else None,
        "stable_rate": float(np.mean([r.get("stable") is True for r in rows])) if rows else None,
        "complete_hull_rate": float(np.mean([r.get("hull_coverage") == "complete" for r in rows])) if rows else None,
        "median_e_above_hull": float(np.nanmedian(e)) if np.isfinite(e).any() else None,
        "median_atoms": float(np.median([r["num_atoms"] for r in rows])) if rows else None,
        "structures_per_s": len(good) / score_s if score_s > 0 else None, "parse_s": round(parse_s, 2),
        "score_s": round(score_s, 2), "unreadable_reasons": dict(reasons), "geometry_failures": dict(fails),
        "hull": hull.description, "hull_caveat": CAVEAT,
    }
    write_results(out, res, _markdown(res))
    return out


def _markdown(r: dict) -> str:
    lines = ["# Scorecard on someone else's CIFs", "", f"Command: `{r['command']}`  ", f"Source: `{r['source']}`; "
             f"{r['device']['cpu']} ({r['device']['cpu_cores']} cores).", "",
             "| files | readable | geometry ok | charge neutral | E_f < 0 | E above hull ≤ 0.1 | median E above hull | "
             "structures/s (single point) |", "|---|---|---|---|---|---|---|---|",
             f"| {r['files']} | {r['readable']} ({fmt(r['readable_rate'], 3)}) | {fmt(r['geometry_ok_rate'], 3)} | "
             f"{fmt(r['charge_neutral_rate'], 3)} | {fmt(r['negative_formation_energy_rate'], 3)} | "
             f"{fmt(r['stable_rate'], 3)} | {fmt(r['median_e_above_hull'], 3)} eV/atom | "
             f"{fmt(r['structures_per_s'], 2)} |", "",
             f"Hull: {r['hull']}; complete for {fmt(r.get('complete_hull_rate'), 3)} of the structures (only those can be "
             f"called stable). **Caveat:** {r['hull_caveat']}.", ""]
    if r["unreadable_reasons"]:
        lines += ["Unreadable files:", ""] + [f"- {k} ({v})" for k, v in r["unreadable_reasons"].items()] + [""]
    if r["geometry_failures"]:
        lines += ["Geometry failures:", ""] + [f"- {k} ({v})" for k, v in r["geometry_failures"].items()] + [""]
    return "\n".join(lines)
