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
weights are the pipeline's ``scoring.weights``. The domain terms and gates are each domain's
``readiness`` (``designer.domains.<name>``); this module only combines them and selects. ``select`` then picks a batch greedily by
``readiness - diversity * (similarity to the closest already picked)`` (maximal marginal relevance):
crystals are similar when they share a reduced formula (1) or by the cosine of their element
fractions; proteins by sequence identity (``Domain.similarity``). A candidate that repeats a
better-ranked one (``Domain.duplicates``: the same structure under StructureMatcher, or the same
sequence) is never picked.
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


def readiness(rows: list[dict], domain, weights: dict | None = None) -> np.ndarray:
    """``n`` readiness scores (-inf for candidates that fail a gate); see the module docstring.

    ``domain``: the rows' ``designer.domains.base.Domain``, which adds its own terms to the objective's.
    """
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    z_obj = _z([_num(r, "objective") for r in rows])
    out = np.zeros(len(rows))
    for i, r in enumerate(rows):
        terms = domain.readiness(r, w)
        out[i] = -np.inf if terms is None else w["objective"] * z_obj[i] + terms
    return out


def select(scores: np.ndarray, items: list, domain, n: int, diversity: float = 0.3,
           exclude: set | None = None) -> list[int]:
    """Indices of up to ``n`` items picked greedily by score minus ``diversity`` x max similarity to the
    picked (``domain.similarity``); items in ``exclude`` (e.g. repeats of a better-ranked candidate) are
    never picked."""
    left = [i for i in range(len(items)) if np.isfinite(scores[i]) and i not in (exclude or set())]
    picked: list[int] = []
    closest = np.zeros(len(items))
    while left and len(picked) < n:
        i = max(left, key=lambda k: scores[k] - diversity * closest[k])
        picked.append(i)
        left.remove(i)
        for k in left:
            closest[k] = max(closest[k], domain.similarity(items[k], items[i]))
    return picked
