"""Tiny protein data shared by the test modules: a 28-residue reference, random variants, a pipeline file."""

from __future__ import annotations

import numpy as np
import yaml

AA = "ACDEFGHIKLMNPQRSTVWY"
REFERENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLG"  # 28 residues


def _variants(n: int, seed: int = 0, max_mut: int = 3):
    """Random 1..max_mut substitution variants (DMS syntax, 1-based) with an additive property:
    each mutation in the first half of the protein costs 1 (a destabilising core), elsewhere 0.1."""
    rng = np.random.default_rng(seed)
    effect = np.where(np.arange(len(REFERENCE)) < len(REFERENCE) // 2, -1.0, -0.1)[:, None] * np.ones((1, len(AA)))
    rows = []
    for _ in range(n):
        k = int(rng.integers(1, max_mut + 1))
        pos = rng.choice(len(REFERENCE), k, replace=False)
        muts, y = [], 0.0
        for p in sorted(pos):
            aa = AA[int(rng.integers(len(AA)))]
            if aa == REFERENCE[p]:
                continue
            muts.append(f"{REFERENCE[p]}{p + 1}{aa}")
            y += effect[p, AA.index(aa)]
        rows.append((":".join(muts), y))
    return rows


def write_protein_pipeline(folder, rows, *, label_fraction: float = 1.0, epochs: int = 3, extra: dict | None = None,
                           seed: int = 0):
    rng = np.random.default_rng(seed + 1)
    lines = ["mutant\tscore"]
    for muts, y in rows:
        lines.append(f"{muts}\t{y:.4f}" if rng.random() < label_fraction else f"{muts}\t")
    (folder / "variants.tsv").write_text("\n".join(lines) + "\n")
    (folder / "ref.fasta").write_text(f">ref\n{REFERENCE}\n")
    cfg = {
        "name": "tinyprot", "domain": "protein", "seed": seed,
        "data": {"train": "variants.tsv", "properties": ["score"],
                 "sequences": {"format": "mutations", "reference": "ref.fasta", "index_base": 1}},
        "model": {"latent_dim": 8, "hidden": 64, "encoder_layers": 1, "feature_dim": 32, "decoder_hidden": 64,
                  "decoder_layers": 1, "property_hidden": 32, "property_dropout": 0.0},
        "loss": {"beta": 0.1, "property_weight": 5.0},
        "train": {"epochs": epochs, "batch_size": 32, "max_minutes": 2, "patience": 50},
    }
    for key, value in (extra or {}).items():
        cfg.setdefault(key, {}).update(value)
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path
