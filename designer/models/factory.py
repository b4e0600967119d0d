"""Assemble a BetaVAE from a domain plug-in (the core knows no domain: the plug-in is built by the domain)."""

from __future__ import annotations

from torch import nn

from designer.config import PipelineConfig
from designer.models.property_head import PropertyHead
from designer.models.vae import BetaVAE


def assemble(cfg: PipelineConfig, plugin: nn.Module) -> BetaVAE:
    """The beta-VAE around ``plugin`` with the pipeline's property head (None without properties)."""
    m = cfg.model
    head = PropertyHead(m.latent_dim, len(cfg.data.properties), m.property_hidden, m.property_dropout) \
        if cfg.data.properties else None
    return BetaVAE(plugin, m.latent_dim, cfg.loss.weights, head)
