"""Write accepted proposals: CIF (crystals) or FASTA (proteins), a ranked candidates.csv and summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from designer.io.atomic import atomic_write_text
from designer.io.crystal_files import write_cif, write_table
from designer.optimize.loop import Objective, Proposal
from designer.runs import Run


def candidate_rows(run: Run, proposals: list[Proposal], objective: Objective, prefix: str = "cand") -> list[dict]:
    """One row per proposal, best objective first: id, rank, scores and the object's description.

    With several objectives the batch's Pareto front comes first (``pareto_front``), each part's
    value is a column ``objective_<property>``, and ``objective`` is their scale-normalised sum.
    """
    front = None
    if objective.multi and proposals:  # several objectives: the batch's Pareto front first, then the scalar
        from designer.optimize.loop import non_dominated

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
        for j, name in enumerate(run.config.data.properties):
            row[f"pred_{name}"] = round(float(p.predicted[j]), 5)
            row[f"pred_{name}_std"] = round(float(p.std[j]), 5)
        if run.config.domain == "crystal":
            s = p.candidate.obj
            row.update(formula=s.composition.reduced_formula, num_atoms=len(s), volume=round(s.volume, 3),
                       density=round(s.density, 4), file=f"{row['id']}.cif")
        else:
            from designer.data.protein_dataset import describe_mutations, encode_sequences

            seq = p.candidate.obj
            base = run.config.data.sequences.index_base
            muts = describe_mutations(encode_sequences([seq])[0], run.model.plugin.reference.numpy(),
                                      1 if base is None else base)
            row.update(sequence=seq.replace("-", ""), mutations=muts, num_mutations=p.candidate.info.get("mutations"))
        row["_proposal"] = i
        rows.append(row)
    return rows


def export_candidates(run: Run, proposals: list[Proposal], out: Path, objective: Objective, summary: dict,
                      prefix: str = "cand", scoring=None, known=None, log=print) -> list[dict]:
    """Write the candidates (``candidates.csv``, CIFs or ``candidates.fasta``, ``summary.json``); returns the rows.

    Each row's ``_proposal`` is the index of its proposal in ``proposals``. With ``scoring`` (a
    ``ScoringConfig`` that is enabled) the scorecard columns, ``synthesis_score``/``synthesis_rank``
    and ``selected`` are added first. Crystals get a P1 CIF (``<id>.cif``), a symmetrised one
    (``<id>_sym.cif``) and, when relaxed, the CHGNet-relaxed one (``<id>_relaxed.cif``).
    """
    out = Path(out)
    rows = candidate_rows(run, proposals, objective, prefix)
    if scoring is not None and scoring.enabled:
        from designer.design.scorecard import score_rows

        summary = {**summary, "scoring": score_rows(run, proposals, rows, scoring, known=known, log=log)}
    symprec = scoring.symprec if scoring is not None else 0.1
    if run.config.domain == "crystal":
        for row in rows:
            s = proposals[row["_proposal"]].candidate.obj
            write_cif(s, out / row["file"])
            try:
                write_cif(s, out / f"{row['id']}_sym.cif", symprec=symprec)
                row["file_symmetrised"] = f"{row['id']}_sym.cif"
            except Exception:  # symmetry analysis failed: the P1 file stands alone
                row["file_symmetrised"] = ""
            relaxed = row.pop("_relaxed", None)
            if relaxed is not None:
                write_cif(relaxed, out / f"{row['id']}_relaxed.cif")
    else:
        from designer.io.sequence_files import write_fasta

        keep = ("objective", "plausibility_percentile", "rank", "synthesis_score", "synthesis_rank", "selected",
                "num_liabilities", "elbo_percentile", "edit_distance_wild_type")
        keep = tuple(k for k in keep if rows and k in rows[0]) + \
            (tuple(k for k in rows[0] if k.startswith("pred_")) if rows else ())
        write_fasta([(row["id"], row["sequence"], {k: row[k] for k in keep}) for row in rows], out / "candidates.fasta")
    write_table([{k: v for k, v in row.items() if not k.startswith("_")} for row in rows], out / "candidates.csv")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=_plain) + "\n")
    return rows


def _plain(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)
