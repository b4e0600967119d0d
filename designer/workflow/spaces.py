"""The optimiser's latent space of a run: its domain's (``Domain.latent_space``)."""

from __future__ import annotations

from designer.config import ConstraintsConfig
from designer.domains import get_domain
from designer.runs import Run


def space_for(run: Run, constraints: ConstraintsConfig | None = None, seed: int = 0):
    """The domain's latent space with the run's ``design`` settings (constraints, decoding temperature)."""
    return get_domain(run).latent_space(run, constraints or run.config.design.constraints, seed)


# the spaces themselves live in their domains (re-exported for old imports)
from designer.domains.crystal.space import CrystalSpace, crystal_key  # noqa: E402,F401
from designer.domains.sequence.space import ProteinSpace, SequenceSpace  # noqa: E402,F401
