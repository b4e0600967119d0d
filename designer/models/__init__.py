"""Models: the domain-agnostic beta-VAE core and its domain plug-ins."""
