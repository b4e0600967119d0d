"""Build a BetaVAE for a pipeline config (the one place that knows every domain plug-in)."""

from __future__ import annotations

from designer.config import PipelineConfig
from designer.models.property_head import PropertyHead
from designer.models.vae import BetaVAE


def build_model(cfg: PipelineConfig, plugin_args: dict) -> BetaVAE:
    """A fresh model; ``plugin_args`` is what the data decides (crystal: ``atomic_numbers``; protein: ``length``)."""
    m = cfg.model
    if cfg.domain == "crystal":
        from designer.models.crystal.plugin import CrystalPlugin

        plugin = CrystalPlugin(
            plugin_args["atomic_numbers"], cfg.data.max_atoms, m.latent_dim, m.hidden, m.encoder_layers, m.feature_dim,
            cfg.data.cutoff, m.decoder_hidden, m.decoder_layers, cfg.loss.likelihood, decoder_dropout=m.decoder_dropout,
        )
    elif cfg.domain == "protein":
        from designer.models.protein.plugin import ProteinPlugin

        plugin = ProteinPlugin(plugin_args["length"], m.latent_dim, m.hidden, m.encoder_layers, m.feature_dim,
                               m.decoder_hidden, m.decoder_layers, m.decoder_dropout,
                               plugin_args.get("alphabet_size", 21), plugin_args.get("gap_index", 20))
    else:  # pragma: no cover - guarded by the config's Literal
        raise ValueError(cfg.domain)
    head = PropertyHead(m.latent_dim, len(cfg.data.properties), m.property_hidden, m.property_dropout) \
        if cfg.data.properties else None
    return BetaVAE(plugin, m.latent_dim, cfg.loss.weights, head)
