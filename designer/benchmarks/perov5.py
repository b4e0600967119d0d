"""perov_5 benchmark (CDVAE protocol, DESIGN section 5): reconstruction, generation, coverage, speed."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from designer.benchmarks.cdvae_suite import Suite, run_suite

ANCHORS = {  # published numbers (DESIGN section 6) and issue 13's bars (minimum / target)
    "reconstruction.match_rate": "CDVAE 0.9752, FTCP 0.9934; min 0.95, target 0.985 (ceiling 0.986)",
    "reconstruction.rmse": "CDVAE 0.0156; max 0.03, target 0.015",
    "generation.struct_validity": "CDVAE 1.00; min 1.00",
    "generation.comp_validity": "CDVAE 0.9859; min 0.985",
    "generation.cov_r": "DiffCSP 0.9974; min 0.985, target 0.997",
    "generation.cov_p": "DiffCSP 0.9827; min 0.98, target 0.99",
    "generation.emd_density": "DiffCSP 0.111; max 0.12, target 0.10",
    "generation.emd_num_elements": "DiffCSP 0.0128, CDVAE 0.0628; max 0.06, target 0.013",
    "generation.emd_property": "d_E, CDVAE's perovskite evaluator: DiffCSP 0.0263, CDVAE 0.0264; max 0.05, target 0.026",
    "generation.unique_rate_mattergen": "min 0.90, target 0.97",
    "speed.nfe_per_structure": "DiffCSP ~2,000, CDVAE 5,000; max 50, target 20",
    "speed.structures_per_s": "min 200, target 1,000 (2 cores)",
}
HANDICAP = ("Training data handicap: CDVAE's 11,356-row perov_5 train split is not available; this model "
            "trains on val.csv + dev_train.csv (4,811 crystals, ~42% of CDVAE's), with a seeded 10% held out "
            "for early stopping. The test split (3,785 crystals) is never used for training or model selection.")


SUITE = Suite("perov5", "perov_5", "perov5", "perov", "perovskite", HANDICAP, ANCHORS)


def run(run: str | None = None, out: Path | None = None, samples: Path | None = None, n_samples: int = 10_000,
        seed: int = 0, jobs: int = 1, compare_one_shot: bool = True, console: Console | None = None) -> Path:
    """``designer benchmark perov5``: the CDVAE protocol on perov_5's test split."""
    return run_suite(SUITE, run=run, out=out, samples=samples, n_samples=n_samples, seed=seed, jobs=jobs,
                     compare_one_shot=compare_one_shot, console=console)
