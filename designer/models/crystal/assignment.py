"""Matching predicted atoms to true atoms on the torus, invariant to order, origin and lattice symmetry.

For each structure we search over (lattice automorphism M, anchor shift t, permutation pi) for the
minimum of

    sum_i  w_c |wrap(pred_i + t - (true @ M)_pi(i)) @ A|^2 / l^2  +  w_t type_cost[i, pi(i)]

Candidate shifts align predicted slot 0 with each true atom, so the candidate set moves with the
structure (shift invariance); the min-image wrap makes whole lattice translations irrelevant; and
a proxy (each predicted atom's nearest true atom) ranks (M, t) candidates before an exact
Hungarian assignment (scipy) on the best few. Runs under ``no_grad``: it only chooses indices.
Everything runs on the inputs' device except the Hungarian solver, which gets an explicit CPU
copy of the few cost matrices it needs; the indices come back on the inputs' device.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from designer.numerics import wrap_half

_CHUNK_ELEMENTS = 8_000_000


@torch.no_grad()
def assign(
    pred_frac: Tensor,
    true_frac: Tensor,
    mask: Tensor,
    lattice: Tensor,
    ops: Tensor,
    type_cost: Tensor,
    type_weight: float = 1.0,
    top_k: int = 4,
    num_ops: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Best assignment of predicted slots to true atoms.

    Args:
        pred_frac: ``B x N x 3`` predicted fractional coordinates (first N slots).
        true_frac: ``B x N x 3`` true fractional coordinates (padded).
        mask: ``B x N`` bool, True for real atoms (structure b has ``mask[b].sum()`` atoms, first slots).
        lattice: ``B x 3 x 3`` true lattice (rows), to measure distances in Å.
        ops: ``B x O x 3 x 3`` lattice automorphisms (identity padding allowed).
        type_cost: ``B x N x N`` cost of giving predicted slot i the type of true atom j.
        type_weight: weight of ``type_cost`` against the squared normalised distance.
        top_k: number of best (op, shift) candidates solved exactly.
        num_ops: optional ``B`` number of distinct leading ops per structure; structures are then
            processed in chunks of similar op counts, each paying only for its own maximum.

    Returns:
        perm: ``B x N`` long, true index for each predicted slot (identity on padding), on
            ``pred_frac.device``.
        op_index: ``B`` long, the chosen automorphism, on ``pred_frac.device``.
    """
    B, N, _ = pred_frac.shape
    O = ops.shape[1]
    n_atoms = mask.sum(1)
    vol = torch.linalg.det(lattice).abs()
    scale2 = ((vol / n_atoms.clamp(min=1)) ** (2.0 / 3.0)).view(B, 1, 1, 1, 1)
    big = torch.finfo(pred_frac.dtype).max / 16

    device = pred_frac.device
    perm_out = torch.arange(N).repeat(B, 1)  # CPU: filled from the CPU solver, moved once at the end
    op_out = torch.zeros(B, dtype=torch.long)
    counts = torch.full((B,), O, dtype=torch.long) if num_ops is None else num_ops.detach().cpu().clamp(1, O)
    order = torch.argsort(counts, stable=True)
    start = 0
    while start < B:
        o_max = int(counts[order[min(B - 1, start)]])
        chunk = max(1, _CHUNK_ELEMENTS // (o_max * N * N * N * 3))
        idx = order[start: start + chunk]  # CPU indices
        o_max = int(counts[idx].max())
        start += len(idx)
        di = idx.to(device)
        pf, tf, m, lat, op = pred_frac[di], true_frac[di], mask[di], lattice[di], ops[di, :o_max]
        tc = type_cost[di]
        b, O_c = pf.shape[0], o_max
        t_ops = torch.einsum("bnk,bokl->bonl", tf, op)  # b x O x N x 3
        shifts = t_ops - pf[:, None, None, 0, :]  # b x O x K(=N) x 3: slot 0 onto true atom k
        # diff[b,o,k,i,j] = pred_i + shift_k - true_j
        diff = pf[:, None, None, :, None, :] + shifts[:, :, :, None, None, :] - t_ops[:, :, None, None, :, :]
        cart = wrap_half(diff) @ lat[:, None, None, None]  # b x O x K x N x N x 3 (matmul broadcast)
        cost = cart.pow(2).sum(-1) / scale2[di] + type_weight * tc[:, None, None]
        valid_j = m[:, None, None, None, :]
        cost = torch.where(valid_j, cost, torch.full_like(cost, big))
        proxy = (cost.min(-1).values * m[:, None, None, :]).sum(-1)  # b x O x K
        proxy = torch.where(m[:, None, :], proxy, torch.full_like(proxy, big))  # only real anchors
        flat = proxy.reshape(b, -1)
        k = min(top_k, flat.shape[1])
        best = flat.topk(k, largest=False).indices  # b x k
        rows_needed = torch.gather(cost.reshape(b, O_c * N, N, N), 1,
                                   best[:, :, None, None].expand(b, k, N, N))  # only the k candidates solved
        cost_np = rows_needed.detach().cpu().numpy()  # the solver's explicit CPU copy: b x k x N x N
        best_c_all = best.cpu().tolist()
        n_all = m.sum(1).cpu().tolist()
        for bi in range(b):
            n = int(n_all[bi])
            best_val, best_perm, best_c = np.inf, None, 0
            for kk, c in enumerate(best_c_all[bi]):
                if c % N >= n:
                    continue
                sub = cost_np[bi, kk, :n, :n]
                rows, cols = linear_sum_assignment(sub)
                val = sub[rows, cols].sum()
                if val < best_val:
                    best_val, best_perm, best_c = val, cols, c
            if best_perm is not None:
                perm_out[idx[bi], :n] = torch.from_numpy(best_perm)
                op_out[idx[bi]] = best_c // N
    return perm_out.to(device), op_out.to(device)
