"""An independent property evaluator for optimisation benchmarks (never the head being optimised).

Another architecture than the β-VAE's head: gradient-boosted trees (scikit-learn
``HistGradientBoostingRegressor``) on hand-made crystal features — matminer's Magpie composition
statistics plus site-resolved element properties (sites ordered by their shortest bond, which
tells a perovskite's B site from its A site) and cell descriptors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Element
from sklearn.ensemble import HistGradientBoostingRegressor

from designer.metrics._coverage import _featurizers

SITES = 5  # site-resolved features for the first SITES sites (perov_5 cells have 5 atoms)


def _site_features(structure) -> np.ndarray:
    dm = np.array(structure.distance_matrix, dtype=float)
    np.fill_diagonal(dm, np.inf)
    self_image = min(structure.lattice.abc)
    dmin = np.minimum(dm.min(1), self_image)
    order = np.argsort(dmin, kind="stable")
    rows = []
    for i in order[:SITES]:
        el = Element(structure[int(i)].specie.symbol)
        x = el.X if el.X == el.X else 0.0
        rows.append([el.Z, x, el.group, el.row, float(el.atomic_radius or 0.0), dmin[i]])
    while len(rows) < SITES:
        rows.append([0.0] * 6)
    return np.asarray(rows, dtype=float).ravel()


def features(structures: list) -> np.ndarray:
    """``n x F`` features (NaN where matminer has no value; the trees handle NaN)."""
    _, magpie = _featurizers()
    out = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        for s in structures:
            try:
                comp = np.asarray(magpie.featurize(s.composition.element_composition), dtype=float)
            except Exception:
                comp = np.full(132, np.nan)
            cell = [s.volume / len(s), s.density, *sorted(s.lattice.abc), *sorted(s.lattice.angles), len(s)]
            out.append(np.concatenate([comp, _site_features(s), cell]))
    return np.asarray(out, dtype=float)


@dataclass
class Evaluator:
    """A fitted evaluator: ``predict(structures)`` -> ``n`` property values."""

    model: object

    def predict(self, structures: list) -> np.ndarray:
        return self.model.predict(features(structures))


def fit_evaluator(structures: list, y: np.ndarray, seed: int = 0) -> Evaluator:
    model = HistGradientBoostingRegressor(max_iter=600, learning_rate=0.05, max_leaf_nodes=31,
                                          l2_regularization=1e-3, random_state=seed)
    model.fit(features(structures), np.asarray(y, dtype=float))
    return Evaluator(model)
