"""The crystal scorecard: one row of checks and scores per structure (ours or anyone's).

Columns (all plain values): identity (``formula``, ``num_atoms``, ``spacegroup``), geometry
(``geometry_ok``, ``min_distance``, ``volume_per_atom``, ``density``), charge balance
(``charge_neutral``, ``electronegativity_ok``, ``oxidation_states``), CHGNet single point
(``energy_per_atom``, ``max_force``, ``max_stress``), the hull (``formation_energy``, ``e_above_hull``,
``decomposition``, ``hull_coverage``, ``stable``: None on a partial hull), for
the top ``relax_top`` candidates a capped relaxation (``relaxed_energy_per_atom``, ``energy_drop``,
``residual_max_force``, ``relax_steps``, ``e_above_hull_relaxed``), ``novel`` against reference
structures and ``unique`` within the batch, and with a run the model's ``plausibility_percentile``
and ``pred_<property>`` ± ``pred_<property>_std``; with a ``second_opinion`` (``second_opinion.SecondOpinion``)
SevenNet-0's ``energy_per_atom_sevennet`` and ``e_above_hull_sevennet`` on the same (relaxed where
relaxed) structure. ``reasons`` lists every failed check, and a stability call the two models disagree on.
"""

from __future__ import annotations

import math
from typing import Callable

from pymatgen.core import Structure

from designer.metrics import novelty_uniqueness
from designer.parallel import parallel_map
from designer.scoring.chgnet_energy import relax
from designer.scoring.hull import STABLE
from designer.scoring.per_structure import checks_and_single_points, structure_checks


def score_crystals(structures: list[Structure], ids: list[str], hull=None, reference_structures=None,
                   relax_top: int = 0, relax_steps: int = 200, energies: bool = True,
                   model_scores: Callable[[list[Structure]], list[dict]] | None = None,
                   order_for_relax: list[int] | None = None, symprec: float = 0.1, second_opinion=None,
                   log: Callable[[str], None] = lambda m: None, jobs: int = 1) -> list[dict]:
    """Score ``structures``; returns one dict per structure, in input order.

    ``jobs``: worker processes for the per-structure checks (geometry, SMACT, symmetry), the
    CHGNet single points (in batches) and novelty; 1 runs everything here.

    Args:
        hull: a ``HullReference`` (formation energy, energy above hull); None leaves them out.
        reference_structures: structures a candidate must not match to be ``novel`` (None: not judged).
        relax_top: relax this many (the first ones of ``order_for_relax``, default input order) with
            CHGNet, at most ``relax_steps`` steps each.
        energies: run CHGNet single points at all.
        model_scores: structures -> per-structure dicts of model columns (plausibility, predictions).
        second_opinion: an object whose ``score(structures)`` gives per-structure dicts (SevenNet-0's
            ``e_above_hull_sevennet``), run on the relaxed structure where there is one.
    """
    if energies:
        log(f"checks and CHGNet single points for {len(structures)} structures")
        checks = checks_and_single_points(structures, symprec, jobs)
    else:
        checks = parallel_map(structure_checks, [(s, symprec) for s in structures], n_jobs=jobs)
    rows = [{"id": sid, **row} for sid, row in zip(ids, checks)]
    ok = [i for i, r in enumerate(rows) if r["geometry_ok"]]
    if energies:
        if hull is not None:
            for i in ok:
                rows[i].update(hull.evaluate(structures[i].composition, rows[i]["energy_per_atom"]))
        if relax_top:
            order = [i for i in (order_for_relax if order_for_relax is not None else range(len(rows))) if i in set(ok)]
            relax_rows(structures, rows, order[:relax_top], hull, relax_steps, log)
        if second_opinion is not None and hull is not None:
            log(f"SevenNet-0 second opinion for {len(ok)} structures")
            for i, extra in zip(ok, second_opinion.score([rows[i].get("_relaxed") or structures[i] for i in ok])):
                rows[i].update(extra)
    valid = [i for i in ok if rows[i]["charge_neutral"]]
    if reference_structures is not None or len(valid) > 1:
        res = novelty_uniqueness([structures[i] for i in ok], list(reference_structures or []), n_jobs=jobs,
                                 return_flags=True)
        for k, i in enumerate(ok):
            rows[i]["unique"] = bool(res["unique"][k])
            if reference_structures is not None:
                rows[i]["novel"] = bool(res["novel"][k])
    if model_scores is not None:
        for row, extra in zip(rows, model_scores(structures)):
            row.update(extra)
    for row in rows:
        reasons = [row["geometry_reason"], row["charge_reason"]]
        if row.get("relax_error"):
            reasons.append("relaxation failed: " + row["relax_error"])
        if row.get("novel") is False:
            reasons.append("matches a known structure")
        if row.get("hull_coverage") == "partial":
            reasons.append("hull partial (a lower-order subsystem has no reference phase): stability not judged")
        if _disagree(row):
            reasons.append("CHGNet and SevenNet-0 disagree on stability")
        row["reasons"] = "; ".join(r for r in reasons if r)
        for k in ("geometry_reason", "charge_reason"):
            row.pop(k, None)
    return rows


def _disagree(row: dict) -> bool:
    """Whether CHGNet (relaxed where relaxed) and SevenNet-0 fall on different sides of the stable line."""
    ours = next((v for v in (row.get("e_above_hull_relaxed"), row.get("e_above_hull"))
                 if v is not None and math.isfinite(v)), None)
    other = row.get("e_above_hull_sevennet")
    if ours is None or other is None or not math.isfinite(other):
        return False
    return (ours <= STABLE) != (other <= STABLE)


def relax_rows(structures: list[Structure], rows: list[dict], indices: list[int], hull=None, steps: int = 200,
               log: Callable[[str], None] = lambda m: None) -> None:
    """Relax ``structures[i]`` for each ``i`` in ``indices`` with CHGNet (at most ``steps`` steps) and write the
    result into ``rows[i]``: the relaxation's columns (relaxed energy, energy drop, residual force,
    convergence), ``e_above_hull_relaxed`` (with a ``hull``) and ``_relaxed``, the relaxed structure."""
    for k, i in enumerate(indices):
        log(f"relaxing {k + 1}/{len(indices)}: {rows[i]['id']}")
        r = relax(structures[i], steps=steps)
        relaxed = r.pop("relaxed")
        rows[i].update({key: v for key, v in r.items() if key != "initial_energy_per_atom"})
        if hull is not None:
            ev = hull.evaluate(structures[i].composition, r["relaxed_energy_per_atom"])
            rows[i].update(e_above_hull_relaxed=ev["e_above_hull"], decomposition_relaxed=ev["decomposition"])
            if math.isfinite(ev["e_above_hull"]):
                rows[i]["stable"] = ev["stable"]  # the relaxed energy decides
        rows[i]["_relaxed"] = relaxed
