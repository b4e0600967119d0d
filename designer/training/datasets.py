"""Training data of any domain: read and split (the domain's job), make loaders, fit data-derived scales."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from designer.config import PipelineConfig
from designer.domains import get_domain
from designer.domains.base import TrainingData

__all__ = ["TrainingData", "fit_data_scales", "load_training_data", "make_loader"]


def make_loader(domain, items: Sequence, batch_size: int, shuffle: bool = False, seed: int = 0,
                drop_last: bool = False, weights: np.ndarray | None = None):
    """A loader of the domain's items (``domain``: its name or the ``Domain``)."""
    return get_domain(domain).make_loader(items, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
                                          weights=weights)


def load_training_data(cfg: PipelineConfig, init=None) -> TrainingData:
    """The pipeline's inputs split into train and the seeded holdout (``init``: a run being fine-tuned)."""
    return get_domain(cfg).load_training_data(cfg, init)


def fit_data_scales(model, data: TrainingData) -> None:
    """Set what a fresh model learns from its training data before the first step (not on fine-tuning)."""
    y = get_domain(data.domain).fit_data_scales(model, data)
    if model.property_head is not None:
        model.property_head.set_normalization(y)
