"""Disentanglement diagnostics on synthetic codes whose answer is known (``designer.analysis.disentanglement``).

The main fixture: n=2000 items with k=3 independent uniform factors and a d=6 code whose first three dims are the
factors (+ small noise) and whose last three are dead (small noise); the "rotated" copy mixes the three live dims
with a rotation that sends e_0 onto the body diagonal (45 deg about z, then the magic angle about y, then 45 deg
about x), so every factor is spread over all live dims.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from designer.analysis import disentanglement as dis
from designer.analysis.disentanglement import (
    best_dim_per_factor,
    factor_correlations,
    intervention_score,
    mutual_information_gap,
    total_correlation_mws,
)

N = 2000


def _rot(axis: int, angle: float) -> np.ndarray:
    """3 x 3 rotation by ``angle`` about coordinate ``axis``."""
    c, s = math.cos(angle), math.sin(angle)
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(3)
    r[i, i], r[j, j], r[i, j], r[j, i] = c, c, -s, s
    return r


#: Rotation with Q e_0 = (1, -1, -1)/sqrt(3): factor 0 lands evenly on the three live dims.
Q = (_rot(0, math.pi / 4) @ _rot(1, math.atan(1 / math.sqrt(2))) @ _rot(2, math.pi / 4)).T


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    factors = rng.uniform(size=(N, 3))
    dead = 0.01 * rng.normal(size=(N, 3))
    aligned = np.concatenate([factors + 0.01 * rng.normal(size=(N, 3)), dead], axis=1)
    rotated = np.concatenate([(factors - 0.5) @ Q.T + 0.01 * rng.normal(size=(N, 3)), dead], axis=1)
    return factors, aligned, rotated


def test_rotation_is_orthogonal_and_mixing():
    np.testing.assert_allclose(Q @ Q.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.abs(Q[:, 0]), np.full(3, 1 / math.sqrt(3)), atol=1e-12)
    assert (Q**2).max() < 0.65  # no factor sits mostly on one dim


# ---------------------------------------------------------------------------------------------------------- MIG


def test_mig_aligned_high_rotated_low(synthetic):
    factors, aligned, rotated = synthetic
    good, bad = mutual_information_gap(aligned, factors), mutual_information_gap(rotated, factors)
    # measured: aligned 0.771 (per factor 0.774, 0.763, 0.774), rotated 0.059
    assert good["mig"] > 0.6
    assert good["top_dim"] == [0, 1, 2]
    assert all(0.6 < g <= 1.0 for g in good["per_factor"])
    assert bad["mig"] < 0.15
    assert good["mig"] - bad["mig"] > 0.5
    assert np.array(good["mi"]).shape == (3, 6)
    # dead dims carry almost no information (the plug-in MI of independent 20 x 20 bins is biased up by ~0.09 nats)
    mi = np.array(good["mi"])
    assert mi[:, 3:].max() < 0.15 and np.diag(mi).min() > 1.5


def test_mig_exact_on_discrete_factor():
    rng = np.random.default_rng(1)
    f = rng.integers(0, 2, size=500).astype(float)
    one_dim = mutual_information_gap(np.stack([f, np.zeros_like(f)], axis=1), f)
    assert one_dim["mig"] == pytest.approx(1.0)
    assert one_dim["mi"][0][0] == pytest.approx(mutual_information_gap(np.stack([f, f], 1), f)["mi"][0][0])
    two_dims = mutual_information_gap(np.stack([f, 3.0 * f], axis=1), f)  # information duplicated: no gap
    assert two_dims["mig"] == pytest.approx(0.0, abs=1e-12)


def test_mig_constant_factor_is_skipped_and_nan_rows_dropped(synthetic):
    factors, aligned, _ = synthetic
    base = mutual_information_gap(aligned, factors)
    with_const = mutual_information_gap(aligned, np.concatenate([factors, np.ones((N, 1))], axis=1))
    assert with_const["per_factor"][3] is None and with_const["top_dim"][3] is None
    assert with_const["mig"] == pytest.approx(base["mig"])
    assert mutual_information_gap(aligned, np.ones((N, 2)))["mig"] is None

    holes = factors.copy()
    holes[::7, 1] = np.nan
    res = mutual_information_gap(aligned, holes)
    assert res["top_dim"] == [0, 1, 2]
    assert res["per_factor"][1] == pytest.approx(base["per_factor"][1], abs=0.05)


# -------------------------------------------------------------------------------------------------- intervention


def test_intervention_aligned_vs_rotated(synthetic):
    rng = np.random.default_rng(2)
    step = 0.05
    aligned = np.zeros((N, 6))
    aligned[:, 0] = step
    aligned += 1e-4 * rng.normal(size=(N, 6))
    rotated = np.zeros((N, 6))
    rotated[:, :3] = step * Q[:, 0]
    rotated += 1e-4 * rng.normal(size=(N, 6))

    good, bad = intervention_score(aligned), intervention_score(rotated)
    # measured: aligned 0.99998, rotated 0.202 (over 6 dims) and 0.003 (over the 3 live dims)
    assert good["score"] > 0.9
    assert good["top_dim"] == 0 and good["top_dim_share"] == 1.0 and good["n"] == N
    assert bad["score"] < 0.3
    live = intervention_score(rotated, dims=[0, 1, 2])
    assert live["score"] < 0.05
    assert intervention_score(rotated, dims=[True] * 3 + [False] * 3) == live
    assert intervention_score(aligned, dims=[3, 4, 0])["top_dim"] == 0  # reported as an index of the full code


def test_intervention_exact_value_and_bad_rows():
    delta = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [np.nan, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])
    res = intervention_score(delta)
    assert res["n"] == 2
    assert res["raw_concentration"] == pytest.approx(0.75)  # rows: 0.5 and 1.0
    assert res["score"] == pytest.approx((0.75 - 0.25) / 0.75)
    assert intervention_score(np.zeros((5, 4)))["score"] is None


# ------------------------------------------------------------------------------------------- total correlation


def _gaussian_posteriors(correlated: bool, sigma: float = 0.3):
    gen = torch.Generator().manual_seed(3)
    mu = torch.randn(N, 3, generator=gen, dtype=torch.float64)
    if correlated:
        mu[:, 1] = mu[:, 0] + 0.1 * torch.randn(N, generator=gen, dtype=torch.float64)
    return mu, torch.full_like(mu, 2 * math.log(sigma))


def test_tc_independent_near_zero_correlated_large():
    mu, logvar = _gaussian_posteriors(correlated=False)
    tc_ind = total_correlation_mws(mu, logvar, N, generator=torch.Generator().manual_seed(0))
    mu_c, logvar_c = _gaussian_posteriors(correlated=True)
    tc_cor = total_correlation_mws(mu_c, logvar_c, N, generator=torch.Generator().manual_seed(0))
    # aggregate posterior of the correlated code is close to a Gaussian with corr(z0, z1) = 1/sqrt(1.09 * 1.10)
    rho = 1 / math.sqrt(1.09 * 1.10)
    analytic = -0.5 * math.log(1 - rho**2)  # 0.90 nats
    # measured: independent 0.048, correlated 0.924
    assert abs(tc_ind) < 0.15
    assert tc_cor > 0.5
    assert tc_cor == pytest.approx(analytic, abs=0.15)
    # restricted to the two independent dims of the correlated code: near 0 again
    assert abs(total_correlation_mws(mu_c, logvar_c, N, dims=[0, 2], generator=torch.Generator().manual_seed(0))) < 0.1


def test_tc_paper_weighting_differs_by_constant():
    """With n = N the paper's 1/(nN) weights shift the estimate by exactly (d - 1) log n."""
    mu, logvar = _gaussian_posteriors(correlated=False)
    strat = total_correlation_mws(mu, logvar, N, generator=torch.Generator().manual_seed(0))
    mws = total_correlation_mws(mu, logvar, N, generator=torch.Generator().manual_seed(0), weighting="mws")
    assert mws - strat == pytest.approx(2 * math.log(N), abs=1e-8)


def test_tc_matches_brute_force_and_chunking(monkeypatch):
    gen = torch.Generator().manual_seed(4)
    n, d, dataset_size = 40, 3, 500
    mu = torch.randn(n, d, generator=gen, dtype=torch.float64)
    logvar = 0.3 * torch.randn(n, d, generator=gen, dtype=torch.float64) - 1.0
    tc = total_correlation_mws(mu, logvar, dataset_size, generator=torch.Generator().manual_seed(5))

    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=torch.Generator().manual_seed(5), dtype=mu.dtype)
    lq = torch.distributions.Normal(mu[None], torch.exp(0.5 * logvar)[None]).log_prob(z[:, None])  # n x n x d
    w = torch.full((n, n), (dataset_size - 1) / (dataset_size * (n - 1)), dtype=mu.dtype)
    w.fill_diagonal_(1 / dataset_size)
    log_qz = torch.logsumexp(lq.sum(-1) + w.log(), dim=1)
    log_qzj = torch.logsumexp(lq + w.log()[..., None], dim=1)
    assert tc == pytest.approx(float((log_qz - log_qzj.sum(-1)).mean()), abs=1e-10)

    monkeypatch.setattr(dis, "_CHUNK_ELEMENTS", 7 * n * d)  # 6 chunks, the last one short
    assert total_correlation_mws(mu, logvar, dataset_size, generator=torch.Generator().manual_seed(5)) == pytest.approx(
        tc, abs=1e-10
    )


def test_tc_subset_and_input_checks():
    mu, logvar = _gaussian_posteriors(correlated=True)
    tc = total_correlation_mws(mu.float(), logvar.float(), N, n_samples=500, generator=torch.Generator().manual_seed(0))
    assert math.isfinite(tc) and tc > 0.5
    with pytest.raises(ValueError):
        total_correlation_mws(mu, logvar, dataset_size=10)
    with pytest.raises(ValueError):
        total_correlation_mws(mu, logvar[:, :2], N)


# ----------------------------------------------------------------------------------------- factor correlations


def test_factor_correlations_find_the_matching_dim(synthetic):
    factors, aligned, _ = synthetic
    names = ["a", "b", "c"]
    corr = factor_correlations(aligned, factors, names=names)
    assert len(corr) == 6 * 3
    best = best_dim_per_factor(corr)
    assert {name: best[name]["dim"] for name in names} == {"a": 0, "b": 1, "c": 2}
    assert all(abs(best[name]["spearman"]) > 0.9 for name in names)

    flipped = aligned.copy()
    flipped[:, 1] *= -1
    holes = factors.copy()
    holes[::5, 1] = np.nan
    best = best_dim_per_factor(factor_correlations(flipped, holes, names=names, dims=[1, 2]))
    assert best["b"]["dim"] == 1 and best["b"]["spearman"] < -0.9
    assert best["a"]["dim"] in (1, 2) and abs(best["a"]["spearman"]) < 0.1  # dim 0 excluded

    const = factor_correlations(aligned, np.ones(N), dims=[0])
    assert const == [{"dim": 0, "factor": "factor_0", "spearman": None}]
    assert best_dim_per_factor(const) == {}
