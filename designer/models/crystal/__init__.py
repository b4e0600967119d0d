"""Crystal plug-in for the beta-VAE core: periodic encoder, lattice/composition/coordinate decoder."""
