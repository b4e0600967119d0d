"""Property head: an MLP on the latent mean, trained on labelled rows only (semi-supervised)."""

from __future__ import annotations

import torch
from scipy.stats import norm
from torch import Tensor, nn


class PropertyHead(nn.Module):
    """Predicts ``num_properties`` standardised targets from ``mu``; MC dropout gives uncertainty.

    Args:
        latent_dim: d.
        num_properties: P.
        hidden: width of the hidden layers.
        dropout: dropout probability (also used for MC-dropout uncertainty).
    """

    def __init__(self, latent_dim: int, num_properties: int, hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_properties),
        )
        self.register_buffer("y_mean", torch.zeros(num_properties))
        self.register_buffer("y_std", torch.ones(num_properties))
        self.register_buffer("std_scale", torch.ones(num_properties))  # set by ``calibrate`` on held-out data

    def set_normalization(self, y: Tensor) -> None:
        """Standardise targets with the labelled training rows' mean and std (``n x P``, NaN ignored)."""
        for j in range(y.shape[1]):
            col = y[:, j][~torch.isnan(y[:, j])]
            if len(col) > 1:
                self.y_mean[j] = col.mean()
                self.y_std[j] = col.std().clamp(min=1e-8)

    def forward(self, mu: Tensor) -> Tensor:
        """``batch x P`` predictions in the original units."""
        return self.net(mu) * self.y_std + self.y_mean

    def loss(self, mu: Tensor, y: Tensor) -> Tensor:
        """Masked MSE on standardised targets; 0 when the batch has no label."""
        mask = ~torch.isnan(y)
        if not mask.any():
            return mu.sum() * 0.0
        pred = self.net(mu)
        target = (torch.nan_to_num(y) - self.y_mean) / self.y_std
        return ((pred - target) ** 2)[mask].mean()

    @torch.no_grad()
    def predict(self, mu: Tensor, mc_samples: int = 0) -> tuple[Tensor, Tensor]:
        """Mean and std (``batch x P``); std from MC dropout with ``mc_samples`` passes (0 -> zeros)."""
        was_training = self.training
        if mc_samples <= 0:
            self.eval()
            mean = self(mu)
            self.train(was_training)
            return mean, torch.zeros_like(mean)
        self.train()
        draws = torch.stack([self(mu) for _ in range(mc_samples)])
        self.train(was_training)
        return draws.mean(0), draws.std(0) * self.std_scale

    @torch.no_grad()
    def calibrate(self, mu: Tensor, y: Tensor, mc_samples: int = 30, level: float = 0.9) -> dict:
        """Scale the MC-dropout std so that the central ``level`` interval covers ``level`` of held-out labels.

        Args:
            mu: ``n x d`` held-out latent means; y: ``n x P`` labels (NaN ignored).

        Returns:
            per property: coverage before and after, and the scale.
        """
        z = float(norm.ppf(0.5 + level / 2))
        self.std_scale.fill_(1.0)
        gen_state = torch.get_rng_state()
        torch.manual_seed(0)
        mean, std = self.predict(mu, mc_samples)
        torch.set_rng_state(gen_state)
        report = {}
        for j in range(y.shape[1]):
            ok = ~torch.isnan(y[:, j])
            if ok.sum() < 10:
                continue
            r = (y[ok, j] - mean[ok, j]).abs() / std[ok, j].clamp(min=1e-8)
            before = float((r <= z).float().mean())
            scale = float(torch.quantile(r, level) / z)
            self.std_scale[j] = max(scale, 1e-3)
            report[j] = {"coverage_before": before, "scale": scale, "level": level, "n": int(ok.sum())}
        return report
