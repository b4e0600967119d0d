"""CDVAE's coverage metrics (COV-R, COV-P) and the fingerprints they use (DESIGN section 5)."""

from __future__ import annotations

import functools
import json
import math
import warnings
from importlib import resources
from typing import Sequence

import numpy as np
from pymatgen.core import Structure
from scipy.spatial.distance import cdist

from designer.errors import ConfigError
from designer.parallel import ProgressFn, parallel_map

#: Distance cutoffs (structure, composition) from CDVAE's ``compute_metrics.py``.
COVERAGE_CUTOFFS: dict[str, dict[str, float]] = {
    "perov": {"struct": 0.2, "comp": 4.0},
    "carbon": {"struct": 0.2, "comp": 4.0},
    "mp20": {"struct": 0.4, "comp": 10.0},
}

_DATASET_ALIASES = {
    "perov": "perov",
    "perov_5": "perov",
    "perovskite": "perov",
    "carbon": "carbon",
    "carbon_24": "carbon",
    "mp20": "mp20",
    "mp_20": "mp20",
}

STRUCT_FP_DIM = 61  # CrystalNNFingerprint "ops" preset
COMP_FP_DIM = 132  # ElementProperty "magpie" preset


def dataset_key(dataset: str) -> str:
    """Canonical dataset name ("perov", "carbon" or "mp20") for ``dataset`` or an alias of it."""
    key = _DATASET_ALIASES.get(str(dataset).lower())
    if key is None:
        raise ConfigError(
            f"unknown dataset {dataset!r} for coverage cutoffs; use one of {sorted(COVERAGE_CUTOFFS)}"
        )
    return key


@functools.lru_cache(maxsize=1)
def comp_scaler() -> tuple[np.ndarray, np.ndarray]:
    """CDVAE's fixed standardisation constants for the Magpie features.

    Returns:
        ``(means [132], stds [132])`` float arrays, read from the packaged
        ``designer/data_files/cdvae_comp_scaler.json``.
    """
    text = resources.files("designer").joinpath("data_files/cdvae_comp_scaler.json").read_text()
    data = json.loads(text)
    means = np.asarray(data["means"], dtype=float)
    stds = np.asarray(data["stds"], dtype=float)
    return means, stds


def standardise_comp_fp(raw: np.ndarray) -> np.ndarray:
    """``(raw - mean) / std`` with CDVAE's constants, NaN -> 0 (CDVAE's StandardScaler).

    Args:
        raw: ``[N, 132]`` raw Magpie features.

    Returns:
        ``[N, 132]`` standardised features.
    """
    means, stds = comp_scaler()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.asarray(raw, dtype=float) - means) / stds
    return np.where(np.isnan(out), 0.0, out)


@functools.lru_cache(maxsize=1)
def _featurizers():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        from matminer.featurizers.composition.composite import ElementProperty
        from matminer.featurizers.site.fingerprint import CrystalNNFingerprint

        # impute_nan=False: matminer >= 0.9 imputes missing element data by default; CDVAE's
        # matminer did not, and its scaler turned the resulting NaNs into 0.
        return CrystalNNFingerprint.from_preset("ops"), ElementProperty.from_preset("magpie", impute_nan=False)


def _fingerprint_one(structure: Structure | None) -> tuple[np.ndarray, np.ndarray]:
    """``(struct_fp [61], raw comp_fp [132])``; NaN-filled where a fingerprint fails."""
    struct_fp = np.full(STRUCT_FP_DIM, np.nan)
    comp_fp = np.full(COMP_FP_DIM, np.nan)
    if structure is None:
        return struct_fp, comp_fp
    site_fp, elem_prop = _featurizers()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        try:
            comp_fp = np.asarray(elem_prop.featurize(structure.composition.element_composition), dtype=float)
        except Exception:
            pass
        try:
            # CrystalNN on a collapsed or non-finite cell finds no sensible neighbours and can
            # run away; such structures are structurally invalid anyway and are dropped here.
            volume = float(structure.volume)
            if len(structure) == 0 or not math.isfinite(volume) or volume < 0.1:
                raise ValueError("degenerate cell")
            if not np.all(np.isfinite(structure.frac_coords)):
                raise ValueError("non-finite coordinates")
            sites = [site_fp.featurize(structure, i) for i in range(len(structure))]
            struct_fp = np.asarray(sites, dtype=float).mean(axis=0)
        except Exception:
            struct_fp = np.full(STRUCT_FP_DIM, np.nan)
    return struct_fp, comp_fp


def fingerprints(
    structures: Sequence[Structure | None],
    n_jobs: int = 1,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """CDVAE coverage fingerprints of each structure.

    Args:
        structures: N pymatgen structures; ``None`` entries get NaN rows.
        n_jobs: worker processes (CrystalNN costs ~0.05 s per 5-atom structure on one core).
        progress: optional ``progress(done, total)`` callback.

    Returns:
        ``(struct_fp [N, 61], comp_fp [N, 132])`` float arrays. ``struct_fp`` is the mean over
        sites of matminer ``CrystalNNFingerprint.from_preset("ops")``, a NaN row where it fails;
        ``comp_fp`` is matminer ``ElementProperty.from_preset("magpie")`` standardised with
        CDVAE's constants (NaN -> 0), a NaN row only where featurisation itself fails.
    """
    structures = list(structures)
    results = parallel_map(_fingerprint_one, structures, n_jobs=n_jobs, progress=progress)
    n = len(results)
    struct_fp = np.full((n, STRUCT_FP_DIM), np.nan)
    comp_raw = np.full((n, COMP_FP_DIM), np.nan)
    failed_comp = np.zeros(n, dtype=bool)
    for i, (s, c) in enumerate(results):
        struct_fp[i] = s
        if c.shape == (COMP_FP_DIM,):
            comp_raw[i] = c
        if structures[i] is None or c.shape != (COMP_FP_DIM,) or np.all(np.isnan(c)):
            failed_comp[i] = True
    comp_fp = standardise_comp_fp(comp_raw)
    comp_fp[failed_comp] = np.nan
    return struct_fp, comp_fp


def _nearest(a: np.ndarray, b: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean nearest-neighbour distances both ways between rows of ``a [n, d]`` and ``b [m, d]``.

    Returns:
        ``(min over b for each row of a [n], min over a for each row of b [m])``.
    """
    a_min = np.empty(len(a))
    b_min = np.full(len(b), np.inf)
    for start in range(0, len(a), chunk):
        d = cdist(a[start : start + chunk], b)
        a_min[start : start + chunk] = d.min(axis=1)
        np.minimum(b_min, d.min(axis=0), out=b_min)
    return a_min, b_min


def coverage(
    sample_struct_fp: np.ndarray,
    sample_comp_fp: np.ndarray,
    ref_struct_fp: np.ndarray,
    ref_comp_fp: np.ndarray,
    struct_cutoff: float,
    comp_cutoff: float,
    num_samples: int | None = None,
) -> dict:
    """CDVAE's coverage recall and precision.

    Args:
        sample_struct_fp, sample_comp_fp: ``[S, 61]`` and ``[S, 132]`` fingerprints of the
            generated samples (from :func:`fingerprints`); rows with any NaN are dropped.
        ref_struct_fp, ref_comp_fp: ``[R, 61]`` and ``[R, 132]`` fingerprints of the reference
            (test) crystals; a reference row with NaN cannot be covered but stays in the
            COV-R denominator (CDVAE would have crashed).
        struct_cutoff, comp_cutoff: distance cutoffs (see ``COVERAGE_CUTOFFS``).
        num_samples: COV-P denominator: all generated samples, including those never turned
            into a structure; defaults to ``S``.

    Returns:
        dict with ``cov_r`` (fraction of references whose nearest sample is within both
        cutoffs, nearest taken separately for structure and composition), ``cov_p`` (number
        of kept samples whose nearest reference is within both cutoffs / ``num_samples``),
        ``amsd_r``/``amsd_p``/``amcd_r``/``amcd_p`` (mean nearest structure/composition
        distances, NaN if undefined) and ``n_samples_dropped``.
    """
    ss = np.asarray(sample_struct_fp, dtype=float).reshape(len(sample_struct_fp), -1)
    sc = np.asarray(sample_comp_fp, dtype=float).reshape(len(sample_comp_fp), -1)
    rs = np.asarray(ref_struct_fp, dtype=float).reshape(len(ref_struct_fp), -1)
    rc = np.asarray(ref_comp_fp, dtype=float).reshape(len(ref_comp_fp), -1)
    if len(ss) != len(sc) or len(rs) != len(rc):
        raise ValueError("structure and composition fingerprints must have the same number of rows")
    n_samples = len(ss) if num_samples is None else int(num_samples)
    if n_samples < len(ss):
        raise ValueError(f"num_samples={n_samples} is smaller than the {len(ss)} fingerprint rows")
    s_keep = np.isfinite(ss).all(axis=1) & np.isfinite(sc).all(axis=1)
    r_keep = np.isfinite(rs).all(axis=1) & np.isfinite(rc).all(axis=1)
    n_ref = len(rs)
    out = {
        "cov_r": 0.0,
        "cov_p": 0.0,
        "amsd_r": math.nan,
        "amsd_p": math.nan,
        "amcd_r": math.nan,
        "amcd_p": math.nan,
        "n_samples_dropped": int(n_samples - s_keep.sum()),
    }
    if s_keep.sum() == 0 or r_keep.sum() == 0 or n_ref == 0:
        return out
    ss, sc, rs, rc = ss[s_keep], sc[s_keep], rs[r_keep], rc[r_keep]
    struct_r, struct_p = _nearest(rs, ss)  # [R'], [S']
    comp_r, comp_p = _nearest(rc, sc)
    recalled = (struct_r <= struct_cutoff) & (comp_r <= comp_cutoff)
    precise = (struct_p <= struct_cutoff) & (comp_p <= comp_cutoff)
    out.update(
        cov_r=float(recalled.sum() / n_ref),
        cov_p=float(precise.sum() / n_samples) if n_samples else 0.0,
        amsd_r=float(struct_r.mean()),
        amsd_p=float(struct_p.mean()),
        amcd_r=float(comp_r.mean()),
        amcd_p=float(comp_p.mean()),
    )
    return out
