"""The protein domain plug-in (aligned sequences, per-position amino-acid logits)."""
