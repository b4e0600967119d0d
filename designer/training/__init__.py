"""Training: Lightning module, trainer set-up, run directories."""
