"""Training data of either domain: read, split off the seeded holdout, make loaders, fit data-derived scales."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from designer.config import PipelineConfig, sequence_options
from designer.data import holdout_split
from designer.errors import DesignerError


@dataclass
class TrainingData:
    """Items of one domain split into train and holdout, plus what the model's shape depends on.

    ``plugin_args``: passed to ``build_model``; ``sample_weights``: per train item (None = uniform);
    ``notes``: what reading did (skipped/masked rows), for the run summary.
    """

    domain: str
    train: Sequence
    holdout: Sequence
    plugin_args: dict
    sample_weights: np.ndarray | None = None
    notes: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def make_loader(domain: str, items: Sequence, batch_size: int, shuffle: bool = False, seed: int = 0,
                drop_last: bool = False, weights: np.ndarray | None = None):
    """A DataLoader for the domain's items (torch-geometric batches for crystals, dicts for proteins)."""
    gen = torch.Generator().manual_seed(seed)
    if domain == "crystal":
        from torch_geometric.loader import DataLoader

        return DataLoader(items, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=gen)
    from torch.utils.data import DataLoader, WeightedRandomSampler

    if weights is not None:
        sampler = WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double), len(items), generator=gen)
        return DataLoader(items, batch_size=batch_size, sampler=sampler, drop_last=drop_last)
    return DataLoader(items, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=gen)


def _split(items: Sequence, cfg: PipelineConfig) -> tuple[list, list]:
    if len(items) < 2:
        raise DesignerError(f"{cfg.data.train}: {len(items)} input(s); training needs at least 2 (one is held out)")
    tr, ho = holdout_split(len(items), cfg.data.holdout_fraction, cfg.seed)
    return tr, ho


def load_crystal_data(cfg: PipelineConfig, init=None) -> TrainingData:
    from designer.data import ElementVocab, load_graph_dataset

    d = cfg.data
    vocab = ElementVocab(tuple(init.model.plugin.atomic_numbers.tolist())) if init is not None else None
    _, data, vocab = load_graph_dataset([Path(p) for p in d.train], d.properties, vocab, d.cutoff,
                                        d.max_neighbors, d.max_atoms, d.cache)
    tr, ho = _split(data, cfg)
    return TrainingData("crystal", [data[i] for i in tr], [data[i] for i in ho],
                        {"atomic_numbers": list(vocab.atomic_numbers)}, notes={"vocab_size": len(vocab)})


def load_protein_data(cfg: PipelineConfig, init=None) -> TrainingData:
    from torch.utils.data import Subset

    from designer.data.protein_dataset import TokenDataset, decode_tokens, gap_profile, load_protein_set, sequence_weights

    d = cfg.data
    reference = None
    if init is not None:
        reference = decode_tokens(init.model.plugin.reference.unsqueeze(0))[0]
    pset = load_protein_set([Path(p) for p in d.train], d.properties, sequence_options(cfg), reference, d.cache)
    if init is not None and pset.length != init.model.plugin.length:
        raise DesignerError(f"--init-from {init.path}: the model reads {init.model.plugin.length} positions, "
                            f"this data aligns to {pset.length}; use the same reference")
    keep = torch.ones(len(pset.tokens), dtype=torch.bool)
    if d.sequences.max_mutations is not None:
        if (pset.mutations < 0).any():
            raise DesignerError("data.sequences.max_mutations needs mutation tables (the number of mutations of "
                                "full sequences is not known); remove it")
        keep = pset.mutations <= d.sequences.max_mutations
    idx = torch.nonzero(keep).squeeze(1).numpy()
    dataset = TokenDataset(pset.tokens, pset.y)
    tr, ho = _split(idx, cfg)
    tr, ho = idx[tr], idx[ho]
    weights = None
    if d.sequences.reweight:
        weights = sequence_weights(pset.tokens[tr], d.sequences.reweight).numpy()
    notes = {"read": pset.report.summary(), "alignment_length": pset.length, "kept_by_max_mutations": int(keep.sum())}
    if weights is not None:
        notes["effective_sequences"] = round(float(weights.sum()), 1)
    return TrainingData("protein", Subset(dataset, tr.tolist()), Subset(dataset, ho.tolist()), {"length": pset.length},
                        weights, notes, {"set": pset, "train_index": tr})


def load_training_data(cfg: PipelineConfig, init=None) -> TrainingData:
    return load_crystal_data(cfg, init) if cfg.domain == "crystal" else load_protein_data(cfg, init)


def fit_data_scales(model, data: TrainingData) -> None:
    """Set what a fresh model learns from its training data before the first step (not on fine-tuning)."""
    if data.domain == "crystal":
        model.plugin.fit_scales(torch.cat([g.lattice for g in data.train]))
        y = torch.cat([g.y for g in data.train])
    else:
        from designer.data.protein_dataset import gap_profile

        pset, tr = data.extra["set"], torch.as_tensor(data.extra["train_index"])
        model.plugin.fit_data(pset.reference_tokens(), gap_profile(pset.tokens[tr], pset.truncated[tr]))
        y = pset.y[tr]
    if model.property_head is not None:
        model.property_head.set_normalization(y)
