"""Uniqueness and novelty as MatterGen defines them (Zeni et al., Nature 2025; its evaluation code).

Two matchers, both ``StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5, primitive_cell=True, scale=True)``:

- **ordered**: structures with the same reduced formula that the plain matcher fits;
- **disordered** (MatterGen's default): as ordered, and when that fails, elements of one structure
  that could substitute for each other (a modified Hume-Rothery rule: relative atomic-radius
  difference <= 0.3 and electronegativity difference <= 1.0) are merged into partial occupancies and
  compared again with pymatgen's ``OrderDisorderElementComparator`` (supercells and subsets allowed),
  so an ordered approximant of an alloy matches the alloy.

unique = number of distinct groups (greedy grouping: a sample that matches no earlier group founds
one) / valid samples; the stricter variant counts every member of a duplicate group as not unique.
novel = samples matching no training crystal / valid samples. Samples are compared only within
their reduced formula (both matchers require it for ordered structures).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections import defaultdict
from itertools import combinations
from typing import Sequence

import numpy as np
from pymatgen.analysis.structure_matcher import OrderDisorderElementComparator, StructureMatcher
from pymatgen.core import Structure

from designer.metrics._matching import _fit, reduce_all, reduced_size
from designer.parallel import parallel_map

TOLERANCES = {"ltol": 0.2, "stol": 0.3, "angle_tol": 5.0}
RADIUS_THRESHOLD = 0.3
ELECTRONEGATIVITY_THRESHOLD = 1.0


@functools.lru_cache(maxsize=None)
def _ordered() -> StructureMatcher:
    return StructureMatcher(**TOLERANCES, primitive_cell=True, scale=True, attempt_supercell=False, allow_subset=False)


@functools.lru_cache(maxsize=None)
def _disordered() -> StructureMatcher:
    return StructureMatcher(**TOLERANCES, primitive_cell=True, scale=True, attempt_supercell=True, allow_subset=True,
                            comparator=OrderDisorderElementComparator())


def substitutable(a, b) -> bool:
    """Whether two elements could share a site: radii within 30 % (of their mean) and |dX| <= 1.0."""
    ra, rb = a.atomic_radius, b.atomic_radius
    if ra is None or rb is None or not a.X or not b.X or math.isnan(a.X) or math.isnan(b.X):
        return False
    return abs(ra - rb) / ((ra + rb) / 2) <= RADIUS_THRESHOLD and abs(a.X - b.X) <= ELECTRONEGATIVITY_THRESHOLD


def disordered_version(structure: Structure) -> Structure | None:
    """``structure`` with each group of mutually substitutable elements merged into partial occupancies
    (in the ratio of their amounts), or None when no two of its elements could substitute."""
    elements = list(structure.composition.element_composition)
    groups: list[set] = []
    for a, b in combinations(elements, 2):
        if substitutable(a, b):
            hit = [g for g in groups if a in g or b in g]
            merged = set().union({a, b}, *hit)
            groups = [g for g in groups if g not in hit] + [merged]
    if not groups:
        return None
    comp = structure.composition.element_composition
    out = structure.copy()
    mapping = {}
    for g in groups:
        total = sum(comp[e] for e in g)
        occupancy = {e.symbol: comp[e] / total for e in g}
        for e in g:
            mapping[e.symbol] = occupancy
    out.replace_species(mapping)
    return out


def _plain(s: Structure) -> Structure:
    return s.copy().remove_oxidation_states()


def _ordered_fit(a: Structure, b: Structure) -> bool:
    """Ordered match of two structures without oxidation states."""
    try:
        return a.composition.reduced_formula == b.composition.reduced_formula and bool(_ordered().fit(a, b))
    except Exception:
        return False


def _disordered_fit(da: Structure | None, b: Structure) -> bool:
    """The disordered matcher's second try: ``da`` (``disordered_version`` of the first structure) against ``b``."""
    try:
        return da is not None and bool(_disordered().fit(da, b))
    except Exception:
        return False


def fit(a: Structure, b: Structure, disordered: bool = True) -> bool:
    """MatterGen's match of two ordered structures (``disordered=False``: the ordered matcher only)."""
    a, b = _plain(a), _plain(b)
    if a.composition.reduced_formula != b.composition.reduced_formula:
        return False
    if _ordered_fit(a, b):
        return True
    return disordered and _disordered_fit(disordered_version(a), b)


def _judge_formula(task) -> tuple[list[int], list[bool], list[bool], list[bool]]:
    """For the samples of one formula: group label, strict-unique flag, novel (disordered), novel (ordered).

    ``task`` = ``(samples, train, reduced samples, reduced train)``: plain structures and the ordered
    matcher's pre-reduced forms of them (None where reduction failed, which no ordered fit survives).
    """
    samples, train, red_s, red_t = task
    matcher = _ordered()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        # one formula throughout, so fit's formula gate always passes; oxidation states, reduced cells
        # and the disordered version of each sample are prepared once, not per pair
        merged = [disordered_version(s) for s in samples]
        size_s = [None if r is None else reduced_size(matcher, r) for r in red_s]
        size_t = [None if r is None else reduced_size(matcher, r) for r in red_t]

        def ordered(ra, size_a, rb, size_b) -> bool:
            return ra is not None and rb is not None and size_a == size_b and _fit(matcher, ra, rb)

        def same(i: int, h: int) -> bool:
            return ordered(red_s[i], size_s[i], red_s[h], size_s[h]) or _disordered_fit(merged[i], samples[h])

        heads: list[int] = []
        label = [0] * len(samples)
        for i in range(len(samples)):
            for g, h in enumerate(heads):
                if same(i, h):  # the newcomer against the group's founder, as MatterGen orders it
                    label[i] = g
                    break
            else:
                label[i] = len(heads)
                heads.append(i)
        sizes = np.bincount(label, minlength=len(heads))
        strict = [bool(sizes[g] == 1) for g in label]
        novel_ordered = [not any(ordered(red_s[i], size_s[i], rt, st) for rt, st in zip(red_t, size_t))
                         for i in range(len(samples))]
        novel = [o and not any(_disordered_fit(merged[i], t) for t in train) for i, o in enumerate(novel_ordered)]
    return [int(x) for x in label], strict, novel, novel_ordered


def mattergen_uniqueness_novelty(samples: Sequence[Structure], train: Sequence[Structure], n_jobs: int = 1) -> dict:
    """MatterGen's uniqueness and novelty of valid generated crystals.

    Args:
        samples: S valid, ordered structures.
        train: the training crystals (novelty reference).
        n_jobs: worker processes (work is split by reduced formula).

    Returns:
        ``unique_rate_mattergen`` (distinct groups / S, default disordered matcher),
        ``unique_rate_strict`` (members of duplicate groups all non-unique, same matcher),
        ``novel_rate_mattergen`` (default disordered matcher), ``novel_rate_mattergen_ordered``,
        ``novel_unique_rate_mattergen`` (novel group founders / S) and ``n`` = S.
    """
    samples = list(samples)
    n = len(samples)
    if n == 0:
        return {"unique_rate_mattergen": math.nan, "unique_rate_strict": math.nan, "novel_rate_mattergen": math.nan,
                "novel_rate_mattergen_ordered": math.nan, "novel_unique_rate_mattergen": math.nan, "n": 0}
    samples = [_plain(s) for s in samples]
    formulas = [s.composition.reduced_formula for s in samples]
    train = [t for t in (_plain(t) for t in train) if t.composition.reduced_formula in set(formulas)]
    matcher = _ordered()
    reduced = reduce_all(samples + train, matcher, n_jobs=n_jobs)
    red_s, red_t = reduced[:n], reduced[n:]
    # A formula whose elements cannot substitute has no disordered second try, so only its ordered
    # fits count and those need equal reduced site counts: its samples split by that count into
    # independent tasks (one-formula sets such as carbon then run in parallel) with the same flags.
    by_task: dict[tuple, list[int]] = defaultdict(list)
    for i, (s, f, r) in enumerate(zip(samples, formulas, red_s)):
        ordered_only = disordered_version(s) is None
        by_task[(f, reduced_size(matcher, r) if ordered_only and r is not None else None)].append(i)
    train_by_task: dict[tuple, list[int]] = defaultdict(list)
    for j, t in enumerate(train):
        f = t.composition.reduced_formula
        r = red_t[j]
        train_by_task[(f, None)].append(j)
        if r is not None:
            train_by_task[(f, reduced_size(matcher, r))].append(j)
    keys = sorted(by_task, key=lambda k: -len(by_task[k]) * (len(by_task[k]) + len(train_by_task.get(k, ()))))
    tasks = [([samples[i] for i in by_task[k]], [train[j] for j in train_by_task.get(k, ())],
              [red_s[i] for i in by_task[k]], [red_t[j] for j in train_by_task.get(k, ())]) for k in keys]
    results = parallel_map(_judge_formula, tasks, n_jobs=n_jobs, chunk_size=1 if n_jobs > 1 else None)
    groups = strict = novel = novel_ordered = novel_founders = 0
    for labels, st, nov, nov_o in results:
        groups += max(labels) + 1
        strict += sum(st)
        novel += sum(nov)
        novel_ordered += sum(nov_o)
        founders = {}
        for i, g in enumerate(labels):
            founders.setdefault(g, i)
        novel_founders += sum(nov[i] for i in founders.values())
    return {"unique_rate_mattergen": groups / n, "unique_rate_strict": strict / n, "novel_rate_mattergen": novel / n,
            "novel_rate_mattergen_ordered": novel_ordered / n, "novel_unique_rate_mattergen": novel_founders / n,
            "n": n}
