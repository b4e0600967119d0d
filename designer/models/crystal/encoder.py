"""Periodic message-passing encoder, invariant to rotation, translation and atom order.

Inputs are atom types, interatomic distances over the periodic neighbour graph (with image
offsets, built once per structure) and rotation-invariant cell descriptors; nothing depends on
the orientation, the origin or the order of the atoms.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_mean_pool

from designer.models.crystal.lattice import lattice_invariants
from designer.numerics import cosine_cutoff, gaussian_smearing


class Interaction(nn.Module):
    """One gated convolution (CGCNN-like): h_i += MLP(h_i, sum_j sigma(W_f z_ij) * SiLU(W_s z_ij))."""

    def __init__(self, hidden: int, num_rbf: int):
        super().__init__()
        self.filter = nn.Linear(2 * hidden + num_rbf, 2 * hidden)
        self.update = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.norm = nn.LayerNorm(hidden)

    def forward(self, h: Tensor, src: Tensor, dst: Tensor, rbf: Tensor, envelope: Tensor) -> Tensor:
        z = torch.cat([h[dst], h[src], rbf], -1)
        gate, core = self.filter(z).chunk(2, -1)
        msg = torch.sigmoid(gate) * nn.functional.silu(core) * envelope.unsqueeze(-1)
        agg = torch.zeros_like(h).index_add_(0, dst, msg)
        deg = torch.zeros(h.shape[0], device=h.device).index_add_(0, dst, torch.ones_like(dst, dtype=h.dtype))
        agg = agg / deg.clamp(min=1).sqrt().unsqueeze(-1)
        return self.norm(h + self.update(torch.cat([h, agg], -1)))


class CrystalEncoder(nn.Module):
    """Batch of periodic graphs -> ``batch x out_dim`` features.

    Args:
        num_types: vocabulary size V.
        hidden: node width.
        layers: number of interaction layers.
        cutoff: neighbour cutoff (Å) for the radial basis.
        out_dim: output width.
    """

    def __init__(self, num_types: int, hidden: int = 128, layers: int = 4, cutoff: float = 7.0,
                 out_dim: int = 256, num_rbf: int = 40):
        super().__init__()
        self.cutoff, self.num_rbf = cutoff, num_rbf
        self.embed = nn.Embedding(num_types, hidden)
        self.layers = nn.ModuleList(Interaction(hidden, num_rbf) for _ in range(layers))
        self.readout = nn.Sequential(
            nn.Linear(2 * hidden + 8 + num_types, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim),
        )
        self.num_types = num_types
        self.out_dim = out_dim

    def forward(self, batch) -> Tensor:
        h = self.embed(batch.atom_types)
        src, dst = batch.edge_index
        rbf = gaussian_smearing(batch.edge_dist, 0.0, self.cutoff, self.num_rbf)
        env = cosine_cutoff(batch.edge_dist, self.cutoff)
        for layer in self.layers:
            h = layer(h, src, dst, rbf, env)
        counts = batch.num_atoms.to(h.dtype).unsqueeze(-1)
        pooled = torch.cat([global_mean_pool(h, batch.batch), global_add_pool(h, batch.batch) / counts.sqrt()], -1)
        cell = lattice_invariants(batch.lattice, batch.num_atoms)
        # element fractions: order-invariant and immediately informative about composition
        onehot = nn.functional.one_hot(batch.atom_types, self.num_types).to(h.dtype)
        fractions = global_mean_pool(onehot, batch.batch)
        return self.readout(torch.cat([pooled, cell, fractions], -1))
