"""designer: inverse design of crystals and proteins with a beta-VAE, latent-space BO and a synthesis scorecard."""

__version__ = "0.1.0"
