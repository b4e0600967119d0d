"""Property labels checked as a whole column before training: an all-empty column, and a value so far
outside the rest that it would set the head's scale (a heat_ref of 1e30 trained a head predicting ~1e29
everywhere), are refused with the file, the row and what to do."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from designer.errors import DataError

OUTLIER_SPREADS = 1e6  # |value - median| beyond this many interquartile ranges is a unit or typing error


def check_labels(y: np.ndarray, properties: Sequence[str], where: str, row_names: Sequence[str]) -> None:
    """Refuse an all-NaN property column or a value ``OUTLIER_SPREADS`` spreads from the median.

    Args:
        y: ``N x P`` labels, NaN = unlabelled.
        properties: the ``P`` property names.
        where: the input(s) named in the error.
        row_names: ``N`` row descriptions (file and row or id) named in the error.
    """
    y = np.asarray(y, dtype=float).reshape(len(row_names), len(properties))
    for j, name in enumerate(properties):
        col = y[:, j]
        known = np.isfinite(col)
        if not known.any():
            raise DataError(f"{where}: property {name!r} has no value in any row; fill it in or remove it from "
                            "data.properties")
        values = col[known]
        median = float(np.median(values))
        q25, q75 = np.percentile(values, [25, 75])
        spread = max(float(q75 - q25), 1e-3 * (abs(median) + 1.0))
        dev = np.where(known, np.abs(col - median), 0.0)
        i = int(np.argmax(dev))
        if dev[i] > OUTLIER_SPREADS * spread:
            raise DataError(f"{row_names[i]}: property {name!r} is {col[i]:.4g}, {dev[i] / spread:.1e} times the "
                            f"spread of the column (median {median:.4g}); fix the value, leave it empty, or rescale "
                            "the column")
