"""The atom assignment stays on its inputs' device: only the Hungarian solver sees a CPU copy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from designer.models.crystal.assignment import assign


def _batch(seed: int = 0, B: int = 3, N: int = 5, O: int = 2):
    g = torch.Generator().manual_seed(seed)
    true = torch.rand(B, N, 3, generator=g, dtype=torch.float64)
    perm = torch.stack([torch.randperm(N, generator=g) for _ in range(B)])
    pred = torch.gather(true, 1, perm[:, :, None].expand(B, N, 3)) + 0.01 * torch.randn(B, N, 3, generator=g,
                                                                                       dtype=torch.float64)
    mask = torch.ones(B, N, dtype=torch.bool)
    mask[0, -1] = False  # a padded slot
    lattice = torch.eye(3, dtype=torch.float64).repeat(B, 1, 1) * 4.0
    ops = torch.eye(3, dtype=torch.float64).repeat(B, O, 1, 1)
    type_cost = torch.zeros(B, N, N, dtype=torch.float64)
    return pred, true, mask, lattice, ops, type_cost, perm


def test_the_assignment_recovers_a_shuffle_and_returns_on_the_inputs_device():
    pred, true, mask, lattice, ops, tc, perm = _batch()
    got, op = assign(pred, true, mask, lattice, ops, tc, num_ops=torch.tensor([1, 2, 2]))
    assert got.device == pred.device and op.device == pred.device and got.dtype == torch.long
    for b in (1, 2):  # fully occupied structures: slot i holds true atom perm[b, i]
        assert torch.equal(got[b], perm[b])
    assert sorted(got[0, :4].tolist()) == [0, 1, 2, 3] and got[0, 4] == 4  # padding keeps the identity


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_the_assignment_runs_on_cuda_and_agrees_with_the_cpu():
    args = _batch(seed=1)[:6]
    cpu_perm, cpu_op = assign(*args)
    cuda_perm, cuda_op = assign(*(a.cuda() for a in args), num_ops=None)
    assert cuda_perm.is_cuda and cuda_op.is_cuda
    assert np.array_equal(cuda_perm.cpu().numpy(), cpu_perm.numpy()) and torch.equal(cuda_op.cpu(), cpu_op)
