"""Moved to ``designer.domains.crystal.generate``; kept so that old imports keep working."""

from designer.domains.crystal.generate import (  # noqa: F401
    Decoded, decode_latents, encode, read_for_run, reconstruct, records_to_data, sample, vocab_of)
