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
    """For the samples of one formula: group label, strict-unique flag, novel (disordered), novel (ordered)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        # one formula throughout, so fit's formula gate always passes; oxidation states and the
        # disordered version of each sample are prepared once, not per pair
        samples, train = ([_plain(s) for s in group] for group in task)
        merged = [disordered_version(s) for s in samples]

        def same(i: int, b: Structure) -> bool:
            return _ordered_fit(samples[i], b) or _disordered_fit(merged[i], b)

        heads: list[int] = []
        label = [0] * len(samples)
        for i in range(len(samples)):
            for g, h in enumerate(heads):
                if same(i, samples[h]):  # the newcomer against the group's founder, as MatterGen orders it
                    label[i] = g
                    break
            else:
                label[i] = len(heads)
                heads.append(i)
        sizes = np.bincount(label, minlength=len(heads))
        strict = [bool(sizes[g] == 1) for g in label]
        novel_ordered = [not any(_ordered_fit(s, t) for t in train) for s in samples]
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
    by_formula: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_formula[s.composition.reduced_formula].append(i)
    train_by_formula: dict[str, list[Structure]] = defaultdict(list)
    for t in train:
        f = t.composition.reduced_formula
        if f in by_formula:
            train_by_formula[f].append(t)
    keys = sorted(by_formula, key=lambda f: -len(by_formula[f]) * (1 + len(train_by_formula.get(f, ()))))
    tasks = [([samples[i] for i in by_formula[f]], train_by_formula.get(f, [])) for f in keys]
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
