"""The crystal decoder's second stage: a z-conditioned periodic denoiser of coordinates and lattice.

Given a latent z, the atoms (types and count, fixed by the one-shot stage) and a noisy structure,
the network predicts the displacement back to the clean structure:

- **coordinates** live on the flat torus [0, 1)^3. Noise is wrapped-normal (DiffCSP); the target is
  ``sigma^2`` times the wrapped-normal score (a sum over periodic images, which is the
  minimum-image displacement for small ``sigma``), with its mean over the atoms removed, since a
  global shift of the origin changes nothing.
- **the lattice** lives in the unconstrained space ``r`` of ``lattice.raw_to_params``: noise and
  steps move ``r``, and every ``r`` maps to a cell of positive volume, so every intermediate lattice
  is valid by construction.

Training is denoising score matching over noise levels ``sigma`` drawn log-uniformly in
``[sigma_min, sigma_max]``; the atoms are known, so the loss needs no atom assignment. Decoding
starts from the one-shot structure taken as a noisy sample at ``start_sigma`` and integrates the
probability-flow ODE of the variance-exploding process with Euler steps on a geometric ``sigma``
grid (deterministic: one decode per input, no sampling noise).

The network sees only the atom types, wrapped fractional differences (Fourier features) and the
metric tensor ``A A^T`` (rotation-invariant), messages are summed over atoms (permutation-equivariant)
and use differences only (invariant to translation).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from designer.models.crystal.lattice import LOG_LEN_MAX, LOG_LEN_MIN, RATIO_MAX, lattice_to_params, params_to_lattice, \
    raw_to_params
from designer.numerics import gaussian_smearing, wrap_half, wrap_unit

SIGMA_MIN = 0.005
SIGMA_MAX = 0.5


def params_to_raw(p: Tensor) -> Tensor:
    """Inverse of ``raw_to_params``: ``... x 6`` bounded parameters -> ``... x 6`` unconstrained values."""
    s = ((p[..., :3] - LOG_LEN_MIN) / (LOG_LEN_MAX - LOG_LEN_MIN)).clamp(1e-6, 1 - 1e-6)
    ratios = (p[..., 3:] / RATIO_MAX).clamp(-1 + 1e-6, 1 - 1e-6)
    return torch.cat([torch.logit(s), torch.atanh(ratios)], -1)


def wrapped_normal_target(delta: Tensor, sigma: Tensor, images: int = 2) -> Tensor:
    """``sigma^2`` x the score of a wrapped normal, per coordinate.

    Args:
        delta: ``... x 3`` minimum-image difference noisy - clean, in [-0.5, 0.5).
        sigma: noise level, broadcastable to ``delta``.

    Returns:
        ``... x 3`` displacement that points back toward the clean value (``-delta`` for small sigma).
    """
    k = torch.arange(-images, images + 1, device=delta.device, dtype=delta.dtype)
    off = delta.unsqueeze(-1) - k  # ... x 3 x K
    s = sigma.unsqueeze(-1) if torch.is_tensor(sigma) else sigma
    w = torch.softmax(-off.pow(2) / (2 * s ** 2), -1)
    return -(w * off).sum(-1)


def masked_center(x: Tensor, mask: Tensor) -> Tensor:
    """Remove the mean over real atoms: ``B x N x 3`` -> ``B x N x 3`` (padding set to 0)."""
    m = mask.to(x.dtype).unsqueeze(-1)
    mean = (x * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)
    return (x - mean) * m


def sigma_schedule(start: float, steps: int, sigma_min: float = SIGMA_MIN) -> list[float]:
    """``steps + 1`` noise levels: geometric from ``start`` to ``sigma_min``, then 0."""
    if steps <= 0:
        return [0.0]
    if steps == 1:
        return [start, 0.0]
    if start <= sigma_min:
        raise ValueError(f"start sigma {start} must exceed sigma_min {sigma_min} for {steps} steps")
    lo = sigma_min
    return [start * (lo / start) ** (k / (steps - 1)) for k in range(steps)] + [0.0]


class _Layer(nn.Module):
    def __init__(self, hidden: int, edge_dim: int):
        super().__init__()
        self.edge = nn.Sequential(nn.Linear(2 * hidden + edge_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.node = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.norm = nn.LayerNorm(hidden)

    def forward(self, h: Tensor, edge: Tensor, pair_mask: Tensor, n: Tensor) -> Tensor:
        B, N, H = h.shape
        # first edge layer on [h_i, h_j, e_ij], split so the node parts cost N, not N^2, products
        first, act, second, act2 = self.edge
        w = first.weight
        node_i = h @ w[:, :H].T
        node_j = h @ w[:, H:2 * H].T
        pre = edge @ w[:, 2 * H:].T + node_i.unsqueeze(2) + node_j.unsqueeze(1) + first.bias
        msg = act2(second(act(pre))) * pair_mask.unsqueeze(-1)
        agg = msg.sum(2) / n.view(B, 1, 1)
        return self.norm(h + self.node(torch.cat([h, agg], -1)))


class CrystalRefiner(nn.Module):
    """One denoising evaluation: ``(z, types, mask, frac, raw lattice, sigma)`` -> displacements.

    Args:
        num_types: element vocabulary size V.
        latent_dim: d.
        hidden: node width.
        layers: message-passing layers.
        frequencies: Fourier frequencies of the fractional differences.
        num_rbf: radial basis size of the (minimum-image) pair distances.
    """

    def __init__(self, num_types: int, latent_dim: int, hidden: int = 128, layers: int = 4, frequencies: int = 8,
                 num_rbf: int = 16, distance: str = "min_image"):
        super().__init__()
        if distance not in ("min_image", "axis_wrapped"):
            raise ValueError(f"distance must be 'min_image' or 'axis_wrapped', not {distance!r}")
        self.distance = distance
        self.register_buffer("images", torch.cartesian_prod(*[torch.arange(-1.0, 2.0)] * 3), persistent=False)
        self.register_buffer("freqs", 2 * math.pi * torch.arange(1, frequencies + 1, dtype=torch.float))
        self.num_rbf = num_rbf
        cell_dim = 7 + 16  # normalised metric (6) + log V/N, and the noise-level embedding
        self.embed = nn.Embedding(num_types, hidden)
        self.cond = nn.Sequential(nn.Linear(latent_dim + cell_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        edge_dim = 6 * frequencies + num_rbf
        self.layers = nn.ModuleList(_Layer(hidden, edge_dim) for _ in range(layers))
        self.coord_out = nn.Linear(hidden, 3)
        self.lattice_out = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, 6))
        for lin in (self.coord_out, self.lattice_out[-1]):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    @staticmethod
    def _cell_features(lattice: Tensor, vpa: Tensor) -> Tensor:
        """``B x 3 x 3`` lattice, ``B`` volume per atom -> ``B x 7``: metric tensor in units of (V/N)^(2/3), log V/N."""
        g = lattice @ lattice.transpose(-1, -2)
        gn = g / vpa.pow(2.0 / 3.0).view(-1, 1, 1)
        iu = torch.triu_indices(3, 3, device=lattice.device)
        return torch.cat([gn[:, iu[0], iu[1]], vpa.log().unsqueeze(-1)], -1)

    def forward(self, z: Tensor, types: Tensor, mask: Tensor, frac: Tensor, raw_lattice: Tensor,
                sigma: Tensor) -> tuple[Tensor, Tensor]:
        """Predicted clean-minus-noisy displacements.

        Args:
            z: ``B x d`` latents; types: ``B x N`` vocabulary indices; mask: ``B x N`` real atoms.
            frac: ``B x N x 3`` fractional coordinates; raw_lattice: ``B x 6`` unconstrained lattice.
            sigma: ``B`` coordinate noise level.

        Returns:
            ``B x N x 3`` fractional displacement (centred over real atoms, 0 on padding) and
            ``B x 6`` displacement of the raw lattice.
        """
        B, N, _ = frac.shape
        n = mask.sum(1).clamp(min=1).to(frac.dtype)
        params = raw_to_params(raw_lattice)
        lattice = params_to_lattice(params)
        vpa = params[:, :3].sum(-1).exp() / n  # the cell is lower-triangular: volume = product of its diagonal
        cell = self._cell_features(lattice, vpa)
        level = torch.log(sigma.clamp(min=1e-4)).unsqueeze(-1)  # B x 1
        emb = torch.cat([torch.sin(level * torch.arange(1, 9, device=z.device)),
                         torch.cos(level * torch.arange(1, 9, device=z.device))], -1)
        c = self.cond(torch.cat([z, cell, emb], -1))  # B x H
        h = self.embed(types) + c.unsqueeze(1)
        d = wrap_half(frac.unsqueeze(1) - frac.unsqueeze(2))  # B x N x N x 3: d[b, i, j] = frac_j - frac_i
        ang = d.unsqueeze(-1) * self.freqs  # B x N x N x 3 x F
        fourier = torch.cat([ang.sin(), ang.cos()], -1).flatten(-2)
        vpa_len = vpa.pow(1.0 / 3.0)
        if self.distance == "min_image":  # the shortest of the 27 neighbouring images: continuous in any cell
            cart = (d.unsqueeze(-2) + self.images.to(d.dtype)) @ lattice.view(B, 1, 1, 3, 3)
            dist = cart.norm(dim=-1).min(-1).values / vpa_len.view(B, 1, 1)
        else:  # per-axis wrapping (models trained before the fix): the minimum image only in orthogonal cells
            dist = (d @ lattice.unsqueeze(1)).norm(dim=-1) / vpa_len.view(B, 1, 1)
        rbf = gaussian_smearing(dist, 0.0, 3.0, self.num_rbf)
        edge = torch.cat([fourier, rbf], -1)
        eye = torch.eye(N, dtype=torch.bool, device=mask.device)
        pair_mask = (mask.unsqueeze(1) & mask.unsqueeze(2) & ~eye).to(frac.dtype)
        for layer in self.layers:
            h = layer(h, edge, pair_mask, n)
        m = mask.to(h.dtype).unsqueeze(-1)
        s = sigma.view(B, 1, 1)
        dfrac = masked_center(self.coord_out(h) * s, mask)
        pooled = torch.cat([(h * m).sum(1) / n.unsqueeze(-1), c], -1)
        dlat = self.lattice_out(pooled) * sigma.unsqueeze(-1)
        return dfrac, dlat


def denoising_terms(refiner: CrystalRefiner, z: Tensor, types: Tensor, mask: Tensor, frac: Tensor, lattice: Tensor,
                    lattice_noise: float = 1.0, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
                    generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Per-example denoising score-matching losses (each ``B``) on the true structures.

    Args:
        z: ``B x d``; types: ``B x N``; mask: ``B x N``; frac: ``B x N x 3`` clean coordinates;
        lattice: ``B x 3 x 3`` clean lattices.
        lattice_noise: lattice noise (raw units) per unit of coordinate noise.
    """
    B = z.shape[0]
    dev, dt = frac.device, frac.dtype
    u = torch.rand(B, device=dev, dtype=dt, generator=generator)
    sigma = sigma_min * (sigma_max / sigma_min) ** u
    eps = torch.randn(frac.shape, device=dev, dtype=dt, generator=generator)
    noisy = wrap_unit(frac + sigma.view(B, 1, 1) * eps)
    target = masked_center(wrapped_normal_target(wrap_half(noisy - frac), sigma.view(B, 1, 1)), mask)
    raw = params_to_raw(lattice_to_params(lattice))
    s_lat = (lattice_noise * sigma).unsqueeze(-1)
    eps_lat = torch.randn(raw.shape, device=dev, dtype=dt, generator=generator)
    noisy_raw = raw + s_lat * eps_lat
    dfrac, dlat = refiner(z, types, mask, noisy, noisy_raw, sigma)
    m = mask.to(dt)
    n = m.sum(1).clamp(min=1)
    coords = ((dfrac - target).pow(2).sum(-1) * m).sum(1) / n / sigma.pow(2)
    lat = (dlat + s_lat * eps_lat).pow(2).mean(-1) / s_lat.squeeze(-1).pow(2)
    return {"refine_coords": coords, "refine_lattice": lat}


@torch.no_grad()
def refine(refiner: CrystalRefiner, z: Tensor, types: Tensor, mask: Tensor, frac: Tensor, raw_lattice: Tensor,
           steps: int, start_sigma: float, trajectory: list | None = None) -> tuple[Tensor, Tensor]:
    """Deterministic refinement: ``steps`` Euler steps of the probability-flow ODE from ``start_sigma``.

    Args:
        z: ``B x d``; types: ``B x N``; mask: ``B x N``; frac: ``B x N x 3`` start coordinates;
        raw_lattice: ``B x 6`` start lattice (unconstrained).
        steps: network evaluations (0 returns the input).
        trajectory: if a list, each intermediate ``(frac, raw_lattice)`` is appended.

    Returns:
        ``B x N x 3`` coordinates in [0, 1) and ``B x 6`` raw lattice.
    """
    sig = sigma_schedule(start_sigma, steps)
    x, r = frac, raw_lattice
    for k in range(steps):
        s = torch.full((len(z),), sig[k], device=z.device, dtype=frac.dtype)
        dfrac, dlat = refiner(z, types, mask, x, r, s)
        ratio = 1.0 - sig[k + 1] / sig[k]
        x = wrap_unit(x + ratio * dfrac)
        r = r + ratio * dlat
        if trajectory is not None:
            trajectory.append((x, r))
    return wrap_unit(x), r
