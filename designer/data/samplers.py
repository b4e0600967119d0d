"""Training-order samplers seeded by ``(seed, epoch)``: a resumed run sees the batches an uninterrupted one would."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


class EpochSeededSampler(Sampler[int]):
    """A random order of ``n`` items (or ``n`` weighted draws with replacement) that depends only on
    ``seed`` and the epoch Lightning sets with ``set_epoch``, never on how many epochs ran in this process.

    Args:
        n: number of items.
        seed: the run's seed.
        weights: ``n`` non-negative sampling weights (draws with replacement), or ``None`` for a permutation.
    """

    def __init__(self, n: int, seed: int = 0, weights: np.ndarray | None = None):
        self.n, self.seed, self.epoch = int(n), int(seed), 0
        self.weights = None if weights is None else torch.as_tensor(np.asarray(weights), dtype=torch.double)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _generator(self) -> torch.Generator:
        # distinct, reproducible streams per (seed, epoch); 2**31 - 1 keeps the mix inside int64
        return torch.Generator().manual_seed((self.seed * (2**31 - 1) + self.epoch) % (2**63 - 1))

    def __iter__(self) -> Iterator[int]:
        g = self._generator()
        if self.weights is None:
            return iter(torch.randperm(self.n, generator=g).tolist())
        return iter(torch.multinomial(self.weights, self.n, replacement=True, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def training_sampler(n: int, shuffle: bool, seed: int, weights: np.ndarray | None = None) -> Sampler[int] | None:
    """The sampler of a training loader: epoch-seeded when shuffled or weighted, else ``None`` (file order)."""
    if weights is None and not shuffle:
        return None
    return EpochSeededSampler(n, seed, weights)
