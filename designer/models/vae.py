"""The beta-VAE core: q(z|x), reparameterisation, ELBO with beta schedules and free bits.

Knows nothing of crystals or proteins. A domain plug-in (``DomainPlugin``) supplies the encoder
features, the decoder and the reconstruction loss.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from designer.models.property_head import PropertyHead


class DomainPlugin(Protocol):
    """What the core needs from a domain (an ``nn.Module``)."""

    feature_dim: int

    def encode_features(self, batch: Any) -> Tensor:
        """``batch_size x feature_dim`` invariant features of each input."""

    def decode(self, z: Tensor) -> dict[str, Tensor]:
        """Decoder outputs for ``batch_size x latent_dim`` latents."""

    def reconstruction_loss(self, decoded: dict[str, Tensor], batch: Any) -> dict[str, Tensor]:
        """Named per-example loss terms (``batch_size``); their weighted sum is the distortion."""

    def targets(self, batch: Any) -> Tensor:
        """``batch_size x num_properties`` labels (NaN = unlabelled)."""


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(q(z|x) || N(0, I)) per example and latent dimension: ``batch x d``."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def free_bits_kl(kl: Tensor, free_bits: float) -> Tensor:
    """Sum over dimensions of max(mean-over-batch KL_j, free_bits) (Kingma et al. 2016): scalar."""
    per_dim = kl.mean(0)
    if free_bits > 0:
        per_dim = per_dim.clamp(min=free_bits)
    return per_dim.sum()


def beta_at(epoch: float, beta: float, kind: str = "constant", warmup_epochs: float = 0.0,
            cycle_epochs: float = 10.0, ratio: float = 0.5) -> float:
    """Beta at a (fractional) epoch.

    constant: ``beta``; linear: 0 -> beta over ``warmup_epochs``, then ``beta``; cyclical
    (Fu et al. 2019): each cycle of ``cycle_epochs`` ramps 0 -> beta over its first ``ratio``
    then holds beta.
    """
    if kind == "constant":
        return beta
    if kind == "linear":
        return beta if warmup_epochs <= 0 else beta * min(1.0, epoch / warmup_epochs)
    if kind == "cyclical":
        pos = (epoch % cycle_epochs) / cycle_epochs
        return beta * min(1.0, pos / ratio) if ratio > 0 else beta
    raise ValueError(f"unknown beta schedule {kind!r}")


def capacity_at(epoch: float, max_nats: float, anneal_epochs: float) -> float:
    """Target KL C(epoch) of capacity annealing (Burgess et al. 2018): 0 -> ``max_nats`` linearly."""
    return max_nats if anneal_epochs <= 0 else max_nats * min(1.0, epoch / anneal_epochs)


class BetaVAE(nn.Module):
    """beta-VAE over a domain plug-in, with an optional property head on the latent mean.

    Args:
        plugin: the domain's encoder features, decoder and reconstruction loss.
        latent_dim: d.
        loss_weights: weight of each named reconstruction term (missing -> 1).
        property_head: MLP on mu (semi-supervised: unlabelled rows are masked out).
    """

    def __init__(self, plugin: nn.Module, latent_dim: int, loss_weights: dict[str, float] | None = None,
                 property_head: PropertyHead | None = None):
        super().__init__()
        self.plugin = plugin
        self.latent_dim = latent_dim
        self.to_mu = nn.Linear(plugin.feature_dim, latent_dim)
        self.to_logvar = nn.Linear(plugin.feature_dim, latent_dim)
        nn.init.zeros_(self.to_logvar.weight)
        nn.init.constant_(self.to_logvar.bias, -6.0)  # start near-deterministic: avoids early posterior collapse
        self.loss_weights = dict(loss_weights or {})
        self.property_head = property_head

    def encode(self, batch: Any) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)``, each ``batch x d``."""
        h = self.plugin.encode_features(batch)
        return self.to_mu(h), self.to_logvar(h).clamp(-12.0, 6.0)

    def decode(self, z: Tensor) -> dict[str, Tensor]:
        return self.plugin.decode(z)

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
        # a seeded generator lives on its own device (usually the CPU): draw there, then move
        where = generator.device if generator is not None else mu.device
        eps = torch.randn(mu.shape, generator=generator, device=where, dtype=mu.dtype).to(mu.device)
        return mu + eps * torch.exp(0.5 * logvar)

    def loss(self, batch: Any, beta: float, free_bits: float = 0.0, sample: bool = True,
             property_weight: float = 1.0, capacity: tuple[float, float] | None = None) -> dict[str, Tensor]:
        """Negative ELBO terms for one batch (means over the batch).

        ``capacity = (C, gamma)`` replaces ``beta x KL`` by ``gamma x |KL - C|`` (capacity annealing,
        Burgess et al. 2018: the rate is steered to C nats instead of being pushed to 0).

        Returns a dict with ``loss`` (the objective), ``elbo_loss`` (recon + KL at beta = 1 is not
        used; this is recon + ``beta`` KL without free bits, for model selection), ``recon``,
        ``kl``, ``kl_per_dim`` (d), ``mu`` (batch x d, detached), each named reconstruction term and
        ``property`` when a head exists.
        """
        mu, logvar = self.encode(batch)
        z = self.reparameterize(mu, logvar) if sample else mu
        decoded = self.decode(z)
        terms = self.plugin.reconstruction_loss(decoded, batch)
        recon = sum(self.loss_weights.get(k, 1.0) * v.mean() for k, v in terms.items())
        kl = kl_per_dim(mu, logvar)
        kl_total = kl.sum(1).mean()
        out = {k: v.mean().detach() for k, v in terms.items()}
        out.update(recon=recon, kl=kl_total, kl_per_dim=kl.mean(0).detach(), mu=mu.detach())
        if capacity is not None:
            objective = recon + capacity[1] * (kl_total - capacity[0]).abs()
        else:
            objective = recon + beta * free_bits_kl(kl, free_bits)
        if self.property_head is not None:
            prop = self.property_head.loss(mu, self.plugin.targets(batch))
            out["property"] = prop
            objective = objective + property_weight * prop
        out["loss"] = objective
        return out

    @torch.no_grad()
    def sample_prior(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        """``n x d`` latents from N(0, temperature^2 I)."""
        device = next(self.parameters()).device
        gen_device = generator.device if generator is not None else device
        return (temperature * torch.randn(n, self.latent_dim, generator=generator, device=gen_device)).to(device)


def active_units(mu: Tensor, threshold: float = 0.01) -> Tensor:
    """Boolean ``d`` mask: dimension j is active when Cov_x(E[z_j | x]) > threshold (Burda et al.)."""
    return mu.var(0, unbiased=True) > threshold


def is_collapsed(rate: float, n_active: int, latent_dim: int, min_rate: float = 2.0,
                 min_active_fraction: float = 0.0) -> bool:
    """Posterior collapse: the rate (nats) is below ``min_rate``, or (when ``min_active_fraction`` > 0)
    fewer than ``min_active_fraction x latent_dim`` units are active.

    The rate is the primary test: active units (Cov_x E[z_j|x] > 0.01) can mislead both ways — a
    property head can spread the means of a latent that carries under a nat, and small but
    informative means with narrow posteriors count as inactive.
    """
    if rate < min_rate:
        return True
    return min_active_fraction > 0 and n_active < max(1, math.ceil(min_active_fraction * latent_dim))
