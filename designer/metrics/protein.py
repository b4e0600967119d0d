"""Protein metrics on plain token arrays or strings (never the model): validity, accuracy, edit distance.

Tokens: 0-19 amino acids (``designer.data.protein_io.AMINO_ACIDS`` order), 20 gap, 21 unknown (masked).
"""

from __future__ import annotations

import numpy as np
from Bio.Align import PairwiseAligner
from scipy.stats import spearmanr

from designer.data.protein_io import GAP_INDEX, UNKNOWN_INDEX  # noqa: F401  (re-exported)

DESCRIPTIONS = {
    "property.spearman": "Spearman rho between the property head's prediction (at the posterior mean) and the measured value",
    "zero_shot.spearman": "Spearman rho between the ELBO (beta = 1, averaged over posterior samples) and the measured value",
    "reconstruction.residue_accuracy": "fraction of unmasked positions decoded (posterior mean, argmax) to the input residue",
    "reconstruction.mutated_position_accuracy": "the same, only at positions where the input differs from the wild type "
                                                "(residue substitutions; positions lost to a stop codon excluded)",
    "generation.validity": "fraction of prior samples with no gap where full-length training sequences never have one "
                           "(i.e. no premature stop and no deletion inside the body)",
    "generation.mean_edit_distance_to_wt": "mean Levenshtein distance of the samples (gaps removed) to the wild type",
}


def sequence_validity(tokens: np.ndarray, gap_allowed: np.ndarray) -> np.ndarray:
    """``n`` bool: a sequence is valid when every gap lies in a column where the alignment allows one.

    Args:
        tokens: ``n x L``.
        gap_allowed: ``L`` bool (columns where full-length training sequences have gaps).
    """
    tokens = np.asarray(tokens)
    return ~((tokens == GAP_INDEX) & ~np.asarray(gap_allowed)[None, :]).any(1)


def residue_accuracy(pred: np.ndarray, true: np.ndarray, positions: np.ndarray | None = None) -> float:
    """Fraction of positions (``positions`` mask, default all) with ``pred == true``, masked (unknown) ones excluded."""
    pred, true = np.asarray(pred), np.asarray(true)
    mask = true != UNKNOWN_INDEX
    if positions is not None:
        mask &= np.asarray(positions)
    n = mask.sum()
    return float(((pred == true) & mask).sum() / n) if n else float("nan")


def substituted_positions(tokens: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``n x L`` bool: residue positions that differ from the reference (gaps and masked positions excluded)."""
    tokens = np.asarray(tokens)
    return (tokens != np.asarray(reference)[None, :]) & (tokens < GAP_INDEX)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (unit substitution, insertion and deletion costs)."""
    return int(round(-_unit_aligner().score(a, b))) if a and b else max(len(a), len(b))


_ALIGNER = None


def _unit_aligner():
    global _ALIGNER
    if _ALIGNER is None:
        _ALIGNER = PairwiseAligner(mode="global", match_score=0.0, mismatch_score=-1.0, gap_score=-1.0)
    return _ALIGNER


def edit_distances(seqs: list[str], target: str) -> np.ndarray:
    """``n`` Levenshtein distances of each sequence to ``target``."""
    return np.array([edit_distance(s, target) for s in seqs], dtype=np.int64)


def mean_pairwise_edit_distance(seqs: list[str], max_pairs: int = 5000, seed: int = 0) -> float:
    """Diversity of a batch: mean Levenshtein distance over (up to ``max_pairs`` seeded random) pairs."""
    n = len(seqs)
    if n < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if len(pairs) > max_pairs:
        pairs = [pairs[k] for k in rng.choice(len(pairs), max_pairs, replace=False)]
    return float(np.mean([edit_distance(seqs[i], seqs[j]) for i, j in pairs]))


def spearman(pred: np.ndarray, true: np.ndarray) -> float:
    """Spearman rank correlation over the finite pairs."""
    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    ok = np.isfinite(pred) & np.isfinite(true)
    if ok.sum() < 3:
        return float("nan")
    return float(spearmanr(pred[ok], true[ok]).statistic)
