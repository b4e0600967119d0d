"""The sequence plug-in: aligned fixed-length token sequences (proteins, or any alphabet), per-position logits."""
