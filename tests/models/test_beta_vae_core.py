"""The domain-free beta-VAE core: beta schedules, KL per latent dimension, free bits."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from designer.models.vae import BetaVAE, beta_at, free_bits_kl, kl_per_dim

BETA = 0.25

# --------------------------------------------------------------------------- beta schedules


@pytest.mark.parametrize("epoch", [0.0, 0.5, 3.0, 1000.0])
def test_constant_schedule(epoch):
    assert beta_at(epoch, BETA, "constant", warmup_epochs=10, cycle_epochs=4, ratio=0.5) == BETA


def test_linear_warmup():
    f = lambda e: beta_at(e, BETA, "linear", warmup_epochs=10)  # noqa: E731
    assert f(0.0) == 0.0
    assert f(5.0) == pytest.approx(BETA / 2)
    assert f(10.0) == pytest.approx(BETA)
    assert f(25.0) == pytest.approx(BETA)  # holds after the warm-up
    values = [f(e / 4) for e in range(60)]
    assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))  # never decreases
    assert max(values) == pytest.approx(BETA)


def test_linear_without_warmup_is_constant():
    assert beta_at(0.0, BETA, "linear", warmup_epochs=0) == BETA


def test_cyclical_resets_each_cycle():
    f = lambda e: beta_at(e, BETA, "cyclical", cycle_epochs=4, ratio=0.5)  # noqa: E731
    for k in range(4):
        start = 4.0 * k
        assert f(start) == pytest.approx(0.0), k  # reset at every cycle start
        assert f(start + 1.0) == pytest.approx(BETA / 2), k  # half-way up the ramp (ramp = 2 epochs)
        assert f(start + 2.0) == pytest.approx(BETA), k  # top of the ramp
        assert f(start + 3.9) == pytest.approx(BETA), k  # holds until the cycle ends
    assert f(3.99) > f(4.01)  # the drop at the cycle boundary


@settings(max_examples=50, deadline=None)
@given(frac=st.floats(0.001, 0.999), cycle=st.floats(0.5, 20), ratio=st.floats(0.05, 1.0), k=st.integers(1, 5))
def test_cyclical_is_periodic_and_bounded(frac, cycle, ratio, k):
    a = beta_at(frac * cycle, BETA, "cyclical", cycle_epochs=cycle, ratio=ratio)
    assert 0.0 <= a <= BETA
    b = beta_at((k + frac) * cycle, BETA, "cyclical", cycle_epochs=cycle, ratio=ratio)
    assert b == pytest.approx(a, rel=1e-6, abs=1e-9)
    assert a == pytest.approx(BETA * min(1.0, frac / ratio), rel=1e-6, abs=1e-9)


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError):
        beta_at(1.0, BETA, "sigmoid")


# --------------------------------------------------------------------------- KL


def test_kl_per_dim_is_zero_at_the_prior():
    kl = kl_per_dim(torch.zeros(5, 7), torch.zeros(5, 7))
    assert kl.shape == (5, 7)
    assert torch.equal(kl, torch.zeros(5, 7))


@settings(max_examples=50, deadline=None)
@given(mu=st.floats(-5, 5), logvar=st.floats(-6, 4))
def test_kl_per_dim_matches_torch_distributions(mu, logvar):
    m, lv = torch.tensor([[mu, 0.0]], dtype=torch.float64), torch.tensor([[logvar, 0.0]], dtype=torch.float64)
    kl = kl_per_dim(m, lv)
    q = torch.distributions.Normal(m, torch.exp(0.5 * lv))
    p = torch.distributions.Normal(torch.zeros_like(m), torch.ones_like(m))
    torch.testing.assert_close(kl, torch.distributions.kl_divergence(q, p), rtol=1e-9, atol=1e-12)
    assert kl[0, 0] >= -1e-12 and kl[0, 1] == 0  # per dimension: the untouched one stays 0


def test_free_bits_clamps_each_dimension():
    # batch mean per dimension: [0.1, 1.0, 3.0]
    kl = torch.tensor([[0.0, 0.5, 2.0], [0.2, 1.5, 4.0]])
    assert free_bits_kl(kl, 0.0).item() == pytest.approx(0.1 + 1.0 + 3.0)
    assert free_bits_kl(kl, 0.5).item() == pytest.approx(0.5 + 1.0 + 3.0)
    assert free_bits_kl(kl, 2.0).item() == pytest.approx(2.0 + 2.0 + 3.0)


def test_free_bits_stop_the_gradient_of_dimensions_below_the_floor():
    kl = torch.tensor([[0.0, 0.5, 2.0], [0.2, 1.5, 4.0]], requires_grad=True)
    free_bits_kl(kl, 0.5).backward()
    grad = kl.grad.sum(0)
    assert grad[0] == 0  # below the floor: not penalised
    assert grad[1] > 0 and grad[2] > 0


# --------------------------------------------------------------------------- the core on a toy plug-in


class ToyPlugin(torch.nn.Module):
    """A minimal domain: vectors in, vectors out, Gaussian reconstruction."""

    feature_dim = 6

    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Linear(4, 6)
        self.dec = torch.nn.Linear(3, 4)

    def encode_features(self, batch):
        return self.enc(batch)

    def decode(self, z):
        return {"x": self.dec(z)}

    def reconstruction_loss(self, decoded, batch):
        return {"mse": ((decoded["x"] - batch) ** 2).sum(-1)}

    def targets(self, batch):
        return torch.full((len(batch), 0), float("nan"))


def test_elbo_terms_and_beta():
    torch.manual_seed(0)
    vae = BetaVAE(ToyPlugin(), latent_dim=3)
    x = torch.randn(8, 4)
    out0 = vae.loss(x, beta=0.0, sample=False)
    out1 = vae.loss(x, beta=2.0, sample=False)
    assert out0["kl_per_dim"].shape == (3,)
    assert out0["kl"].item() == pytest.approx(out0["kl_per_dim"].sum().item(), rel=1e-5)
    assert out0["loss"].item() == pytest.approx(out0["recon"].item(), rel=1e-6)
    assert out1["loss"].item() == pytest.approx(out1["recon"].item() + 2.0 * out1["kl"].item(), rel=1e-5)
    out_fb = vae.loss(x, beta=2.0, free_bits=100.0, sample=False)  # every dimension under the floor
    assert out_fb["loss"].item() == pytest.approx(out_fb["recon"].item() + 2.0 * 3 * 100.0, rel=1e-5)


def test_loss_weights_scale_named_terms():
    torch.manual_seed(0)
    plain = BetaVAE(ToyPlugin(), 3)
    weighted = BetaVAE(ToyPlugin(), 3, loss_weights={"mse": 0.5})
    weighted.load_state_dict(plain.state_dict())
    x = torch.randn(8, 4)
    a, b = plain.loss(x, beta=0.0, sample=False), weighted.loss(x, beta=0.0, sample=False)
    assert a["recon"].item() > 0
    assert b["recon"].item() == pytest.approx(0.5 * a["recon"].item(), rel=1e-5)
    assert b["mse"].item() == pytest.approx(a["mse"].item(), rel=1e-6)  # the logged term is unweighted


def test_prior_samples_are_seeded():
    vae = BetaVAE(ToyPlugin(), latent_dim=3)
    a = vae.sample_prior(4, generator=torch.Generator().manual_seed(1))
    b = vae.sample_prior(4, generator=torch.Generator().manual_seed(1))
    assert a.shape == (4, 3) and torch.equal(a, b)
    assert torch.equal(vae.sample_prior(4, generator=torch.Generator().manual_seed(1), temperature=0.0),
                       torch.zeros(4, 3))
