"""Latent diagnostics: rate/distortion, active units, disentanglement, traversals (``designer analyze``)."""
