"""Score a design's candidates for synthesis (``scoring:`` section) and rank them for the lab.

Adds the scorecard columns (``designer.scoring``) to each candidate row, a ``synthesis_score``
(``designer.scoring.rank.readiness``), its ``synthesis_rank`` and whether the diversity-aware
batch selection ``selected`` it; ``duplicate_of`` names the better-ranked candidate a row repeats
(never selected). Rows keep their objective order (``rank``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from designer.config import ScoringConfig
from designer.domains import get_domain
from designer.optimize.loop import Proposal
from designer.runs import Run
from designer.scoring.rank import readiness, select


def score_rows(run: Run, proposals: list[Proposal], rows: list[dict], cfg: ScoringConfig, known=None,
               plausibility=None, log: Callable[[str], None] = print) -> dict:
    """Augment ``rows`` (from ``candidate_rows``) in place; returns a summary for ``summary.json``.

    ``known``: the run's ``KnownData`` (novelty reference); ``plausibility``: the design's fitted density.
    """
    if not rows:
        return {}
    domain = get_domain(run)
    items = [proposals[r["_proposal"]].candidate.obj for r in rows]
    ids = [r["id"] for r in rows]
    scored, summary = domain.score_candidates(run, items, ids, cfg, known=known, log=log, plausibility=plausibility)
    for row, sc in zip(rows, scored):
        for k, v in sc.items():
            if k not in ("id", "sequence", "_relaxed") and k not in row:
                row[k] = v
        if sc.get("_relaxed") is not None:
            row["_relaxed"] = sc["_relaxed"]
    scores = readiness(rows, domain, cfg.weights.model_dump())
    order = np.argsort(-scores, kind="stable")
    for k, i in enumerate(order):
        rows[i]["synthesis_score"] = round(float(scores[i]), 4) if np.isfinite(scores[i]) else None
        rows[i]["synthesis_rank"] = k + 1
    dup = domain.duplicates(items, order)
    for i, row in enumerate(rows):
        row["duplicate_of"] = ids[dup[i]] if dup[i] is not None else ""
    repeats = {i for i, d in enumerate(dup) if d is not None}
    picked = set(select(scores, items, domain, cfg.select or len(rows), cfg.diversity, exclude=repeats))
    for i, row in enumerate(rows):
        row["selected"] = i in picked
    summary.update(selected=len(picked), failed_gates=int((~np.isfinite(scores)).sum()), repeats=len(repeats),
                   weights=cfg.weights.model_dump(), diversity=cfg.diversity)
    return summary
