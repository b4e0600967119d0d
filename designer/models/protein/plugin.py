"""Moved to ``designer.models.sequence.plugin``; kept so that old imports keep working."""

from designer.models.sequence.plugin import (  # noqa: F401
    ALPHABET_SIZE, GAP_INDEX, UNKNOWN_INDEX, ProteinPlugin, SequencePlugin, masked_log_likelihood, one_hot)
