"""The training data of a run as the optimiser sees it: latent means, dedup keys, labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from designer.runs import Run


@dataclass
class KnownData:
    """``mu``: ``n x d`` posterior means; ``keys``: dedup keys; ``y``: ``n x P`` labels (NaN = none);
    ``items``: structures or aligned sequences (for export of the starting points)."""

    mu: torch.Tensor
    keys: list
    y: np.ndarray
    items: list


def _existing(paths: list[str], fallback_pipeline: str | None) -> list[Path]:
    found = [Path(p) for p in paths if Path(p).exists()]
    if found or fallback_pipeline is None:
        return found
    from designer.config import load_pipeline

    default = Path(__file__).parents[2] / "pipelines" / f"{fallback_pipeline}.yaml"
    if default.exists():  # a shipped model records the paths of the machine it was trained on
        cfg, _ = load_pipeline(default)
        return [Path(p) for p in cfg.data.train if Path(p).exists()]
    return []


def known_data(run: Run, on_progress=None) -> KnownData:
    """Encode the run's training inputs (the embedded copy for a shipped model trained elsewhere)."""
    cfg = run.config
    paths = _existing(cfg.data.train, cfg.name)
    if not paths:
        from designer.errors import DataError

        raise DataError(f"{cfg.data.train}: the run's training data is not found; the optimiser needs it "
                        "(plausibility, deduplication): restore the files or retrain")
    if cfg.domain == "protein":
        from designer.data.protein_dataset import decode_tokens
        from designer.generate_protein import encode, read_for_run

        tokens, ys = [], []
        for p in paths:
            pset = read_for_run(run, p)
            tokens.append(pset.tokens)
            ys.append(pset.y.numpy())
        tok = torch.cat(tokens)
        seqs = decode_tokens(tok)
        return KnownData(encode(run, tok)[0], seqs, np.concatenate(ys), seqs)
    from designer.data import load_graph_dataset
    from designer.design.spaces import crystal_key
    from designer.generate import encode, vocab_of

    d = cfg.data
    records, graphs, _ = load_graph_dataset(paths, list(d.properties), vocab_of(run), d.cutoff, d.max_neighbors,
                                            d.max_atoms, d.cache)  # cached graphs
    structures = [r.to_structure() for r in records]
    y = np.array([[r.properties.get(k, np.nan) for k in d.properties] for r in records], dtype=float)
    return KnownData(encode(run, graphs)[0], [crystal_key(s) for s in structures],
                     y.reshape(len(records), len(d.properties)), structures)
