"""Accepted proposals as rows (ranked, described by their domain) and their files: the domain's (CIF, FASTA),
a ranked ``candidates.csv`` and ``summary.json``. Scoring happens before (``designer.workflow.scorecard``):
export only writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from designer.domains import get_domain
from designer.domains.base import prediction_columns
from designer.io.atomic import atomic_write_text
from designer.io.crystal_files import write_table
from designer.optimize.loop import Objective, Proposal, non_dominated
from designer.runs import Run


def candidate_rows(run: Run, proposals: list[Proposal], objective: Objective, prefix: str = "cand") -> list[dict]:
    """One row per proposal, best objective first: id, rank, scores and the object's description.

    With several objectives the batch's Pareto front comes first (``pareto_front``), each part's
    value is a column ``objective_<property>``, and ``objective`` is their scale-normalised sum.
    """
    domain = get_domain(run)
    names = list(run.config.data.properties)
    front = None
    if objective.multi and proposals:  # several objectives: the batch's Pareto front first, then the scalar
        front = non_dominated(np.stack([p.objectives for p in proposals]))
    order = sorted(range(len(proposals)),
                   key=lambda i: (0 if front is None or front[i] else 1, -proposals[i].objective))
    width = len(str(max(len(proposals) - 1, 0)))
    rows = []
    for rank, i in enumerate(order):
        p = proposals[i]
        row = {"id": f"{prefix}_{rank:0{width}d}", "rank": rank + 1, "round": p.round + 1,
               "objective": round(p.objective, 5), "plausibility_percentile": round(p.plausibility, 2)}
        if front is not None:
            row["pareto_front"] = bool(front[i])
            for o, v in zip(objective.parts, p.objectives):
                row[f"objective_{o.property}"] = round(float(v), 5)
        row.update(prediction_columns(names, p.predicted[None], p.std[None], 0))
        row.update(domain.candidate_columns(run, p.candidate.obj, row["id"], p.candidate.info))
        row["_proposal"] = i
        rows.append(row)
    return rows


def export_candidates(run: Run, proposals: list[Proposal], rows: list[dict], out: Path, summary: dict,
                      symprec: float = 0.1) -> list[dict]:
    """Write the candidates of ``rows`` (from ``candidate_rows``, scored or not): the domain's files, a ranked
    ``candidates.csv`` and ``summary.json``; returns the rows.

    Each row's ``_proposal`` is the index of its proposal in ``proposals``; private columns (``_...``)
    are not written. Crystals get a P1 CIF (``<id>.cif``), a symmetrised one (``<id>_sym.cif``,
    ``symprec``) and, when relaxed, the CHGNet-relaxed one (``<id>_relaxed.cif``); sequences
    ``candidates.fasta``.
    """
    out = Path(out)
    get_domain(run).write_candidates(run, rows, [proposals[row["_proposal"]].candidate.obj for row in rows], out,
                                     symprec)
    write_table([{k: v for k, v in row.items() if not k.startswith("_")} for row in rows], out / "candidates.csv")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=_plain) + "\n")
    return rows


def _plain(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)
