"""Design runs: a trained model's latent space for the optimiser, the ask/tell state, `designer design`."""
