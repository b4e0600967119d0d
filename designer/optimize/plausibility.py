"""Plausibility: density of a latent point under the aggregated posterior of the training data.

A Gaussian mixture (several sizes) and a Gaussian KDE (several bandwidths) are fitted to the
training latent means; the one with the best held-out log-likelihood wins. Scores are reported as
a percentile of held-out training points' own log-densities, so a training-like point sits at a
uniform percentile in [0, 100] and a point far from the data at ~0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

GMM_COMPONENTS = (1, 2, 4, 8, 16, 32)
KDE_BANDWIDTH_FACTORS = (0.25, 0.5, 1.0, 2.0)  # times Scott's rule


@dataclass
class Plausibility:
    """A fitted latent density with its reference scores.

    ``kind``: ``gmm`` or ``kde``. GMM: ``weights`` (K), ``means`` (K x d), ``covariances`` (K x d x d).
    KDE: ``means`` are the kernel centres (n x d), one isotropic ``bandwidth``.
    ``reference``: sorted log-densities of held-out training points (the percentile scale).
    """

    kind: str
    means: np.ndarray
    weights: np.ndarray
    covariances: np.ndarray | None = None
    bandwidth: float | None = None
    reference: np.ndarray = field(default_factory=lambda: np.zeros(0))
    selection: dict = field(default_factory=dict)
    _terms: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # (dtype, device) -> tensors

    def _tensors(self, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """``(means, log weights, inverse Cholesky factors K x d x d, log-determinants K)`` on a device,
        computed once per dtype and device (an acquisition evaluates the density thousands of times)."""
        key = (dtype, str(device))
        if key not in self._terms:
            means = torch.as_tensor(self.means, dtype=dtype, device=device)
            logw = torch.log(torch.as_tensor(self.weights, dtype=dtype, device=device))
            inv_chol = logdet = None
            if self.kind != "kde":
                chol = torch.linalg.cholesky(torch.as_tensor(self.covariances, dtype=dtype, device=device))
                eye = torch.eye(chol.shape[-1], dtype=dtype, device=device).expand_as(chol)
                inv_chol = torch.linalg.solve_triangular(chol, eye, upper=False)  # K x d x d
                logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
            self._terms[key] = (means, logw, inv_chol, logdet)
        return self._terms[key]

    def log_density_torch(self, z: Tensor) -> Tensor:
        """Differentiable log-density of ``... x d`` latents (shape ``...``)."""
        means, logw, inv_chol, logdet = self._tensors(z.dtype, z.device)
        d = means.shape[-1]
        if self.kind == "kde":
            h2 = float(self.bandwidth) ** 2
            sq = ((z.unsqueeze(-2) - means) ** 2).sum(-1)  # ... x n
            comp = -0.5 * sq / h2 - 0.5 * d * math.log(2 * math.pi * h2)
        else:
            diff = z.unsqueeze(-2) - means  # ... x K x d
            sol = torch.einsum("kij,...kj->...ki", inv_chol, diff)  # L^-1 (z - mu), one matrix product per component
            comp = -0.5 * (sol ** 2).sum(-1) - 0.5 * logdet - 0.5 * d * math.log(2 * math.pi)
        return torch.logsumexp(comp + logw, -1)

    def log_density(self, z) -> np.ndarray:
        """``n`` log-densities of ``n x d`` latents (numpy or torch)."""
        zt = torch.as_tensor(np.asarray(z, dtype=np.float64))
        out = [self.log_density_torch(zt[s: s + 1024]) for s in range(0, len(zt), 1024)]
        return torch.cat(out).numpy() if out else np.zeros(0)

    def percentile(self, z) -> np.ndarray:
        """``n`` plausibility percentiles in [0, 100]: share of held-out training points that are less dense."""
        return percentile_of(self.log_density(z), self.reference)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "means": self.means.tolist(), "weights": self.weights.tolist(),
                "covariances": None if self.covariances is None else self.covariances.tolist(),
                "bandwidth": self.bandwidth, "reference": self.reference.tolist(), "selection": self.selection}

    def to_tensor_dict(self) -> dict:
        """``to_dict`` with the arrays as float64 tensors: what a model file stores (a pure-Python
        ``torch.load(weights_only=True)`` reads 10^6 numbers as tensors in milliseconds, as lists in a second)."""
        return {k: torch.tensor(v, dtype=torch.float64) if isinstance(v, list) else v for k, v in self.to_dict().items()}

    @classmethod
    def from_tensor_dict(cls, d: dict) -> "Plausibility":
        """The inverse of ``to_tensor_dict``, whatever device the file was mapped to."""
        return cls.from_dict({k: v.cpu().numpy() if isinstance(v, Tensor) else v for k, v in d.items()})

    @classmethod
    def from_dict(cls, d: dict) -> "Plausibility":
        return cls(d["kind"], np.asarray(d["means"]), np.asarray(d["weights"]),
                   None if d["covariances"] is None else np.asarray(d["covariances"]), d["bandwidth"],
                   np.asarray(d["reference"]), d.get("selection", {}))


def percentile_of(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Percent of ``reference`` values strictly below each score (ties count half)."""
    ref = np.sort(np.asarray(reference))
    if len(ref) == 0:
        return np.full(len(scores), np.nan)
    lo = np.searchsorted(ref, scores, side="left")
    hi = np.searchsorted(ref, scores, side="right")
    return 100.0 * (lo + hi) / (2 * len(ref))


def _fit_gmm(x: np.ndarray, k: int, seed: int):
    from sklearn.mixture import GaussianMixture  # only when fitting (loading a fitted density needs none)

    gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, random_state=seed, max_iter=200, n_init=1)
    gm.fit(x)
    return Plausibility("gmm", gm.means_, gm.weights_, gm.covariances_)


def _fit_kde(x: np.ndarray, factor: float) -> Plausibility:
    n, d = x.shape
    scott = n ** (-1.0 / (d + 4)) * float(np.mean(x.std(0)) + 1e-8)
    return Plausibility("kde", x.copy(), np.full(n, 1.0 / n), bandwidth=factor * scott)


def fit_plausibility(mu: np.ndarray, seed: int = 0, holdout_fraction: float = 0.2,
                     max_kde_points: int = 5000, max_points: int = 10_000) -> Plausibility:
    """Fit GMMs and KDEs to ``n x d`` training latent means; keep the best by held-out log-likelihood.

    The winner is refitted on the fit split only; its percentile scale is the held-out split's
    log-densities, so training-like points get uniform percentiles. More than ``max_points``
    latents are subsampled (seeded).
    """
    mu = np.asarray(mu, dtype=np.float64)
    rng = np.random.default_rng(seed)
    if len(mu) > max_points:  # a seeded subsample describes the density as well and keeps the fit to seconds
        mu = mu[rng.choice(len(mu), max_points, replace=False)]
    perm = rng.permutation(len(mu))
    k_ho = max(1, int(round(len(mu) * holdout_fraction)))
    ho, fit = mu[perm[:k_ho]], mu[perm[k_ho:]]
    if len(fit) < 2:
        raise ValueError("plausibility needs at least 3 training latents")
    candidates: list[tuple[str, Plausibility]] = []
    for k in GMM_COMPONENTS:
        if k * 5 <= len(fit):
            candidates.append((f"gmm{k}", _fit_gmm(fit, k, seed)))
    kde_pts = fit if len(fit) <= max_kde_points else fit[rng.choice(len(fit), max_kde_points, replace=False)]
    for f in KDE_BANDWIDTH_FACTORS:
        candidates.append((f"kde{f}", _fit_kde(kde_pts, f)))
    scores = {name: float(np.mean(p.log_density(ho))) for name, p in candidates}
    best_name = max(scores, key=scores.get)
    best = dict(candidates)[best_name]
    best.reference = np.sort(best.log_density(ho))
    best.selection = {"chosen": best_name, "heldout_mean_log_likelihood": scores,
                      "fit_points": len(fit), "heldout_points": len(ho)}
    return best
