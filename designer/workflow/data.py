"""The training data of a run as the optimiser sees it: latent means, dedup keys, labels (the domain reads it)."""

from __future__ import annotations

from designer.domains import get_domain
from designer.domains.base import KnownData
from designer.runs import Run

__all__ = ["KnownData", "known_data"]


def known_data(run: Run) -> KnownData:
    """Encode the run's training inputs (``Run.training_paths``: the shipped copy for a shipped model)."""
    return get_domain(run).known_data(run)
