"""Moved to ``designer.domains.sequence.mutations``; kept so that old imports keep working."""

from designer.domains.sequence.mutations import mutation_design  # noqa: F401
