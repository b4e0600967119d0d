"""StructureMatcher-based metrics: reconstruction (CDVAE) and novelty / uniqueness (MatterGen-style)."""

from __future__ import annotations

import functools
import math
import warnings
from collections import Counter, defaultdict
from typing import Sequence

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from designer.parallel import parallel_map
from designer.metrics._validity import composition_validity, structure_validity

#: StructureMatcher tolerances of CDVAE's reconstruction benchmark.
RECON_MATCHER = {"stol": 0.5, "angle_tol": 10.0, "ltol": 0.3}
#: StructureMatcher tolerances for novelty and uniqueness (MatterGen's, stricter).
NOVELTY_MATCHER = {"stol": 0.3, "angle_tol": 5.0, "ltol": 0.2}


@functools.lru_cache(maxsize=16)
def _matcher(stol: float, angle_tol: float, ltol: float):
    return StructureMatcher(stol=stol, angle_tol=angle_tol, ltol=ltol)


def match_structures(
    pred: Structure | None,
    true: Structure,
    stol: float = 0.5,
    angle_tol: float = 10,
    ltol: float = 0.3,
) -> float | None:
    """RMS displacement between a predicted and a true crystal, or None when they do not match.

    Args:
        pred: predicted structure (None -> None).
        true: reference structure.
        stol, angle_tol, ltol: pymatgen ``StructureMatcher`` tolerances (CDVAE's defaults).

    Returns:
        ``StructureMatcher(...).get_rms_dist(pred, true)[0]`` (normalised by (V/N)^(1/3), after
        pymatgen's default volume scaling) as a float, or None when there is no match or the
        matcher raises.
    """
    if pred is None or true is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore")
            rms = _matcher(float(stol), float(angle_tol), float(ltol)).get_rms_dist(pred, true)
    except Exception:
        return None
    if rms is None:
        return None
    value = float(rms[0])
    return value if math.isfinite(value) else None


def _volume_per_atom(s: Structure) -> float:
    try:
        return float(s.volume) / len(s)
    except Exception:
        return math.nan


def _recon_one(pair: tuple[Structure | None, Structure]) -> tuple[bool, bool, float | None, float]:
    """``(pred valid, true valid, rms or None, |V/N pred - V/N true| or NaN)`` for one pair."""
    pred, true = pair
    true_valid = structure_validity(true) and composition_validity(true)
    if pred is None:
        return False, true_valid, None, math.nan
    pred_valid = structure_validity(pred) and composition_validity(pred)
    rms = match_structures(pred, true, **RECON_MATCHER)
    dv = abs(_volume_per_atom(pred) - _volume_per_atom(true))
    return pred_valid, true_valid, rms, dv


def reconstruction_metrics(
    preds: Sequence[Structure | None],
    trues: Sequence[Structure],
    n_jobs: int = 1,
) -> dict:
    """CDVAE reconstruction metrics for decoded test crystals (DESIGN section 5).

    Args:
        preds: N decoded structures, ``None`` where decoding failed.
        trues: the N test structures, same order.
        n_jobs: worker processes for the StructureMatcher calls.

    Returns:
        dict with ``match_rate`` (valid and matching preds / N), ``rmse`` (mean rms over those
        matches, NaN if none), ``ceiling`` (fraction of trues valid themselves),
        ``match_rate_ungated`` / ``rmse_ungated`` (same without the validity gate),
        ``volume_per_atom_mae`` (A^3/atom, mean over non-None preds, NaN if none) and ``n``.
    """
    preds = list(preds)
    trues = list(trues)
    if len(preds) != len(trues):
        raise ValueError(f"got {len(preds)} predictions for {len(trues)} test crystals; pass one per crystal")
    n = len(trues)
    rows = parallel_map(_recon_one, list(zip(preds, trues)), n_jobs=n_jobs)
    gated = [r[2] for r in rows if r[0] and r[2] is not None]
    ungated = [r[2] for r in rows if r[2] is not None]
    dvs = [r[3] for r in rows if math.isfinite(r[3])]
    return {
        "match_rate": len(gated) / n if n else math.nan,
        "rmse": float(np.mean(gated)) if gated else math.nan,
        "ceiling": sum(r[1] for r in rows) / n if n else math.nan,
        "match_rate_ungated": len(ungated) / n if n else math.nan,
        "rmse_ungated": float(np.mean(ungated)) if ungated else math.nan,
        "volume_per_atom_mae": float(np.mean(dvs)) if dvs else math.nan,
        "n": n,
    }


# --------------------------------------------------------------------------- novelty / uniqueness


def _can_prereduce(matcher) -> bool:
    """Whether this pymatgen exposes what ``group_structures`` uses to reduce each structure once."""
    return hasattr(matcher, "_process_species") and hasattr(matcher, "_get_reduced_structure")


def _reduce(matcher, s: Structure):
    """The matcher's primitive, Niggli-reduced form of ``s`` (what ``fit`` would compute), or None."""
    if not _can_prereduce(matcher):
        return s
    try:
        (s,) = matcher._process_species([s])
        return matcher._get_reduced_structure(s, matcher._primitive_cell, niggli=True)
    except Exception:
        return None


def _fit(matcher, a, b) -> bool:
    """``matcher.fit(a, b)`` on pre-reduced structures; False when pymatgen raises."""
    try:
        if _can_prereduce(matcher):
            return bool(matcher.fit(a, b, skip_structure_reduction=True))
        return bool(matcher.fit(a, b))
    except Exception:
        return False


def reduced_size(matcher, reduced) -> int:
    """The bucket of a reduced structure: two structures in different buckets never match.

    With pymatgen's defaults (no supercells, no subsets) a match maps the sites of the reduced
    (primitive, Niggli) cells one to one, so different site counts rule a match out before any
    lattice search. Where this pymatgen cannot pre-reduce, everything shares bucket 0.
    """
    return len(reduced) if _can_prereduce(matcher) and not (matcher._supercell or matcher._subset) else 0


def _reduce_quietly(matcher, s: Structure):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        return _reduce(matcher, s)


def reduce_all(structures: Sequence[Structure], matcher, n_jobs: int = 1) -> list:
    """``matcher``'s primitive Niggli cell of each structure (None where it fails), over ``n_jobs`` processes."""
    return parallel_map(functools.partial(_reduce_quietly, matcher), list(structures), n_jobs=n_jobs) \
        if structures else []


def _novelty_uniqueness_bucket(task) -> tuple[list[bool], list[bool]]:
    """``(novel flags, unique flags)`` for pre-reduced samples of one reduced formula and site count."""
    red_s, red_t = task
    matcher = _matcher(**NOVELTY_MATCHER)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        novel = [not any(_fit(matcher, r, t) for t in red_t) for r in red_s]
        # Greedy grouping as pymatgen's group_structures: each unmatched sample founds a
        # group and collects the remaining samples that match it.
        group_size = [0] * len(red_s)
        unmatched = list(range(len(red_s)))
        while unmatched:
            head, rest = unmatched[0], unmatched[1:]
            members, remaining = [head], []
            for j in rest:
                (members if _fit(matcher, red_s[head], red_s[j]) else remaining).append(j)
            for m in members:
                group_size[m] = len(members)
            unmatched = remaining
    return novel, [g == 1 for g in group_size]


class StructureIndex:
    """Labelled structures grouped by reduced formula; ``find`` returns the label of the first stored
    structure that the novelty matcher (``NOVELTY_MATCHER``, volumes scaled) calls the same, or None.

    Structures are reduced once, when first compared, so remembering a whole training set is cheap.
    """

    def __init__(self):
        self._groups: dict[str, list[list]] = defaultdict(list)  # formula -> [[label, structure, reduced]]
        self._matcher = _matcher(**NOVELTY_MATCHER)

    def add(self, structure: Structure, label) -> None:
        f = _formula(structure)
        if f is not None:
            self._groups[f].append([label, structure, None])

    def find(self, structure: Structure):
        f = _formula(structure)
        if f not in self._groups:
            return None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore")
            r = _reduce(self._matcher, structure)
            if r is None:
                return None
            size = reduced_size(self._matcher, r)
            for entry in self._groups[f]:
                if entry[2] is None:
                    entry[2] = _reduce(self._matcher, entry[1]) or False
                if entry[2] is not False and reduced_size(self._matcher, entry[2]) == size \
                        and _fit(self._matcher, entry[2], r):
                    return entry[0]
        return None


def _formula(s: Structure) -> str | None:
    try:
        return s.composition.reduced_formula
    except Exception:
        return None


# Below these sizes a step takes less than the ~2 s a worker pool needs to start, so it runs in this
# process: cells to reduce (about 5 ms each) and candidate pairs to match (5-40 ms each).
MIN_POOL_REDUCTIONS = 400
MIN_POOL_PAIRS = 100


def novelty_uniqueness(
    samples: Sequence[Structure],
    train: Sequence[Structure],
    n_jobs: int = 1,
    return_flags: bool = False,
) -> dict:
    """MatterGen-style novelty and uniqueness of generated crystals.

    Uses ``StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)``. Structures are compared only
    within the same reduced formula. A sample is novel when no training structure of its
    formula matches it; it is unique when no other sample joins its group under greedy
    grouping (as pymatgen ``group_structures``: each ungrouped sample collects the remaining
    samples that match it), i.e. every duplicate, the first copy included, is non-unique.

    Args:
        samples: S structures to judge (pass only valid ones).
        train: the training structures.
        n_jobs: worker processes (work is split by reduced formula).
        return_flags: also return per-sample boolean arrays ``novel`` and ``unique`` ([S]).

    Returns:
        dict with ``novel_rate``, ``unique_rate``, ``novel_unique_rate`` (fractions of S, NaN
        when S = 0) and ``n`` = S (plus ``novel``/``unique`` arrays if ``return_flags``).
    """
    samples = list(samples)
    n = len(samples)
    formulas = [_formula(s) for s in samples]
    wanted = {f for f in formulas if f is not None}
    train = [t for t in train if _formula(t) in wanted]
    matcher = _matcher(**NOVELTY_MATCHER)
    # A sample alone in its formula (no other sample, no training structure) is novel and unique
    # as it is, so only the others are reduced: each once (in parallel). Samples are then compared
    # only within their reduced formula and reduced site count, which splits one-formula sets
    # (carbon) into independent tasks without changing any flag.
    count = Counter(formulas)
    train_formulas = {_formula(t) for t in train}
    compared = [i for i, f in enumerate(formulas) if f is not None and (count[f] > 1 or f in train_formulas)]
    red_all = reduce_all([samples[i] for i in compared] + train, matcher,
                         n_jobs=n_jobs if len(compared) + len(train) >= MIN_POOL_REDUCTIONS else 1)
    red_s: list = [None] * n
    for i, r in zip(compared, red_all):
        red_s[i] = r
    red_t = red_all[len(compared):]
    sample_buckets: dict[tuple, list[int]] = defaultdict(list)
    for i, (f, r) in enumerate(zip(formulas, red_s)):
        if f is not None and r is not None:  # a structure that cannot be reduced is novel and unique
            sample_buckets[(f, reduced_size(matcher, r))].append(i)
    train_buckets: dict[tuple, list] = defaultdict(list)
    for t, r in zip(train, red_t):
        if r is not None:
            train_buckets[(_formula(t), reduced_size(matcher, r))].append(r)
    novel = np.ones(n, dtype=bool)
    unique = np.ones(n, dtype=bool)
    # Largest tasks first so that a pool's workers finish together.
    keys = sorted(sample_buckets, key=lambda k: -len(sample_buckets[k]) * (len(sample_buckets[k]) + len(train_buckets.get(k, ()))))
    tasks = [([red_s[i] for i in sample_buckets[k]], train_buckets.get(k, [])) for k in keys]
    pairs = sum(len(a) * (len(a) + len(b)) for a, b in tasks)
    n_jobs = n_jobs if pairs >= MIN_POOL_PAIRS else 1
    results = parallel_map(_novelty_uniqueness_bucket, tasks, n_jobs=n_jobs, chunk_size=1 if n_jobs > 1 else None)
    for k, (nov, uni) in zip(keys, results):
        idx = sample_buckets[k]
        novel[idx] = nov
        unique[idx] = uni
    out = {
        "novel_rate": float(novel.mean()) if n else math.nan,
        "unique_rate": float(unique.mean()) if n else math.nan,
        "novel_unique_rate": float((novel & unique).mean()) if n else math.nan,
        "n": n,
    }
    if return_flags:
        out["novel"] = novel
        out["unique"] = unique
    return out
