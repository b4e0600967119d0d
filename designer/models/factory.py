"""Assemble a BetaVAE from a domain plug-in (the core knows no domain: the plug-in is built by the domain)."""

from __future__ import annotations

import difflib

from torch import nn

from designer.config import PipelineConfig
from designer.errors import ConfigError
from designer.models.property_head import PropertyHead
from designer.models.vae import BetaVAE


def assemble(cfg: PipelineConfig, plugin: nn.Module) -> BetaVAE:
    """The beta-VAE around ``plugin`` with the pipeline's property head (None without properties)."""
    m = cfg.model
    known = getattr(plugin, "loss_terms", None)  # the reconstruction terms the plug-in returns
    unknown = [k for k in cfg.loss.weights if known is not None and k not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"loss.weights: {unknown[0]!r} is not a reconstruction term of this model{hint} "
                          f"(terms: {', '.join(known)})")
    head = PropertyHead(m.latent_dim, len(cfg.data.properties), m.property_hidden, m.property_dropout) \
        if cfg.data.properties else None
    return BetaVAE(plugin, m.latent_dim, cfg.loss.weights, head)
