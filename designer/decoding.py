"""Moved to ``designer.domains.crystal.decoding``; kept so that old imports keep working."""

from designer.domains.crystal.decoding import best_first, charge_neutral_types  # noqa: F401
