"""Rate, distortion, KL per dimension, active units and property rank correlation of a trained model on held-out data.

Rate R = E_x KL(q(z|x) || N(0, I)) (nats per example); distortion D = E_x E_{q(z|x)} of the
model's own weighted reconstruction loss (one seeded draw of z per example), the two axes of
the rate-distortion plane (Alemi et al. 2018). A dimension is active when Cov_x(E[z_j|x]) > 0.01
(Burda et al. 2016).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.stats import spearmanr

from designer.errors import DataError
from designer.models.vae import active_units, kl_per_dim
from designer.runs import Run
from designer.training.datasets import load_training_data, make_loader


@dataclass
class LatentStats:
    """``mu``, ``logvar``: ``n x d``; ``y``: ``n x P`` labels (NaN = none); ``y_pred``: ``n x P`` head means."""

    mu: torch.Tensor
    logvar: torch.Tensor
    y: np.ndarray
    y_pred: np.ndarray
    rate: float
    distortion: float
    distortion_terms: dict = field(default_factory=dict)

    @property
    def kl_per_dim(self) -> np.ndarray:
        """``d`` mean KL of each latent dimension (nats)."""
        return kl_per_dim(self.mu, self.logvar).mean(0).numpy()

    @property
    def active(self) -> np.ndarray:
        """``d`` boolean mask of the active units."""
        return active_units(self.mu).numpy() if len(self.mu) > 1 else np.zeros(self.mu.shape[1], dtype=bool)

    def property_spearman(self) -> list[float | None]:
        """Spearman rho of the head's prediction against each property's labels (None: no head or < 3 labels)."""
        out = []
        for j in range(self.y.shape[1]):
            ok = np.isfinite(self.y[:, j]) & np.isfinite(self.y_pred[:, j]) if self.y_pred.size else np.zeros(0, bool)
            if ok.sum() < 3 or np.ptp(self.y_pred[ok, j]) == 0:
                out.append(None)
            else:
                out.append(float(spearmanr(self.y_pred[ok, j], self.y[ok, j]).statistic))
        return out


@torch.no_grad()
def latent_stats(model, items, domain: str, batch_size: int = 512, seed: int = 0) -> LatentStats:
    """Encode ``items`` (a dataset of the model's domain) and measure rate, distortion and head predictions."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    mus, logvars, ys, preds, dist, terms_sum, n = [], [], [], [], 0.0, {}, 0
    for batch in make_loader(domain, items, batch_size):
        mu, logvar = model.encode(batch)
        z = model.reparameterize(mu, logvar, gen)
        terms = model.plugin.reconstruction_loss(model.decode(z), batch)
        per_example = sum(model.loss_weights.get(k, 1.0) * v for k, v in terms.items())
        dist += float(per_example.sum())
        for k, v in terms.items():
            terms_sum[k] = terms_sum.get(k, 0.0) + float(v.sum())
        n += len(mu)
        mus.append(mu)
        logvars.append(logvar)
        ys.append(model.plugin.targets(batch).numpy())
        if model.property_head is not None:
            preds.append(model.property_head.predict(mu, 0)[0].numpy())
    mu, logvar = torch.cat(mus), torch.cat(logvars)
    y = np.concatenate(ys)
    y_pred = np.concatenate(preds) if preds else np.zeros((len(mu), 0))
    rate = float(kl_per_dim(mu, logvar).sum(1).mean())
    return LatentStats(mu, logvar, y, y_pred, rate, dist / max(n, 1), {k: v / max(n, 1) for k, v in terms_sum.items()})


def run_items(run: Run, split: str = "holdout"):
    """The run's own training data, split exactly as in training (``holdout`` or ``train``).

    A shipped model records the paths of the machine it was trained on; ``Run.training_paths``
    supplies the shipped copy then.
    """
    cfg = run.config
    paths = run.training_paths()
    if not paths:
        raise DataError(f"{cfg.data.train}: the run's training data is not found; analysis needs it "
                        "(restore the files or retrain)")
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"train": [str(p) for p in paths]})})
    data = load_training_data(cfg, init=run)
    return data.domain, (data.holdout if split == "holdout" and len(data.holdout) else data.train)
