"""The protein scorecard: liabilities, distances, likelihood and predictions per sequence.

Liabilities (pure functions of the sequence): a stop codon, an odd number of cysteines (one left
unpaired), N-glycosylation motifs N-X-S/T with X != P, deamidation-prone NG, and hydrophobic
stretches of at least ``hydrophobic_run`` residues from AILMFVW. With a run: the ELBO and its
percentile among the training sequences, Hamming distance to the nearest training sequence in
the run's alignment, the property head's prediction ± std and the plausibility percentile.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

from designer.metrics.protein import edit_distance, mean_pairwise_edit_distance

HYDROPHOBIC = set("AILMFVW")
GLYCOSYLATION = re.compile(r"(?=(N[^P][ST]))")


def liabilities(seq: str, hydrophobic_run: int = 7) -> dict:
    """``{"stop_codon", "cysteines", "odd_cysteines", "n_glycosylation", "deamidation_ng",
    "longest_hydrophobic_run", "liabilities"}``; the last is a readable list with 1-based positions."""
    s = seq.upper().replace("-", "")
    stop = "*" in s[:-1]  # a terminal stop ends the protein; an internal one truncates it
    glyco = [m.start() + 1 for m in GLYCOSYLATION.finditer(s)]
    ng = [m.start() + 1 for m in re.finditer(r"(?=NG)", s)]
    longest, run, end = 0, 0, 0
    for i, a in enumerate(s):
        run = run + 1 if a in HYDROPHOBIC else 0
        if run > longest:
            longest, end = run, i + 1
    n_cys = s.count("C")
    notes = []
    if stop:
        notes.append(f"stop codon at {s.index('*') + 1}")
    if n_cys % 2:
        notes.append(f"odd cysteine count ({n_cys})")
    if glyco:
        notes.append("N-glycosylation motif at " + ",".join(map(str, glyco)))
    if ng:
        notes.append("deamidation NG at " + ",".join(map(str, ng)))
    if longest >= hydrophobic_run:
        notes.append(f"hydrophobic stretch of {longest} at {end - longest + 1}-{end}")
    return {"stop_codon": bool(stop), "cysteines": n_cys, "odd_cysteines": bool(n_cys % 2),
            "n_glycosylation": len(glyco), "deamidation_ng": len(ng), "longest_hydrophobic_run": longest,
            "liabilities": "; ".join(notes), "num_liabilities": int(bool(stop)) + int(bool(n_cys % 2)) + len(glyco)
            + len(ng) + int(longest >= hydrophobic_run)}


def liability_positions(aligned: str, hydrophobic_run: int = 7) -> dict[int, str]:
    """1-based positions in the aligned sequence (``-`` = gap) of each liability ``liabilities`` lists:
    {position: what is there}, for marking an alignment."""
    where = [i + 1 for i, a in enumerate(aligned) if a != "-"]  # ungapped index -> aligned position
    s = aligned.upper().replace("-", "")
    marks: dict[int, str] = {}

    def put(k: int, text: str) -> None:  # k: 0-based in the ungapped sequence
        if 0 <= k < len(where):
            marks[where[k]] = f"{marks[where[k]]}; {text}" if where[k] in marks else text

    if "*" in s[:-1]:
        put(s.index("*"), "stop codon")
    for m in GLYCOSYLATION.finditer(s):
        for j in range(3):
            put(m.start() + j, "N-glycosylation motif")
    for m in re.finditer(r"(?=NG)", s):
        put(m.start(), "deamidation NG")
        put(m.start() + 1, "deamidation NG")
    run = 0
    for i, a in enumerate(s + "."):
        if a in HYDROPHOBIC:
            run += 1
            continue
        if run >= hydrophobic_run:
            for j in range(i - run, i):
                put(j, f"hydrophobic stretch of {run}")
        run = 0
    return marks


def hamming_to_nearest(tokens: np.ndarray, reference_tokens: np.ndarray, chunk: int = 256) -> np.ndarray:
    """``n`` Hamming distances of ``n x L`` aligned tokens to the nearest row of ``m x L`` references."""
    tokens, ref = np.asarray(tokens), np.asarray(reference_tokens)
    out = np.empty(len(tokens), dtype=np.int64)
    for s in range(0, len(tokens), chunk):
        d = (tokens[s:s + chunk, None, :] != ref[None, :, :]).sum(-1)
        out[s:s + chunk] = d.min(1)
    return out


def score_proteins(seqs: list[str], ids: list[str], wild_type: str | None = None,
                   model_scores: Callable[[list[str]], list[dict]] | None = None,
                   hydrophobic_run: int = 7) -> list[dict]:
    """One row per sequence (input order): length, liabilities, edit distance to ``wild_type``, model columns."""
    rows = []
    for sid, seq in zip(ids, seqs):
        row = {"id": sid, "sequence": seq.replace("-", ""), "length": len(seq.replace("-", ""))}
        row.update(liabilities(seq, hydrophobic_run))
        if wild_type:
            row["edit_distance_wild_type"] = edit_distance(row["sequence"], wild_type)
        rows.append(row)
    if model_scores is not None:
        for row, extra in zip(rows, model_scores(seqs)):
            row.update(extra)
    return rows


def batch_diversity(seqs: list[str]) -> float:
    """Mean pairwise edit distance within the batch."""
    return mean_pairwise_edit_distance([s.replace("-", "") for s in seqs])
