"""Crystal-generation benchmark metrics (DESIGN section 5, CDVAE's protocol; novelty as MatterGen).

Every function takes pymatgen ``Structure`` objects (or plain arrays), never a model, so the
metrics judge any generator. Each metric key carries a one-line description in ``DESCRIPTIONS``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
from pymatgen.core import Structure
from scipy.stats import wasserstein_distance

from designer.metrics._coverage import (
    COVERAGE_CUTOFFS,
    comp_scaler,
    coverage,
    dataset_key,
    fingerprints,
    standardise_comp_fp,
)
from designer.metrics._matching import (
    NOVELTY_MATCHER,
    RECON_MATCHER,
    StructureIndex,
    match_structures,
    novelty_uniqueness,
    reconstruction_metrics,
)
from designer.parallel import ProgressFn
from designer.metrics.mattergen_match import mattergen_uniqueness_novelty
from designer.metrics._validity import composition_validity, smact_info, structure_validity

__all__ = [
    "COVERAGE_CUTOFFS",
    "DESCRIPTIONS",
    "NOVELTY_MATCHER",
    "RECON_MATCHER",
    "StructureIndex",
    "comp_scaler",
    "composition_validity",
    "coverage",
    "density",
    "emd_property",
    "fingerprints",
    "generation_metrics",
    "match_structures",
    "novelty_uniqueness",
    "num_elements",
    "reconstruction_metrics",
    "smact_info",
    "standardise_comp_fp",
    "structure_validity",
]

#: One line per reported metric, so reports can describe themselves.
DESCRIPTIONS: dict[str, str] = {
    # reconstruction
    "match_rate": "Fraction of test crystals whose decode is valid (structure and SMACT) and matches under "
    "StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3).",
    "rmse": "Mean StructureMatcher RMS displacement (normalised by (V/N)^(1/3)) over the valid matches.",
    "ceiling": "Fraction of test crystals that pass both validity tests themselves (the best possible match_rate).",
    "match_rate_ungated": "Fraction of test crystals whose decode matches, valid or not.",
    "rmse_ungated": "Mean RMS displacement over all matches, valid or not.",
    "volume_per_atom_mae": "Mean |V/N decoded - V/N true| in A^3/atom (StructureMatcher's volume scaling hides this).",
    "n": "Number of crystals evaluated.",
    # generation
    "n_samples": "Number of generated samples, including failed decodes.",
    "n_valid": "Number of samples passing both validity tests.",
    "struct_validity": "Fraction of samples with all interatomic distances >= 0.5 A and volume >= 0.1 A^3.",
    "comp_validity": "Fraction of samples whose composition is charge-balanced under SMACT (smact14 "
    "oxidation states, Pauling test), or single-element, or all-metal.",
    "valid": "Fraction of samples passing both the structural and the compositional validity test.",
    "cov_r": "Coverage recall: fraction of test crystals with a sample within the structure and composition "
    "fingerprint cutoffs (CDVAE).",
    "cov_p": "Coverage precision: samples within the cutoffs of some test crystal, divided by all samples (CDVAE).",
    "amsd_r": "Mean distance from each test crystal to its nearest sample's CrystalNN structure fingerprint.",
    "amsd_p": "Mean distance from each fingerprinted sample to its nearest test crystal's structure fingerprint.",
    "amcd_r": "Mean distance from each test crystal to its nearest sample's standardised Magpie fingerprint.",
    "amcd_p": "Mean distance from each fingerprinted sample to its nearest test crystal's Magpie fingerprint.",
    "n_samples_dropped": "Samples without a structure fingerprint (failed decode or CrystalNN failure); "
    "they stay in the COV-P denominator.",
    "emd_density": "Wasserstein distance between the densities (g/cm^3) of valid samples and of the test set.",
    "emd_property": "d_E: Wasserstein distance between a property evaluator's predictions on the valid samples "
                    "and on the test set (CDVAE: its own evaluator on both sides, not labels).",
    "emd_num_elements": "Wasserstein distance between the numbers of distinct elements of valid samples and "
    "of the test set.",
    "n_property": "Number of valid samples (seeded random choice) used for the property distances.",
    "novel_rate": "Fraction of the n_novelty judged valid samples matching no training crystal of the same reduced "
    "formula (StructureMatcher ltol=0.2, stol=0.3, angle_tol=5).",
    "unique_rate": "Strict uniqueness over the n_novelty judged valid samples: fraction matching no other sample "
                   "(same matcher, greedy grouping).",
    "novel_unique_rate": "Fraction of the n_novelty judged valid samples that are both novel and unique.",
    "n_novelty": "Valid samples judged for novel_rate and unique_rate: all of them, or the first n of the seeded "
                 "draw where the benchmark caps it (one-formula data such as carbon).",
    "unique_rate_mattergen": "MatterGen's uniqueness: distinct groups of matching samples (default disordered matcher, "
                             "greedy grouping) / valid samples, over n_mattergen seeded valid samples.",
    "unique_rate_strict": "The stricter uniqueness over the same samples and matcher: every member of a duplicate group "
                          "counts as not unique.",
    "novel_rate_mattergen": "MatterGen's novelty: fraction of the n_mattergen valid samples matching no training crystal "
                            "under its default disordered matcher.",
    "novel_rate_mattergen_ordered": "Novelty under MatterGen's ordered matcher (same tolerances, no element substitution).",
    "novel_unique_rate_mattergen": "Fraction of the n_mattergen valid samples that found a novel group (unique and novel).",
    "n_mattergen": "Valid samples (seeded choice) judged for MatterGen's uniqueness and novelty.",
    "struct_cutoff": "Structure-fingerprint distance cutoff used for coverage (CDVAE's, per dataset).",
    "comp_cutoff": "Composition-fingerprint distance cutoff used for coverage (CDVAE's, per dataset).",
    "smact": "smact version and oxidation-state set behind comp_validity.",
}


def density(structure: Structure) -> float:
    """Mass density of a crystal in g/cm^3 (pymatgen ``Structure.density``)."""
    return float(structure.density)


def num_elements(structure: Structure) -> int:
    """Number of distinct chemical elements in a crystal."""
    return len(structure.composition.element_composition.elements)


def emd_property(sample_values: Sequence[float], ref_values: Sequence[float]) -> float:
    """Earth mover's (1-Wasserstein) distance between two 1-D samples.

    Args:
        sample_values: ``[S]`` property values of generated crystals.
        ref_values: ``[R]`` property values of reference crystals.

    Returns:
        ``scipy.stats.wasserstein_distance(sample_values, ref_values)``; NaN when either is empty.
    """
    a = np.asarray(sample_values, dtype=float).ravel()
    b = np.asarray(ref_values, dtype=float).ravel()
    if a.size == 0 or b.size == 0:
        return math.nan
    return float(wasserstein_distance(a, b))


def generation_metrics(
    samples: Sequence[Structure | None],
    test: Sequence[Structure],
    train: Sequence[Structure],
    dataset: str = "perov",
    n_property: int = 1000,
    seed: int = 0,
    n_jobs: int = 1,
    test_fingerprints: tuple[np.ndarray, np.ndarray] | None = None,
    sample_fingerprints: tuple[np.ndarray, np.ndarray] | None = None,
    progress: ProgressFn | None = None,
    n_mattergen: int = 1000,
    property_predictor: Callable[[list[Structure]], np.ndarray] | None = None,
    test_predictions: np.ndarray | None = None,
    n_novelty: int | None = None,
) -> dict:
    """CDVAE's generation metrics plus MatterGen-style novelty and uniqueness.

    Args:
        samples: S generated structures, ``None`` for a failed decode (invalid, no fingerprint,
            still counted in every "over all samples" denominator).
        test: R test structures (coverage reference and property reference).
        train: training structures (for novelty).
        dataset: "perov", "carbon" or "mp20" (aliases "perov_5", "carbon_24", "mp_20"): picks the
            coverage cutoffs in ``COVERAGE_CUTOFFS``.
        n_property: valid samples drawn (without replacement, ``numpy.random.default_rng(seed)``)
            for the density / element-count distances; all valid ones if fewer.
        seed: seed of that draw.
        n_mattergen: how many of those drawn valid samples are judged with MatterGen's uniqueness and
            novelty (``mattergen_match``; 1,000 as MatterGen reports).
        n_jobs: worker processes for fingerprints and novelty.
        test_fingerprints: optional cached ``fingerprints(test)`` = ``([R, 61], [R, 132])``.
        sample_fingerprints: optional cached ``fingerprints(samples)`` = ``([S, 61], [S, 132])``.
        progress: optional ``progress(done, total)`` for the sample fingerprints.
        property_predictor: structures -> ``(k,)`` predicted property (CDVAE's evaluator): gives
            ``emd_property`` (d_E) between its predictions on the drawn valid samples and on the test set.
        test_predictions: optional cached ``property_predictor(test)`` = ``(R,)``.
        n_novelty: judge ``novel_rate`` / ``unique_rate`` on the first this many of the seeded draw of
            valid samples (the draw of ``n_property``, so at most that many) instead of on every valid
            sample; None (default) judges all. Reported as ``n_novelty``.

    Returns:
        dict with the keys of ``DESCRIPTIONS`` under "generation" (``n_samples``, ``n_valid``,
        ``struct_validity``, ``comp_validity``, ``valid``, ``cov_r``, ``cov_p``, ``amsd_*``,
        ``amcd_*``, ``n_samples_dropped``, ``emd_density``, ``emd_num_elements``,
        ``n_property``, ``novel_rate``, ``unique_rate``, ``novel_unique_rate``) plus
        ``struct_cutoff``, ``comp_cutoff`` and ``smact`` (``smact_info()``).
    """
    samples = list(samples)
    test = list(test)
    cutoffs = COVERAGE_CUTOFFS[dataset_key(dataset)]
    n = len(samples)
    s_valid = np.array([structure_validity(s) for s in samples], dtype=bool)
    c_valid = np.array([composition_validity(s) if s is not None else False for s in samples], dtype=bool)
    valid = s_valid & c_valid
    valid_idx = np.flatnonzero(valid)

    if sample_fingerprints is None:
        present = [i for i, s in enumerate(samples) if s is not None]
        fp_s, fp_c = fingerprints([samples[i] for i in present], n_jobs=n_jobs, progress=progress)
    else:
        fp_s, fp_c = (np.asarray(a, dtype=float) for a in sample_fingerprints)
        if len(fp_s) != n or len(fp_c) != n:
            raise ValueError(f"sample_fingerprints have {len(fp_s)} rows for {n} samples; pass fingerprints(samples)")
    if test_fingerprints is None:
        test_fingerprints = fingerprints(test, n_jobs=n_jobs)
    ref_s, ref_c = test_fingerprints
    cov = coverage(fp_s, fp_c, ref_s, ref_c, cutoffs["struct"], cutoffs["comp"], num_samples=n)

    rng = np.random.default_rng(seed)
    k = min(int(n_property), len(valid_idx))
    chosen = rng.choice(valid_idx, size=k, replace=False) if k > 0 else np.array([], dtype=int)
    emd_density = emd_property([density(samples[i]) for i in chosen], [density(t) for t in test])
    emd_nel = emd_property([num_elements(samples[i]) for i in chosen], [num_elements(t) for t in test])
    emd_prop = None
    if property_predictor is not None:
        if test_predictions is None:
            test_predictions = property_predictor(test)
        picked = [samples[i] for i in chosen]
        emd_prop = emd_property(property_predictor(picked) if picked else [], test_predictions)

    judged = valid_idx if n_novelty is None else chosen[:n_novelty]
    nu = novelty_uniqueness([samples[i] for i in judged], train, n_jobs=n_jobs)
    mg = mattergen_uniqueness_novelty([samples[i] for i in chosen[:n_mattergen]], train, n_jobs=n_jobs)

    out = {
        "n_samples": n,
        "n_valid": int(valid.sum()),
        "struct_validity": float(s_valid.mean()) if n else math.nan,
        "comp_validity": float(c_valid.mean()) if n else math.nan,
        "valid": float(valid.mean()) if n else math.nan,
    }
    out.update(cov)
    out.update(
        emd_density=emd_density,
        emd_num_elements=emd_nel,
        **({"emd_property": emd_prop} if emd_prop is not None else {}),
        n_property=k,
        novel_rate=nu["novel_rate"],
        unique_rate=nu["unique_rate"],
        novel_unique_rate=nu["novel_unique_rate"],
        n_novelty=nu["n"],
        unique_rate_mattergen=mg["unique_rate_mattergen"],
        unique_rate_strict=mg["unique_rate_strict"],
        novel_rate_mattergen=mg["novel_rate_mattergen"],
        novel_rate_mattergen_ordered=mg["novel_rate_mattergen_ordered"],
        novel_unique_rate_mattergen=mg["novel_unique_rate_mattergen"],
        n_mattergen=mg["n"],
        struct_cutoff=cutoffs["struct"],
        comp_cutoff=cutoffs["comp"],
        smact=smact_info(),
    )
    return out
