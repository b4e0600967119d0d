"""Moved to ``designer.domains.sequence.generate``; kept so that old imports keep working."""

from designer.domains.sequence.generate import (  # noqa: F401
    DecodedSequences, decode_latents, elbo, encode, read_for_run, read_sequence_strings, reconstruct,
    reference_sequence, sample)
