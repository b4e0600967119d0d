"""Benchmark metrics. Crystal metrics (CDVAE's protocol, DESIGN section 5) live in ``crystal``.

The names below are imported from ``designer.metrics.crystal`` on first use, so a worker process
that needs one metric module (``_matching``, ``charge_balance``) does not import them all (scipy's
statistics, the fingerprints): a scoring worker starts seconds sooner.
"""

from importlib import import_module

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


def __getattr__(name: str):
    if name in __all__:
        return getattr(import_module("designer.metrics.crystal"), name)
    raise AttributeError(f"module 'designer.metrics' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
