"""The latent interface the optimiser works through (no domain knowledge beyond it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from torch import Tensor


@dataclass
class Candidate:
    """One decoded latent.

    ``key``: hashable identity for deduplication (canonical sequence / structure fingerprint);
    ``obj``: the decoded object (pymatgen Structure, sequence string); ``z``: the latent it was
    decoded from (``d``); ``z_roundtrip``: the latent of the decoded object re-encoded (``d``);
    ``violation``: why it breaks a design constraint or is invalid (None when it is fine).
    """

    key: Any
    obj: Any
    z: np.ndarray
    z_roundtrip: np.ndarray | None = None
    violation: str | None = None
    info: dict = field(default_factory=dict)


class LatentSpace(Protocol):
    """What ``designer.optimize`` needs from a trained model of either domain."""

    latent_dim: int
    property_names: list[str]

    def encode(self, items: Any) -> Tensor:
        """``n x d`` posterior means of domain items (structures / sequences)."""

    def decode(self, z: Tensor) -> list[Candidate]:
        """One candidate per row of ``n x d`` latents, constraints checked, re-encoded."""

    def predict(self, z: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Property head mean and std (``n x P`` each) at ``n x d`` latents."""
