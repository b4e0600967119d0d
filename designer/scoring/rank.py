"""One synthesis-readiness score per candidate, and a batch that trades it against diversity.

Crystals (a candidate failing geometry or charge balance is ranked last, whatever its score)::

    readiness = w_objective    * z(objective)
              + w_plausibility * plausibility_percentile / 100
              - w_hull         * clip(e_above_hull, 0, 1) / 0.1      (per 0.1 eV/atom above the hull)
              - w_force        * clip(residual or single-point max force, 0, 5)   (eV/A)
              + w_novelty      * novel

Proteins (an internal stop codon ranks last)::

    readiness = w_objective    * z(objective)
              + w_plausibility * elbo_percentile / 100   (plausibility_percentile without a likelihood)
              - w_liability    * num_liabilities
              - w_distance     * edit_distance_wild_type / 10

``z(objective)`` is the objective standardised over the batch. A missing term counts as zero. The
weights are the pipeline's ``scoring.weights``. ``select`` then picks a batch greedily by
``readiness - diversity * (similarity to the closest already picked)`` (maximal marginal relevance):
crystals are similar when they share a reduced formula (1) or by the cosine of their element
fractions; proteins by sequence identity. A candidate that repeats a better-ranked one
(``duplicates``: the same structure under StructureMatcher, or the same sequence) is never picked.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_WEIGHTS = {"objective": 1.0, "plausibility": 0.5, "hull": 1.0, "force": 0.2, "novelty": 0.5,
                   "liability": 0.5, "distance": 0.1}


def _num(row: dict, key: str) -> float:
    v = row.get(key)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v


def _z(values: list[float]) -> np.ndarray:
    v = np.array(values, dtype=float)
    ok = np.isfinite(v)
    out = np.zeros(len(v))
    if ok.sum() > 1 and v[ok].std() > 0:
        out[ok] = (v[ok] - v[ok].mean()) / v[ok].std()
    return out


def readiness(rows: list[dict], domain: str, weights: dict | None = None) -> np.ndarray:
    """``n`` readiness scores (-inf for candidates that fail a gate); see the module docstring."""
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    z_obj = _z([_num(r, "objective") for r in rows])
    out = np.zeros(len(rows))
    for i, r in enumerate(rows):
        s = w["objective"] * z_obj[i]
        if domain == "crystal":
            if str(r.get("geometry_ok")) != "True" or str(r.get("charge_neutral")) != "True":
                out[i] = -np.inf
                continue
            pl = _num(r, "plausibility_percentile")
            hull = _num(r, "e_above_hull_relaxed")
            hull = _num(r, "e_above_hull") if not math.isfinite(hull) else hull
            force = _num(r, "residual_max_force")
            force = _num(r, "max_force") if not math.isfinite(force) else force
            s += w["plausibility"] * (pl / 100 if math.isfinite(pl) else 0.0)
            s -= w["hull"] * (min(max(hull, 0.0), 1.0) / 0.1 if math.isfinite(hull) else 0.0)
            s -= w["force"] * (min(max(force, 0.0), 5.0) if math.isfinite(force) else 0.0)
            s += w["novelty"] * (1.0 if str(r.get("novel")) == "True" else 0.0)
        else:
            if str(r.get("stop_codon")) == "True":
                out[i] = -np.inf
                continue
            pl = _num(r, "elbo_percentile")
            pl = _num(r, "plausibility_percentile") if not math.isfinite(pl) else pl
            s += w["plausibility"] * (pl / 100 if math.isfinite(pl) else 0.0)
            s -= w["liability"] * (_num(r, "num_liabilities") if math.isfinite(_num(r, "num_liabilities")) else 0.0)
            d = _num(r, "edit_distance_wild_type")
            s -= w["distance"] * (d / 10 if math.isfinite(d) else 0.0)
        out[i] = s
    return out


def similarity(a, b, domain: str) -> float:
    """Crystals (pymatgen structures): 1 for the same reduced formula, else the cosine of element
    fractions. Proteins (strings): identity over the shorter length (gaps removed)."""
    if domain == "crystal":
        if a.composition.reduced_formula == b.composition.reduced_formula:
            return 1.0
        ca, cb = a.composition.fractional_composition, b.composition.fractional_composition
        els = set(ca) | set(cb)
        va = np.array([ca[e] for e in els])
        vb = np.array([cb[e] for e in els])
        return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
    a, b = a.replace("-", ""), b.replace("-", "")
    n = min(len(a), len(b))
    return sum(x == y for x, y in zip(a, b)) / n if n else 0.0


def duplicates(items: list, domain: str, order) -> list[int | None]:
    """For each item, the index of the better-ranked item it repeats (None: it is the first of its kind).

    ``order``: item indices best first. Crystals repeat each other when they share a reduced
    formula and pymatgen's ``StructureMatcher`` (ltol 0.2, stol 0.3, angle_tol 5; volumes scaled,
    as the novelty check) matches them: a 1% larger copy of a cell is the same candidate to a
    chemist. Proteins: the same sequence (gaps removed).
    """
    out: list[int | None] = [None] * len(items)
    if domain == "crystal":
        from designer.metrics import StructureIndex

        index = StructureIndex()
        for i in order:
            if items[i] is not None:
                out[i] = index.find(items[i])
                if out[i] is None:
                    index.add(items[i], i)
        return out
    firsts: dict[str, int] = {}
    for i in order:
        if items[i] is not None:
            key = items[i].replace("-", "")
            out[i] = firsts.get(key)
            firsts.setdefault(key, i)
    return out


def select(scores: np.ndarray, items: list, domain: str, n: int, diversity: float = 0.3,
           exclude: set | None = None) -> list[int]:
    """Indices of up to ``n`` items picked greedily by score minus ``diversity`` x max similarity to the
    picked; items in ``exclude`` (e.g. repeats of a better-ranked candidate) are never picked."""
    left = [i for i in range(len(items)) if np.isfinite(scores[i]) and i not in (exclude or set())]
    picked: list[int] = []
    closest = np.zeros(len(items))
    while left and len(picked) < n:
        i = max(left, key=lambda k: scores[k] - diversity * closest[k])
        picked.append(i)
        left.remove(i)
        for k in left:
            closest[k] = max(closest[k], similarity(items[k], items[i], domain))
    return picked
