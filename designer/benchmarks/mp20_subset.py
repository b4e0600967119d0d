"""mp_20_subset benchmark (CDVAE protocol, DESIGN section 5): 847 train / 123 val Materials Project crystals."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from designer.benchmarks.cdvae_suite import Suite, run_suite

ANCHORS = {  # CDVAE's and DiffCSP's MP-20 numbers come from 27,136 training crystals (DESIGN section 6)
    "reconstruction.match_rate": "reported; CDVAE 0.4543, FTCP 0.6989 on full MP-20",
    "reconstruction.rmse": "reported; CDVAE 0.0356, FTCP 0.1593 on full MP-20",
    "generation.struct_validity": "reported; CDVAE 1.00 on full MP-20",
    "generation.comp_validity": "reported; CDVAE 0.8670 on full MP-20",
    "generation.cov_r": "reported; DiffCSP 0.9971, CDVAE 0.9915 on full MP-20",
    "generation.cov_p": "reported; DiffCSP 0.9976, CDVAE 0.9949 on full MP-20",
    "generation.emd_density": "reported; DiffCSP 0.3502, CDVAE 0.6875 on full MP-20",
    "generation.emd_num_elements": "reported; DiffCSP 0.3398, CDVAE 1.432 on full MP-20",
    "generation.emd_property": "d_E, CDVAE's mp20 evaluator: DiffCSP 0.1247, CDVAE 0.2778 on full MP-20",
    "speed.nfe_per_structure": "DiffCSP ~1,000, CDVAE 5,000",
}
PROTOCOL = ("Split: mp_20_subset is the first 847 rows of MP-20's train split and the first 123 of its val split "
            "(the full 45,231-row files are not available here). A seeded 10% of train stops training; val is "
            "the reported test part and chooses nothing. The training set is tiny (~760 crystals after the "
            "holdout, 85 elements): CDVAE's MP-20 numbers come from 27,136 training crystals and are not a bar here.")
SUITE = Suite("mp20_subset", "mp_20_subset", "mp20_subset", "mp20", "mp20", PROTOCOL, ANCHORS)


def run(run: str | None = None, out: Path | None = None, samples: Path | None = None, n_samples: int = 10_000,
        seed: int = 0, jobs: int = 1, compare_one_shot: bool = True, console: Console | None = None) -> Path:
    """``designer benchmark mp20-subset``: the CDVAE protocol on mp_20_subset's val part."""
    return run_suite(SUITE, run=run, out=out, samples=samples, n_samples=n_samples, seed=seed, jobs=jobs,
                     compare_one_shot=compare_one_shot, console=console)
