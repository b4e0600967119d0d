"""Reconstruction losses of the crystal decoder: periodic coordinates, types, lattice, atom count."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from designer.models.crystal.assignment import assign
from designer.models.likelihoods import Likelihood, nll, norm_nll
from designer.numerics import circular_mean, wrap_half


def aligned_residuals(pred_frac: Tensor, true_frac: Tensor, mask: Tensor, lattice: Tensor, ops: Tensor,
                      type_cost: Tensor, type_weight: float = 1.0, num_ops: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Minimum-image Cartesian residuals after the best assignment, symmetry op and global shift.

    Args:
        pred_frac: ``B x N x 3`` predicted fractional coordinates (any real values).
        true_frac: ``B x N x 3`` true fractional coordinates, padded.
        mask: ``B x N`` real atoms.
        lattice: ``B x 3 x 3`` true lattices (rows).
        ops: ``B x O x 3 x 3`` lattice automorphisms.
        type_cost: ``B x N x N`` extra cost of pairing predicted slot i with true atom j.

    Returns:
        residual: ``B x N x 3`` residual vectors in units of (V/N)^(1/3) (zero on padding).
        perm: ``B x N`` the true atom paired with each predicted slot.
    """
    perm, op_idx = assign(pred_frac.detach(), true_frac, mask, lattice, ops, type_cost.detach(), type_weight,
                          num_ops=num_ops)
    op = ops[torch.arange(len(op_idx), device=ops.device), op_idx]  # B x 3 x 3
    target = torch.einsum("bnk,bkl->bnl", true_frac, op)
    target = torch.gather(target, 1, perm.unsqueeze(-1).expand(-1, -1, 3))
    d = wrap_half(target - pred_frac)
    shift = circular_mean(d.detach(), mask.to(d.dtype))  # B x 3: best global origin shift
    r = wrap_half(pred_frac + shift.unsqueeze(1) - target)
    vol = torch.linalg.det(lattice).abs()
    scale = (vol / mask.sum(1).clamp(min=1)) ** (1.0 / 3.0)
    cart = (r @ lattice) / scale.view(-1, 1, 1)
    return cart * mask.unsqueeze(-1), perm


def periodic_coordinate_loss(pred_frac: Tensor, true_frac: Tensor, lattice: Tensor, pred_types: Tensor | None = None,
                             true_types: Tensor | None = None, ops: Tensor | None = None,
                             likelihood: Likelihood = "gaussian") -> Tensor:
    """Coordinate loss of one structure: invariant to atom order, a global shift and lattice translations.

    A predicted atom may only be paired with a true atom of the same type.

    Args:
        pred_frac, true_frac: ``N x 3`` fractional coordinates.
        lattice: ``3 x 3`` rows are lattice vectors.
        pred_types, true_types: ``N`` integer types (None: all atoms alike).
        ops: ``O x 3 x 3`` lattice automorphisms to be invariant to (None: identity only).

    Returns:
        scalar mean NLL of the normalised minimum-image residuals.
    """
    n = len(true_frac)
    dev = pred_frac.device
    zeros = torch.zeros(n, dtype=torch.long, device=dev)
    pt = zeros if pred_types is None else pred_types
    tt = zeros if true_types is None else true_types
    type_cost = (pt.view(-1, 1) != tt.view(1, -1)).to(pred_frac.dtype) * 1e6
    ops = torch.eye(3, dtype=pred_frac.dtype, device=dev).unsqueeze(0) if ops is None else ops
    res, _ = aligned_residuals(pred_frac[None], true_frac[None], torch.ones(1, n, dtype=torch.bool, device=dev),
                               lattice[None], ops[None], type_cost[None])
    return norm_nll(res[0], likelihood).mean()


def crystal_reconstruction_terms(decoded: dict[str, Tensor], true_types: Tensor, true_frac: Tensor, mask: Tensor,
                                 lattice: Tensor, ops: Tensor, lattice_target: Tensor, lattice_scale: Tensor,
                                 likelihood: Likelihood, type_weight: float = 1.0,
                                 num_ops: Tensor | None = None) -> dict[str, Tensor]:
    """Per-example loss terms (each ``B``) of the crystal decoder.

    Args:
        decoded: ``num_atoms_logits`` (B x S), ``composition_logits`` (B x V), ``lattice_params`` (B x 6),
            ``type_logits`` (B x S x V),
            ``frac`` (B x S x 3).
        true_types: ``B x N`` vocabulary indices (padded); ``true_frac`` ``B x N x 3``; ``mask`` ``B x N``.
        lattice: ``B x 3 x 3`` true lattice; ``ops`` ``B x O x 3 x 3`` its automorphisms.
        lattice_target: ``B x 6`` true lattice parameters; ``lattice_scale`` ``6`` their scales.
    """
    B, N = true_types.shape
    n_atoms = mask.sum(1)
    logp = F.log_softmax(decoded["type_logits"][:, :N], -1)  # B x N x V
    type_cost = -torch.gather(logp, 2, true_types.unsqueeze(1).expand(-1, N, -1))  # [b, i, j]
    res, perm = aligned_residuals(decoded["frac"][:, :N], true_frac, mask, lattice, ops, type_cost, type_weight,
                                  num_ops)
    m = mask.to(res.dtype)
    coords = (norm_nll(res, likelihood) * m).sum(1) / n_atoms
    matched_types = torch.gather(true_types, 1, perm)
    types = (F.nll_loss(logp.transpose(1, 2), matched_types, reduction="none") * m).sum(1) / n_atoms
    # composition: cross-entropy between the true element fractions and the predicted ones (no assignment needed)
    V = decoded["composition_logits"].shape[-1]
    fractions = torch.zeros(B, V, dtype=res.dtype, device=res.device).scatter_add_(1, true_types, m) / n_atoms.unsqueeze(1)
    composition = -(fractions * F.log_softmax(decoded["composition_logits"], -1)).sum(1)
    lat = nll(decoded["lattice_params"] - lattice_target, likelihood, lattice_scale).mean(1)
    num_atoms = F.cross_entropy(decoded["num_atoms_logits"], n_atoms - 1, reduction="none")
    return {"num_atoms": num_atoms, "composition": composition, "atom_types": types, "lattice": lat, "coords": coords}
