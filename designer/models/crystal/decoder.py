"""One-shot crystal decoder: z -> number of atoms, per-slot element logits (composition), lattice, coordinates.

One network evaluation per generated structure.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from designer.models.crystal.lattice import raw_to_params


class CrystalDecoder(nn.Module):
    """``batch x d`` latents -> dict of decoder outputs.

    Outputs: ``num_atoms_logits`` (B x S, class k = k+1 atoms), ``composition_logits`` (B x V,
    element fractions), ``type_logits`` (B x S x V, the element of each slot),
    ``frac`` (B x S x 3, unwrapped fractional coordinates), ``lattice_params`` (B x 6, bounded:
    see ``lattice.py``). S = max_atoms slots; a structure with n atoms uses the first n.
    """

    def __init__(self, latent_dim: int, num_types: int, max_atoms: int, hidden: int = 512, layers: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        blocks: list[nn.Module] = []
        width = latent_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU()]
            if dropout > 0:
                blocks.append(nn.Dropout(dropout))
            width = hidden
        self.trunk = nn.Sequential(*blocks)
        self.num_atoms = nn.Linear(hidden, max_atoms)
        self.lattice = nn.Linear(hidden, 6)
        self.composition = nn.Linear(hidden, num_types)
        self.slots = nn.Linear(hidden, max_atoms * (num_types + 3))
        self.max_atoms, self.num_types = max_atoms, num_types

    def forward(self, z: Tensor) -> dict[str, Tensor]:
        h = self.trunk(z)
        slots = self.slots(h).view(-1, self.max_atoms, self.num_types + 3)
        return {
            "num_atoms_logits": self.num_atoms(h),
            "composition_logits": self.composition(h),
            "lattice_params": raw_to_params(self.lattice(h)),
            "type_logits": slots[..., : self.num_types],
            "frac": slots[..., self.num_types:],
        }
