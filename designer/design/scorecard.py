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
from designer.optimize.loop import Proposal
from designer.runs import Run


def score_rows(run: Run, proposals: list[Proposal], rows: list[dict], cfg: ScoringConfig, known=None,
               log: Callable[[str], None] = print) -> dict:
    """Augment ``rows`` (from ``candidate_rows``) in place; returns a summary for ``summary.json``."""
    from designer.scoring.rank import duplicates, readiness, select

    if not rows:
        return {}
    items = [proposals[r["_proposal"]].candidate.obj for r in rows]
    ids = [r["id"] for r in rows]
    summary: dict = {}
    if run.config.domain == "crystal":
        from designer.scoring.crystal_card import score_crystals
        from designer.scoring.hull import CAVEAT, HullReference
        from designer.scoring.score_files import default_hull_files

        hull = HullReference.from_files(default_hull_files(run)) if cfg.energies else None
        refs = known.items if known is not None else None
        log(f"scoring {len(items)} candidates (geometry, charge balance"
            + (f", CHGNet energies, relaxing the top {cfg.relax_top}" if cfg.energies else "") + ", novelty)")
        scored = score_crystals(items, ids, hull=hull, reference_structures=refs, relax_top=cfg.relax_top,
                                relax_steps=cfg.relax_steps, energies=cfg.energies, symprec=cfg.symprec,
                                log=lambda m: None)
        if hull is not None:
            summary["hull"] = f"{hull.description}; {CAVEAT}"
    else:
        from designer.generate_protein import reference_sequence
        from designer.scoring.protein_card import batch_diversity, score_proteins

        log(f"scoring {len(items)} candidates (liabilities, likelihood, distances)")
        from designer.scoring.model_columns import protein_columns

        scored = score_proteins(items, ids, wild_type=reference_sequence(run),
                                model_scores=protein_columns(run, str(run.path)))
        summary["batch_diversity_mean_edit_distance"] = batch_diversity(items)
    for row, sc in zip(rows, scored):
        for k, v in sc.items():
            if k not in ("id", "sequence", "_relaxed") and k not in row:
                row[k] = v
        if sc.get("_relaxed") is not None:
            row["_relaxed"] = sc["_relaxed"]
    scores = readiness(rows, run.config.domain, cfg.weights.model_dump())
    order = np.argsort(-scores, kind="stable")
    for k, i in enumerate(order):
        rows[i]["synthesis_score"] = round(float(scores[i]), 4) if np.isfinite(scores[i]) else None
        rows[i]["synthesis_rank"] = k + 1
    dup = duplicates(items, run.config.domain, order)
    for i, row in enumerate(rows):
        row["duplicate_of"] = ids[dup[i]] if dup[i] is not None else ""
    repeats = {i for i, d in enumerate(dup) if d is not None}
    picked = set(select(scores, items, run.config.domain, cfg.select or len(rows), cfg.diversity, exclude=repeats))
    for i, row in enumerate(rows):
        row["selected"] = i in picked
    summary.update(selected=len(picked), failed_gates=int((~np.isfinite(scores)).sum()), repeats=len(repeats),
                   weights=cfg.weights.model_dump(), diversity=cfg.diversity)
    return summary
