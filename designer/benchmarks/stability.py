"""``designer benchmark stability``: is the stability call right on DFT data it never saw?

The hull is the shipped one (``hull.HullReference.from_files``: CHGNet-relaxed elemental references
and the frozen competing-phase set, whose SHA-256 is recorded). No DFT label (MP e_above_hull, MP
formation energy, heat_ref) builds or fits anything; they are only compared with.

* **convention** (mp_20_subset/train, never val): formation-energy MAE against MP with CHGNet's own
  energies and with MP2020 corrections added; ``energy_convention.CONVENTION`` is the better one.
* **metastable** known compounds: val rows with MP e_above_hull >= 0.01, relaxed with CHGNet. A
  metastable compound is not on the hull, so ours is comparable with MP's: mean |ours - MP|,
  fraction within 0.1 eV/atom and n, for binaries and for ternaries or more.
* **stable** known compounds: val rows with MP e_above_hull < 0.01, scored with their formula (all
  polymorphs) left out of the hull; fraction called stable (e_above_hull <= 0.1).
* **controls**, single points without relaxation: every val compound compressed to 80 % volume; every
  val compound with one anion and one cation site swapped; the perov_5 test crystals with
  heat_ref >= 1.0. Fraction called stable each.
* **perov5**: Spearman(formation energy, heat_ref) and Spearman(e_above_hull, heat_ref) on the perov_5
  test split per anion family (O, N, F, S, mixed); heat_ref has a water-based oxygen reference, so
  families are compared within. The hull here adds the perov_5 training crystals, as a design run does.
* **formation_energy**: MAE against MP on val.
* **speed**: ``designer score one.cif --run perov5`` in a fresh process, and structures per second
  for single point + hull on the first 1,000 perov_5 test crystals.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from scipy.stats import spearmanr

from designer.report.results import command_line, device_info, fmt, write_results
from designer.resources import dataset_path
from designer.scoring import energy_convention
from designer.scoring.competing_phases import META_FILE, PHASES_FILE, frozen_hash, read_rows
from designer.scoring.hull import CAVEAT, STABLE, HullReference, compare_conventions, default_hull_files

MP_PROPS = ["formation_energy_per_atom", "e_above_hull"]
ANION_FAMILIES = ("O", "N", "F", "S")


def _records(name: str, split: str, props: list[str]):
    from designer.data.crystal_dataset import load_records

    return load_records(dataset_path(name, f"{split}.csv.gz"), props)


def _group(values: list[tuple[float, float]]) -> dict:
    """``mae``, ``frac_within_0_1`` and ``n`` of (ours, MP) pairs (NaN ours counted in ``n_unscored``)."""
    pairs = [(a, b) for a, b in values if math.isfinite(a)]
    err = np.abs(np.array([a - b for a, b in pairs])) if pairs else np.array([])
    return {"mae": float(err.mean()) if len(err) else None,
            "frac_within_0_1": float((err <= 0.1).mean()) if len(err) else None,
            "n": len(pairs), "n_unscored": len(values) - len(pairs)}


def _called_stable(evals: list[dict]) -> dict:
    e = np.array([v["e_above_hull"] for v in evals], dtype=float)
    ok = np.isfinite(e)
    complete = np.array([v["hull_coverage"] == "complete" for v in evals])
    return {"frac_called_stable": float((e[ok] <= STABLE).mean()) if ok.any() else None,
            "frac_called_stable_complete_hull": float((e[ok & complete] <= STABLE).mean()) if (ok & complete).any() else None,
            "frac_complete_hull": float(complete.mean()) if len(evals) else None,
            "n": int(ok.sum()), "n_unscored": int((~ok).sum())}


def convention_check(hull: HullReference, train, energies: dict[str, float]) -> dict:
    """Formation-energy MAE against MP on mp_20_subset/train under each convention (``energies``: id -> CHGNet
    energy per atom of that training crystal)."""
    rows = [(rec.to_structure().composition, energies.get(rec.id, math.nan), rec.properties["formation_energy_per_atom"])
            for rec in train]
    out = compare_conventions(hull.elements, rows)
    out["used"] = energy_convention.CONVENTION
    return out


def _antisite(structure):
    """A copy with the first site of the most electronegative element swapped with the first site of the least."""
    els = sorted(structure.composition.elements, key=lambda e: 0.0 if math.isnan(e.X) else e.X)
    if len(els) < 2:
        return None
    s = structure.copy()
    i = next(k for k, site in enumerate(s) if site.specie == els[-1])
    j = next(k for k, site in enumerate(s) if site.specie == els[0])
    a, b = s[i].specie, s[j].specie
    s.replace(i, b)
    s.replace(j, a)
    return s


def _anion_family(structure) -> str:
    present = [a for a in ANION_FAMILIES if a in {el.symbol for el in structure.composition.elements}]
    return present[0] if len(present) == 1 else "mixed"


def _score_one_cif_seconds(cif_text: str, runs: int = 3) -> list[float]:
    """Wall seconds of ``designer score one.cif --run perov5`` in a fresh process, ``runs`` times after a
    warm-up (which fills the OS file cache and the data caches a user's second call would find)."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "one.cif").write_text(cif_text)
        for k in range(runs + 1):
            t = time.time()
            subprocess.run([sys.executable, "-m", "designer.cli", "score", "one.cif", "--run", "perov5", "--out",
                            f"out{k}"], cwd=tmp, check=True, capture_output=True)
            if k:
                out.append(time.time() - t)
    return out


def judge_known(hull: HullReference, relaxed: list, energies: list[float]) -> tuple[list[dict], dict]:
    """Each val compound judged on ``hull`` (a stable one with its formula left out) and the groups of the
    protocol: ``metastable`` (binary, ternary_plus), ``stable``, ``formation_energy``.

    Args:
        relaxed: ``(record, structure, _)`` per val row.
        energies: the model's energy per atom of each row's relaxed structure.
    """
    meta_bin, meta_tern, stable_evals, ef_pairs, evals = [], [], [], [], []
    for (rec, s, _), e in zip(relaxed, energies):
        comp = s.composition
        mp_hull = rec.properties["e_above_hull"]
        ev = hull.evaluate(comp, e, exclude_formula=comp.reduced_formula if mp_hull < 0.01 else "")
        evals.append(ev)
        ef_pairs.append((ev["formation_energy"], rec.properties["formation_energy_per_atom"]))
        if mp_hull >= 0.01 and len(comp.elements) == 2:
            meta_bin.append((ev["e_above_hull"], mp_hull))
        elif mp_hull >= 0.01 and len(comp.elements) >= 3:
            meta_tern.append((ev["e_above_hull"], mp_hull))
        elif mp_hull < 0.01:
            stable_evals.append(ev)
    ef = _group(ef_pairs)
    return evals, {"metastable": {"binary": _group(meta_bin), "ternary_plus": _group(meta_tern)},
                   "stable": _called_stable(stable_evals),
                   "formation_energy": {"mae_vs_mp": ef["mae"], "n": ef["n"]}}


def sevennet_second_opinion(relaxed: list, final: list, compressed: list, swapped: list, rows: list[dict],
                            console: Console) -> dict:
    """The val groups and controls judged again by SevenNet-0 (``second_opinion``): single points on the
    CHGNet-relaxed val structures (the controls as given) against SevenNet-0's own hull; and how often
    the two models make the same call. Adds ``e_above_hull_sevennet`` to ``rows``."""
    from designer.scoring import second_opinion as so

    if not so.available():
        return {"skipped": "sevenn is not installed (pip install 'designer[sevenn]')"}
    hull = so.load_hull()
    console.print(f"second opinion: {hull.description}")
    evals, groups = judge_known(hull, relaxed, so.single_point(final))
    same, gap = [], []
    for ev, row in zip(evals, rows):
        row["e_above_hull_sevennet"] = ev["e_above_hull"]
        if math.isfinite(ev["e_above_hull"]) and math.isfinite(row["e_above_hull"]):
            same.append((ev["e_above_hull"] <= STABLE) == (row["e_above_hull"] <= STABLE))
            gap.append(abs(ev["e_above_hull"] - row["e_above_hull"]))
    controls = {}
    for name, structs in (("compressed", compressed), ("antisite", swapped)):
        controls[name] = _called_stable([hull.evaluate(s.composition, e) for s, e in zip(structs, so.single_point(structs))])
    doc = json.loads(so.META_FILE.read_text())
    return {"model": doc.get("model"), "hull": hull.description, "convention": doc.get("convention"),
            "geometry": "CHGNet-relaxed val structures; references on their CHGNet-relaxed structures",
            **groups,
            "controls": controls,
            "agreement": {"frac_same_call": float(np.mean(same)) if same else None,
                          "mean_abs_e_above_hull_difference": float(np.mean(gap)) if gap else None, "n": len(same)}}


def run(out: Path | None = None, relax_steps: int = 200, limit: int = 0, second_opinion: bool = True,
        console: Console | None = None) -> Path:
    """``limit`` > 0 uses only the first ``limit`` rows of each set (a quick check; never for results/);
    ``second_opinion``: judge the val groups again with SevenNet-0 where sevenn is installed."""
    from designer.scoring.chgnet_energy import relax, single_point

    console = console or Console(stderr=True)
    out = Path(out or "results/stability.json")
    t0 = time.time()
    cut = (lambda xs: xs[:limit]) if limit else (lambda xs: xs)
    hull = HullReference.from_files([])
    console.print(f"hull: {hull.description}")
    res: dict = {"benchmark": "stability", "command": command_line(), "device": device_info(),
                 "hull": hull.description, "hull_caveat": CAVEAT, "stable_threshold_ev_per_atom": STABLE,
                 "competing_phases_sha256": frozen_hash(PHASES_FILE),
                 "competing_phases": json.loads(META_FILE.read_text()) if META_FILE.exists() else None,
                 "convention_used": energy_convention.CONVENTION, "limit": limit}

    # convention, on train only: the relaxed energies of the frozen set's MP-20 rows, else single points
    train = cut(_records("mp_20_subset", "train", MP_PROPS))
    relaxed_train = {r["id"]: float(r["energy_per_atom"]) for r in read_rows(PHASES_FILE)
                     if r["tier"] == "d" and r["energy_per_atom"] not in ("", None)}
    missing = [rec for rec in train if rec.id not in relaxed_train]
    console.print(f"convention check on {len(train)} mp_20_subset/train rows ({len(missing)} by single point)")
    sp = single_point([rec.to_structure() for rec in missing]) if missing else []
    energies = {**relaxed_train, **{rec.id: p["energy_per_atom"] for rec, p in zip(missing, sp)}}
    res["convention"] = convention_check(hull, train, energies)
    res["convention"]["source"] = f"{len(train) - len(missing)} relaxed (frozen set, tier d), {len(missing)} single point"

    # val: relax every row once
    val = cut(_records("mp_20_subset", "val", MP_PROPS))
    console.print(f"relaxing {len(val)} mp_20_subset/val rows with CHGNet")
    t = time.time()
    relaxed, final = [], []
    for rec in val:
        s = rec.to_structure()
        r = relax(s, steps=relax_steps, fmax=0.05)
        relaxed.append((rec, s, r["relaxed_energy_per_atom"]))
        final.append(r["relaxed"] if r["relaxed"] is not None else s)
    res["val_relax_s_per_structure"] = (time.time() - t) / max(len(val), 1)
    evals, groups = judge_known(hull, relaxed, [e for _, _, e in relaxed])
    rows = [{"id": rec.id, "formula": s.composition.reduced_formula, "mp_e_above_hull": rec.properties["e_above_hull"],
             **ev} for (rec, s, _), ev in zip(relaxed, evals)]
    res.update(groups)

    # controls: single points, no relaxation
    console.print("controls: compressed, antisite, perov_5 heat_ref >= 1 (single points)")
    compressed = []
    for rec, s, _ in relaxed:
        c = s.copy()
        c.scale_lattice(0.8 * s.volume)
        compressed.append(c)
    swapped = [a for a in (_antisite(s) for _, s, _ in relaxed) if a is not None]
    perov = _records("perov_5", "test", ["heat_ref"])
    perov_structs = [r.to_structure() for r in perov]
    perov_hull = HullReference.from_files(default_hull_files([]))  # + the perov_5 training crystals
    perov, perov_structs = cut(perov), cut(perov_structs)

    def judge(structs):
        return [perov_hull.evaluate(s.composition, p["energy_per_atom"]) for s, p in zip(structs, single_point(structs))]

    t = time.time()
    perov_eval = judge(perov_structs[:1000])  # timed: single point + hull
    res["speed"] = {"perov5_structures_per_s": len(perov_eval) / (time.time() - t), "perov5_n": len(perov_eval)}
    perov_eval += judge(perov_structs[1000:])
    heat = np.array([r.properties["heat_ref"] for r in perov])
    controls = {}
    for name, structs in (("compressed", compressed), ("antisite", swapped)):
        sp_c = single_point(structs)
        controls[name] = _called_stable([hull.evaluate(s.composition, p["energy_per_atom"]) for s, p in zip(structs, sp_c)])
    controls["perov_heat_ref_ge_1"] = _called_stable([v for v, h in zip(perov_eval, heat) if h >= 1.0])
    res["controls"] = controls
    if second_opinion:
        res["second_opinion"] = sevennet_second_opinion(relaxed, final, compressed, swapped, rows, console)

    fam = np.array([_anion_family(s) for s in perov_structs])
    ef = np.array([v["formation_energy"] for v in perov_eval], dtype=float)
    eh = np.array([v["e_above_hull"] for v in perov_eval], dtype=float)
    by_f, by_h, n_f = {}, {}, {}
    for f in (*ANION_FAMILIES, "mixed"):
        m = (fam == f) & np.isfinite(ef) & np.isfinite(eh)
        n_f[f] = int(m.sum())
        by_f[f] = float(spearmanr(ef[m], heat[m]).statistic) if m.sum() > 2 else None
        by_h[f] = float(spearmanr(eh[m], heat[m]).statistic) if m.sum() > 2 else None
    ok = np.isfinite(ef)
    res["perov5"] = {"spearman_formation_by_anion": by_f, "spearman_e_above_hull_by_anion": by_h, "n_by_anion": n_f,
                     "spearman_formation_overall": float(spearmanr(ef[ok], heat[ok]).statistic) if ok.sum() > 2 else None,
                     "hull": perov_hull.description}
    if not limit:
        runs = _score_one_cif_seconds(perov[0].to_structure().to(fmt="cif"))
        res["speed"]["score_one_cif_seconds"] = float(np.median(runs))
        res["speed"]["score_one_cif_seconds_runs"] = runs
    res["minutes"] = round((time.time() - t0) / 60, 2)
    res["val_rows"] = rows
    write_results(out, res, _markdown(res))
    return out


def _markdown(r: dict) -> str:
    m, c, conv = r["metastable"], r["controls"], r["convention"]
    lines = ["# Stability against DFT (designer benchmark stability)", "", f"Command: `{r['command']}`  ",
             f"{r['device']['cpu']} ({r['device']['cpu_cores']} cores); {r['minutes']} min.", "",
             f"Hull: {r['hull']}. Stable: CHGNet energy above hull ≤ {r['stable_threshold_ev_per_atom']} eV/atom. "
             "No DFT label builds or fits anything.", "",
             "## Energy convention (mp_20_subset/train)", "",
             "| convention | formation-energy MAE vs MP (eV/atom) | n |", "|---|---|---|"]
    for k in energy_convention.CONVENTIONS:
        lines.append(f"| {k} | {fmt(conv[k]['formation_energy_mae'], 4)} | {conv[k]['n']} |")
    lines += ["", f"Better on train: **{conv['better']}**; used: **{conv['used']}** ({conv['source']}).", "",
              "## Known compounds (mp_20_subset/val, relaxed with CHGNet)", "",
              "| group | mean abs(ours − MP) (eV/atom) | within ±0.1 | n |", "|---|---|---|---|"]
    for k, g in (("metastable binaries", m["binary"]), ("metastable ternaries and beyond", m["ternary_plus"])):
        lines.append(f"| {k} | {fmt(g['mae'], 3)} | {fmt(g['frac_within_0_1'], 3)} | {g['n']} |")
    s = r["stable"]
    lines += ["", f"Stable known compounds (own formula left out of the hull): called stable {fmt(s['frac_called_stable'], 3)} "
              f"(n {s['n']}; complete hull {fmt(s['frac_complete_hull'], 3)} of them).  ",
              f"Formation energy MAE vs MP on val: {fmt(r['formation_energy']['mae_vs_mp'], 4)} eV/atom "
              f"(n {r['formation_energy']['n']}).", "",
              "## Unstable controls (single points)", "", "| control | called stable | on a complete hull | n |",
              "|---|---|---|---|"]
    for k, g in c.items():
        lines.append(f"| {k} | {fmt(g['frac_called_stable'], 3)} | {fmt(g['frac_called_stable_complete_hull'], 3)} | {g['n']} |")
    p = r["perov5"]
    lines += ["", "## perov_5 test: ranking against heat_ref, per anion family", "",
              "| family | n | Spearman(E_f, heat_ref) | Spearman(E above hull, heat_ref) |", "|---|---|---|---|"]
    for f, n in p["n_by_anion"].items():
        lines.append(f"| {f} | {n} | {fmt(p['spearman_formation_by_anion'][f], 3)} | "
                     f"{fmt(p['spearman_e_above_hull_by_anion'][f], 3)} |")
    sp = r["speed"]
    lines += ["", f"perov_5 hull: {p['hull']}.", "", "## Speed", "",
              f"- single point + hull, first {sp['perov5_n']} perov_5 test crystals: {fmt(sp['perov5_structures_per_s'], 1)} structures/s",
              f"- `designer score one.cif --run perov5` in a fresh process: {fmt(sp.get('score_one_cif_seconds'), 1)} s "
              f"(median of {len(sp.get('score_one_cif_seconds_runs', []))} runs after a warm-up)",
              f"- CHGNet relaxation of a val crystal: {fmt(r['val_relax_s_per_structure'], 2)} s", "",
              f"**Coverage.** {r['hull_caveat']}.", ""]
    so = r.get("second_opinion")
    if so and "skipped" not in so:
        m2, a = so["metastable"], so["agreement"]
        lines += ["## Second opinion: SevenNet-0", "",
                  f"{so['model']}; {so['hull']}. Geometry: {so['geometry']}. Convention on train: "
                  + ", ".join(f"{k} {fmt(v['formation_energy_mae'], 4)}" for k, v in so["convention"].items()
                              if isinstance(v, dict)) + f" (used: {so['convention']['used']}).", "",
                  "| group | CHGNet | SevenNet-0 | n |", "|---|---|---|---|",
                  f"| metastable binaries, mean abs(ours − MP) | {fmt(m['binary']['mae'], 3)} | {fmt(m2['binary']['mae'], 3)} | {m2['binary']['n']} |",
                  f"| metastable ternaries+, mean abs(ours − MP) | {fmt(m['ternary_plus']['mae'], 3)} | {fmt(m2['ternary_plus']['mae'], 3)} | {m2['ternary_plus']['n']} |",
                  f"| stable known, called stable | {fmt(r['stable']['frac_called_stable'], 3)} | {fmt(so['stable']['frac_called_stable'], 3)} | {so['stable']['n']} |",
                  f"| formation energy MAE vs MP | {fmt(r['formation_energy']['mae_vs_mp'], 4)} | {fmt(so['formation_energy']['mae_vs_mp'], 4)} | {so['formation_energy']['n']} |"]
        for k, g in so["controls"].items():
            lines.append(f"| control {k}, called stable | {fmt(r['controls'][k]['frac_called_stable'], 3)} | "
                         f"{fmt(g['frac_called_stable'], 3)} | {g['n']} |")
        lines += ["", f"The two make the same call (stable or not) on {fmt(a['frac_same_call'], 3)} of {a['n']} val "
                  f"compounds; mean abs difference in energy above hull {fmt(a['mean_abs_e_above_hull_difference'], 3)} eV/atom.", ""]
    elif so:
        lines += [f"Second opinion (SevenNet-0): {so['skipped']}.", ""]
    return "\n".join(lines)
