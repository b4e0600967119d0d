"""Template structures for a composition: a training crystal of the same prototype, its elements swapped.

For a target cell, the templates are the training crystals with the same atom counts per element
role (the anonymous formula of the whole cell: ``(1, 1, 3)`` for a 5-atom ABX3). The target's
elements are put on the template's roles (within a group of roles of equal count, the assignment
that brings the elements closest), the template whose elements are closest to the target's comes
first (ties keep file order), and the volume is rescaled to the sum of per-element volumes fitted
on the training set (non-negative least squares of cell volume on element counts). No model is
used: the CSP benchmarks judge it as a baseline, and the structure predictor encodes its templates
as extra latents for the composition (``csp.StructurePredictor(templates=...)``).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import defaultdict

import numpy as np
from pymatgen.core import Element, Structure
from scipy.optimize import nnls


@functools.lru_cache(maxsize=None)
def _features(z: int) -> tuple[float, float]:
    el = Element.from_Z(z)
    x = el.X if el.X and math.isfinite(el.X) else 2.0
    r = float(el.atomic_radius) if el.atomic_radius is not None else 1.5
    return x, r


@functools.lru_cache(maxsize=None)
def element_distance(a: int, b: int) -> float:
    """``|dX| + |d radius / A|`` between two elements (Pauling electronegativity, atomic radius)."""
    (xa, ra), (xb, rb) = _features(a), _features(b)
    return abs(xa - xb) + abs(ra - rb)


def signature(counts: dict[int, int]) -> tuple[int, ...]:
    """Sorted atom counts per element: the cell's anonymous formula."""
    return tuple(sorted(counts.values()))


def counts_of(structure: Structure) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for site in structure:
        out[site.specie.Z] += 1
    return dict(out)


def best_mapping(target: dict[int, int], template: dict[int, int]) -> tuple[dict[int, int], float]:
    """Template element -> target element with equal counts, closest in sum of ``element_distance``."""
    groups: dict[int, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for z, n in target.items():
        groups[n][0].append(z)
    for z, n in template.items():
        groups[n][1].append(z)
    mapping, total = {}, 0.0
    for tgt, tpl in groups.values():
        best = min(itertools.permutations(tgt), key=lambda perm: sum(element_distance(a, b) for a, b in zip(perm, tpl)))
        mapping.update(dict(zip(tpl, best)))
        total += sum(element_distance(a, b) for a, b in zip(best, tpl))
    return mapping, total


class TemplateBaseline:
    """Element substitution into the closest training prototype.

    Args:
        training: the training Structures (ordered).
    """

    def __init__(self, training: list[Structure]):
        self.training = training
        self.counts = [counts_of(s) for s in training]
        self.by_signature: dict[tuple, list[int]] = defaultdict(list)
        for i, c in enumerate(self.counts):
            self.by_signature[signature(c)].append(i)
        elements = sorted({z for c in self.counts for z in c})
        self.column = {z: j for j, z in enumerate(elements)}
        a = np.zeros((len(training), len(elements)))
        for i, c in enumerate(self.counts):
            for z, n in c.items():
                a[i, self.column[z]] = n
        self.volumes, _ = nnls(a, np.array([s.volume for s in training]))
        self.mean_volume_per_atom = float(np.mean([s.volume / len(s) for s in training]))
        self._roles: dict[tuple, dict[int, tuple[np.ndarray, np.ndarray]]] = {}

    def _role_arrays(self, sig: tuple) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per count ``g`` of a signature: ``(n_t x m element numbers, n_t x m x 2 features)`` of its templates."""
        if sig not in self._roles:
            idx = self.by_signature.get(sig, [])
            out = {}
            for g in sorted(set(sig)):
                els = np.array([sorted(z for z, n in self.counts[i].items() if n == g) for i in idx], dtype=np.int64)
                feats = np.array([[_features(int(z)) for z in row] for row in els], dtype=float).reshape(len(idx), -1, 2)
                out[g] = (els.reshape(len(idx), -1), feats)
            self._roles[sig] = out
        return self._roles[sig]

    def volume(self, counts: dict[int, int]) -> float:
        """Predicted cell volume (A^3) of a composition: per-element volumes, the training mean per atom for an
        element never seen or fitted to zero."""
        v = sum(n * (self.volumes[self.column[z]] if z in self.column else 0.0) for z, n in counts.items())
        unknown = sum(n for z, n in counts.items() if z not in self.column or self.volumes[self.column[z]] <= 0)
        return v + unknown * self.mean_volume_per_atom

    def predict(self, counts: dict[int, int], k: int = 20) -> list[Structure]:
        """Up to ``k`` substituted templates, closest first (empty when no training crystal has the prototype)."""
        return [s for _, s in self.ranked(counts, k)]

    def ranked(self, counts: dict[int, int], k: int = 20) -> list[tuple[int, Structure]]:
        """``predict`` with each template's index in the training list (vectorised ``best_mapping`` over templates)."""
        sig = signature(counts)
        idx = np.array(self.by_signature.get(sig, []), dtype=np.int64)
        if not len(idx):
            return []
        total = np.zeros(len(idx))
        choice = {}
        for g, (els, feats) in self._role_arrays(sig).items():
            tgt = sorted(z for z, n in counts.items() if n == g)
            perms = np.array(list(itertools.permutations(tgt)), dtype=np.int64)  # p x m
            pf = np.array([[_features(int(z)) for z in row] for row in perms], dtype=float)  # p x m x 2
            d = np.abs(feats[:, None] - pf[None]).sum(axis=(-1, -2))  # n_t x p
            best = d.argmin(1)
            total += d[np.arange(len(idx)), best]
            choice[g] = (els, perms[best])
        order = np.lexsort((idx, total))[:k]  # closest first, ties in file order
        out = []
        target_volume = self.volume(counts)
        for j in order:
            i = int(idx[j])
            mapping = {int(a): int(b) for g, (els, perm) in choice.items() for a, b in zip(els[j], perm[j])}
            s = self.training[i].copy()
            s.replace_species({Element.from_Z(a): Element.from_Z(b) for a, b in mapping.items() if a != b})
            s.scale_lattice(target_volume)
            out.append((i, s))
        return out
