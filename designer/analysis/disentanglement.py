"""Disentanglement diagnostics of a latent code: total correlation, MIG, intervention score, factor correlations.

All functions are pure (numpy / torch in, floats / dicts out) and know nothing of the model. Shapes are written
BoTorch style: ``n x d`` latent codes (n items, d latent dimensions), ``n x k`` known factors.

References:
    Chen, Li, Grosse, Duvenaud (2018), "Isolating Sources of Disentanglement in Variational Autoencoders"
    (beta-TCVAE: total correlation estimator and the mutual information gap, MIG).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.metrics import mutual_info_score
from torch import Tensor

_LOG_2PI = math.log(2.0 * math.pi)
#: Elements of one ``chunk x n x d`` block of pairwise log-densities (float64: 128 MB; peak stays well below 1 GB).
_CHUNK_ELEMENTS = 2**24


def _select_dims(d: int, dims: Sequence[int] | Sequence[bool] | np.ndarray | Tensor | None) -> np.ndarray:
    """Indices of the chosen dimensions out of ``d`` (``dims``: boolean mask of length d, index list or None)."""
    if dims is None:
        return np.arange(d)
    sel = np.asarray(dims.cpu() if isinstance(dims, Tensor) else dims)
    if sel.dtype == bool:
        if sel.shape != (d,):
            raise ValueError(f"boolean dims mask must have length {d}, got shape {sel.shape}")
        return np.flatnonzero(sel)
    sel = sel.astype(int).ravel()
    if sel.size and (sel.min() < -d or sel.max() >= d):
        raise ValueError(f"dims {sel.tolist()} out of range for d={d}")
    return sel % d


def total_correlation_mws(
    mu: Tensor,
    logvar: Tensor,
    dataset_size: int,
    n_samples: int | None = None,
    generator: torch.Generator | None = None,
    dims: Sequence[int] | Sequence[bool] | Tensor | None = None,
    weighting: str = "stratified",
) -> float:
    r"""Minibatch estimate of the total correlation TC = KL(q(z) || prod_j q(z_j)) in nats (beta-TCVAE).

    One ``z_i ~ q(z | x_i)`` is drawn per row; ``log q(z_i | x_k)`` is evaluated for all pairs (in row chunks, so
    memory stays bounded for n of several thousand) and the aggregate posterior and its marginals are estimated as

        log q(z_i)    ~ logsumexp_k [log w_ik + sum_j log q(z_ij | x_k)]
        log q(z_ij)   ~ logsumexp_k [log w_ik + log q(z_ij | x_k)]
        TC            ~ mean_i [log q(z_i) - sum_j log q(z_ij)].

    Weights ``w_ik`` (``weighting``):

    - ``"stratified"`` (default, minibatch stratified sampling): ``w_ii = 1/N`` for the row the sample came from and
      ``(N-1)/(N(n-1))`` for the others. This is exact when the batch is the whole dataset (n = N) and keeps TC near
      0 for independent latents.
    - ``"mws"`` (the paper's minibatch weighted sampling, as in its training loss): ``w_ik = 1/(nN)`` for all pairs.
      That constant is fine for gradients but shifts the *value* of TC by up to ``(d-1) log(nN)`` (tens of nats);
      use it only to reproduce numbers computed that way.

    The estimate is noisy and can come out slightly negative; the raw value is returned.

    Args:
        mu: ``n x d`` posterior means of a batch drawn from a dataset of ``dataset_size`` items.
        logvar: ``n x d`` posterior log-variances (diagonal Gaussian posteriors).
        dataset_size: N, the number of items of the dataset the batch was drawn from (N >= n).
        n_samples: if given and smaller than n, a random subset of that many rows is used (drawn with
            ``generator``); caps the O(n^2 d) cost.
        generator: torch generator that seeds the subset and the posterior samples.
        dims: optional boolean mask (length d) or index list of the dimensions to keep (e.g. the active units).
        weighting: ``"stratified"`` or ``"mws"``, see above.

    Returns:
        The TC estimate in nats (a Python float).
    """
    if mu.shape != logvar.shape or mu.dim() != 2:
        raise ValueError(f"mu and logvar must both be n x d, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    if weighting not in ("stratified", "mws"):
        raise ValueError(f"weighting must be 'stratified' or 'mws', got {weighting!r}")
    mu = mu.detach().to(device="cpu", dtype=torch.float64)
    logvar = logvar.detach().to(device="cpu", dtype=torch.float64)
    sel = torch.as_tensor(_select_dims(mu.shape[1], dims), dtype=torch.long)
    mu, logvar = mu[:, sel], logvar[:, sel]
    if n_samples is not None and n_samples < mu.shape[0]:
        rows = torch.randperm(mu.shape[0], generator=generator)[:n_samples]
        mu, logvar = mu[rows], logvar[rows]
    n, d = mu.shape
    if n < 2 or d == 0:
        raise ValueError(f"need at least 2 rows and 1 dimension, got n={n}, d={d}")
    if dataset_size < n:
        raise ValueError(f"dataset_size ({dataset_size}) must be at least the number of rows used ({n})")

    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    inv_var, log_norm = torch.exp(-logvar), logvar + _LOG_2PI  # n x d each
    if weighting == "mws":
        log_w_self = log_w_other = -math.log(n * dataset_size)
    else:
        log_w_self = -math.log(dataset_size)
        log_w_other = math.log(dataset_size - 1) - math.log(dataset_size) - math.log(n - 1)

    chunk = max(1, _CHUNK_ELEMENTS // (n * d))
    tc_sum = 0.0
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        zc = z[start:stop, None, :]  # c x 1 x d
        # log q(z_ij | x_k) = -0.5 [(z_ij - mu_kj)^2 / var_kj + log var_kj + log 2 pi]: c x n x d, built in place
        lq = (zc - mu[None]).square_().mul_(inv_var[None]).add_(log_norm[None]).mul_(-0.5)
        log_w = torch.full((stop - start, n), log_w_other, dtype=mu.dtype)  # c x n
        log_w[torch.arange(stop - start), torch.arange(start, stop)] = log_w_self
        log_qz = torch.logsumexp(lq.sum(-1) + log_w, dim=1)  # c
        log_qzj = torch.logsumexp(lq.add_(log_w[..., None]), dim=1)  # c x d
        tc_sum += float((log_qz - log_qzj.sum(-1)).sum())
    return tc_sum / n


def _discretize_code(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width histogram bins of a length-n vector, as disentanglement_lib's ``_histogram_discretize``."""
    edges = np.histogram(x, bins=n_bins)[1]
    return np.digitize(x, edges[:-1])


def _discretize_factor(y: np.ndarray, n_bins: int, discrete: bool | None) -> np.ndarray:
    """Integer labels of a length-n factor: its own values if discrete, else ``n_bins`` quantile bins."""
    values, labels = np.unique(y, return_inverse=True)
    if discrete or (discrete is None and values.size <= n_bins):
        return labels
    edges = np.unique(np.quantile(y, np.linspace(0.0, 1.0, n_bins + 1))[1:-1])
    return np.searchsorted(edges, y, side="right")


def mutual_information_gap(
    codes: np.ndarray,
    factors: np.ndarray,
    n_bins: int = 20,
    discrete: Sequence[bool] | None = None,
) -> dict:
    r"""Mutual information gap (MIG) of a latent code with respect to known factors (Chen et al. 2018).

    Each code dimension is discretised into ``n_bins`` equal-width bins (as disentanglement_lib does); each
    continuous factor into ``n_bins`` quantile bins (a factor with at most ``n_bins`` distinct values is used as
    is). For factor k, ``gap_k = (MI_top1 - MI_top2) / H(factor_k)``, MI and entropy in nats.

    Args:
        codes: ``n x d`` latent codes (e.g. posterior means), d >= 2, finite.
        factors: ``n x k`` known factors (a length-n vector is one factor). NaN rows are dropped per factor.
        n_bins: number of bins for the codes and for continuous factors.
        discrete: optional length-k booleans: True uses the factor's values as labels, False always bins it.

    Returns:
        ``{"mig": mean gap over factors with non-zero entropy (None if none), "per_factor": k gaps (None for a
        constant factor), "top_dim": k dims with the largest MI (None for a constant factor), "mi": k x d nested
        list of MI values}``.
    """
    codes = np.asarray(codes, dtype=float)
    factors = np.asarray(factors, dtype=float)
    factors = factors[:, None] if factors.ndim == 1 else factors
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise ValueError(f"codes must be n x d with d >= 2, got shape {codes.shape}")
    if factors.shape[0] != codes.shape[0]:
        raise ValueError(f"codes ({codes.shape[0]} rows) and factors ({factors.shape[0]} rows) differ in length")
    if not np.isfinite(codes).all():
        raise ValueError("codes must be finite")
    k = factors.shape[1]
    if discrete is not None and len(discrete) != k:
        raise ValueError(f"discrete must have one entry per factor ({k}), got {len(discrete)}")

    binned = [_discretize_code(codes[:, j], n_bins) for j in range(codes.shape[1])]
    mi_rows, gaps, top_dims = [], [], []
    for f in range(k):
        keep = np.isfinite(factors[:, f])
        labels = _discretize_factor(factors[keep, f], n_bins, None if discrete is None else discrete[f])
        mi = np.array([mutual_info_score(labels, b[keep]) for b in binned])
        mi_rows.append(mi.tolist())
        entropy = mutual_info_score(labels, labels) if labels.size else 0.0
        if entropy <= 1e-12:
            gaps.append(None)
            top_dims.append(None)
            continue
        top2 = np.sort(mi)[::-1][:2]
        gaps.append(float((top2[0] - top2[1]) / entropy))
        top_dims.append(int(np.argmax(mi)))
    valid = [g for g in gaps if g is not None]
    return {
        "mig": float(np.mean(valid)) if valid else None,
        "per_factor": gaps,
        "top_dim": top_dims,
        "mi": mi_rows,
    }


def intervention_score(delta: np.ndarray, dims: Sequence[int] | Sequence[bool] | None = None) -> dict:
    r"""How concentrated the response of a code is to a change of one true factor.

    Row i holds ``delta_i = E[z | x_i'] - E[z | x_i]`` where x_i' differs from x_i by a small step in one factor.
    Its concentration is ``c_i = max_j delta_ij^2 / sum_j delta_ij^2``; the score rescales the mean concentration
    ``c`` as ``(c - 1/d) / (1 - 1/d)``: 1 when all change falls in one dimension, 0 when it is spread evenly over
    all d dimensions (with d = 1 the score is 1).

    Args:
        delta: ``n x d`` code changes. Rows that are all zero or not finite are dropped.
        dims: optional boolean mask (length d) or index list of the dimensions to keep (e.g. the active units);
            d is then the size of the subset.

    Returns:
        ``{"score", "raw_concentration", "top_dim" (most frequent argmax, as an index of the full code),
        "top_dim_share" (fraction of rows whose argmax is top_dim), "n" (rows used)}``; the values are None when
        no row is usable.
    """
    delta = np.asarray(delta, dtype=float)
    delta = delta[None, :] if delta.ndim == 1 else delta
    sel = _select_dims(delta.shape[1], dims)
    sq = delta[:, sel] ** 2
    total = sq.sum(axis=1)
    keep = np.isfinite(total) & (total > 0)
    sq, total = sq[keep], total[keep]
    if not keep.any():
        return {"score": None, "raw_concentration": None, "top_dim": None, "top_dim_share": None, "n": 0}
    d = sel.size
    raw = float(np.mean(sq.max(axis=1) / total))
    score = 1.0 if d == 1 else (raw - 1.0 / d) / (1.0 - 1.0 / d)
    top, count = Counter(sel[np.argmax(sq, axis=1)].tolist()).most_common(1)[0]
    return {
        "score": float(score),
        "raw_concentration": raw,
        "top_dim": int(top),
        "top_dim_share": count / int(keep.sum()),
        "n": int(keep.sum()),
    }


def factor_correlations(
    codes: np.ndarray,
    factors: np.ndarray,
    names: Sequence[str] | None = None,
    dims: Sequence[int] | Sequence[bool] | None = None,
) -> list[dict]:
    """Spearman correlation of each chosen code dimension with each factor (NaN pairs dropped).

    Args:
        codes: ``n x d`` latent codes.
        factors: ``n x k`` factors (a length-n vector is one factor).
        names: k factor names (default ``factor_0`` ...).
        dims: optional boolean mask (length d) or index list of the code dimensions to use.

    Returns:
        One ``{"dim": j, "factor": name, "spearman": rho}`` per (dim, factor) pair; rho is None where it is
        undefined (fewer than 3 finite pairs, or a constant column).
    """
    codes = np.asarray(codes, dtype=float)
    factors = np.asarray(factors, dtype=float)
    factors = factors[:, None] if factors.ndim == 1 else factors
    if factors.shape[0] != codes.shape[0]:
        raise ValueError(f"codes ({codes.shape[0]} rows) and factors ({factors.shape[0]} rows) differ in length")
    names = [f"factor_{f}" for f in range(factors.shape[1])] if names is None else list(names)
    if len(names) != factors.shape[1]:
        raise ValueError(f"got {len(names)} names for {factors.shape[1]} factors")
    out = []
    for j in _select_dims(codes.shape[1], dims):
        for f, name in enumerate(names):
            x, y = codes[:, j], factors[:, f]
            ok = np.isfinite(x) & np.isfinite(y)
            rho = None
            if ok.sum() >= 3 and np.ptp(x[ok]) > 0 and np.ptp(y[ok]) > 0:
                rho = float(spearmanr(x[ok], y[ok])[0])
            out.append({"dim": int(j), "factor": name, "spearman": rho})
    return out


def best_dim_per_factor(corr_list: Sequence[dict]) -> dict[str, dict]:
    """The code dimension with the largest |Spearman rho| for each factor of a ``factor_correlations`` list.

    Returns:
        ``{factor name: {"dim": j, "spearman": rho}}``; factors whose correlations are all undefined are left out.
    """
    best: dict[str, dict] = {}
    for row in corr_list:
        rho = row["spearman"]
        if rho is None:
            continue
        cur = best.get(row["factor"])
        if cur is None or abs(rho) > abs(cur["spearman"]):
            best[row["factor"]] = {"dim": row["dim"], "spearman": rho}
    return best
