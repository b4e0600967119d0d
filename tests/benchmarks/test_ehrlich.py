"""Ehrlich test function (designer.objectives.ehrlich): construction, values, feasibility, holo parity."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from designer.objectives import Ehrlich

SMALL = dict(num_states=32, dim=32, num_motifs=4, motif_length=4, quantization=4)
LONG = dict(num_states=32, dim=128, num_motifs=4, motif_length=4, quantization=4)


def reference_value(fn: Ehrlich, seq: list[int]) -> float:
    """Plain-Python f(x) straight from the definition (holo's quantisation rule)."""
    allowed = (fn.transition_matrix > 0).tolist()
    if not all(allowed[a][b] for a, b in zip(seq[:-1], seq[1:])):
        return fn.infeasible_value
    k, q = fn.motif_length, fn.quantization
    step = math.ceil(k / q)
    value = 1.0
    for motif, spacing in zip(fn.motifs, fn.spacings):
        offsets = [0, *itertools.accumulate(spacing.tolist())]
        best = 0.0
        for start in range(len(seq) - offsets[-1]):
            count = sum(seq[start + o] == m for o, m in zip(offsets, motif.tolist()))
            best = max(best, (count // step) / (k / step))
        value *= best
    return value


def feasible_mutant(fn: Ehrlich, seq: torch.Tensor, pos: int, rng: np.random.Generator) -> torch.Tensor:
    """``seq`` with position ``pos`` changed to another state keeping both transitions allowed."""
    allowed = fn.feasibility_mask
    ok = torch.ones(fn.num_states, dtype=torch.bool)
    if pos > 0:
        ok &= allowed[seq[pos - 1]]
    if pos < fn.dim - 1:
        ok &= allowed[:, seq[pos + 1]]
    ok[seq[pos]] = False
    out = seq.clone()
    out[pos] = int(rng.choice(np.flatnonzero(ok.numpy())))
    return out


def anchor_positions(fn: Ehrlich) -> list[list[int]]:
    """Positions of each motif's elements in ``optimal_solution()`` (motifs laid out in order)."""
    positions, start = [], 0
    for spacing in fn.spacings:
        offsets = [0, *itertools.accumulate(spacing.tolist())]
        positions.append([start + o for o in offsets])
        start += offsets[-1] + 1
    return positions


@pytest.mark.parametrize("config", [SMALL, LONG, dict(num_states=8, dim=24, num_motifs=3, motif_length=3)])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_optimal_solution_is_feasible_and_scores_one(config, seed):
    fn = Ehrlich(**config, random_seed=seed)
    opt = fn.optimal_solution()
    assert opt.shape == (fn.dim,) and opt.dtype == torch.int64
    assert bool(fn.is_feasible(opt))
    assert float(fn(opt)) == 1.0 == fn.optimal_value
    assert fn(opt.unsqueeze(0)).tolist() == [1.0]


@pytest.mark.parametrize("config", [SMALL, LONG])
def test_initial_solutions_are_feasible_and_suboptimal(config):
    fn = Ehrlich(**config, random_seed=0)
    x = fn.initial_solution(16)
    assert x.shape == (16, fn.dim)
    assert fn.is_feasible(x).all()
    f = fn(x)
    assert f.shape == (16,) and ((f >= 0) & (f < 1)).all()
    assert torch.equal(x, fn.initial_solution(16))  # reseeded with random_seed, like holo
    assert not torch.equal(x, fn.initial_solution(16, seed=1))


def test_infeasible_sequence_gets_infeasible_value():
    fn = Ehrlich(**SMALL, random_seed=0)
    x = fn.optimal_solution().clone()
    banned = (~fn.feasibility_mask[x[0]]).nonzero().flatten()
    assert banned.numel() > 0  # the banded matrix forbids some transitions
    x[1] = banned[0]
    assert not bool(fn.is_feasible(x))
    assert float(fn(x)) == float("-inf")  # holo's default
    zero = Ehrlich(**SMALL, random_seed=0, infeasible_value=0.0)
    assert float(zero(x)) == 0.0 and float(zero(fn.optimal_solution())) == 1.0
    # uniformly random sequences are almost surely infeasible; never scored in [0, 1]
    r = fn.random_solution(32, generator=torch.Generator().manual_seed(0))
    f, feas = fn(r), fn.is_feasible(r)
    assert torch.equal(torch.isinf(f), ~feas) and not feas.all()


@pytest.mark.parametrize("quantization", [4, 2])
def test_values_are_products_of_quantised_levels(quantization):
    fn = Ehrlich(**{**SMALL, "quantization": quantization}, random_seed=1)
    rng = np.random.default_rng(0)
    opt = fn.optimal_solution()
    seqs = [fn.initial_solution(8)]
    for _ in range(24):  # optimum with 1-4 feasible point mutations
        s = opt
        for pos in rng.choice(fn.dim, size=rng.integers(1, 5), replace=False):
            s = feasible_mutant(fn, s, int(pos), rng)
        seqs.append(s.unsqueeze(0))
    x = torch.cat(seqs)
    f = fn(x)
    assert fn.is_feasible(x).all() and ((f >= 0) & (f <= 1)).all()
    presence = fn.motif_presence(x)  # n x c
    assert presence.shape == (x.shape[0], fn.num_motifs)
    assert fn.quantization_levels == quantization + 1
    levels = presence * quantization
    assert torch.equal(levels, levels.round())  # multiples of 1/q
    assert torch.allclose(f, presence.prod(-1))
    assert len(torch.unique(presence)) > 1
    # f * q^c is an integer: a product of multiples of 1/q
    scaled = f * quantization**fn.num_motifs
    assert torch.allclose(scaled, scaled.round(), atol=1e-9)
    # and agrees with a from-the-definition reference
    assert f.tolist() == pytest.approx([reference_value(fn, s) for s in x.tolist()], abs=1e-12)


def test_matches_reference_on_random_walks_and_batch_shapes():
    fn = Ehrlich(num_states=6, dim=20, num_motifs=2, motif_length=3, random_seed=5)
    x = fn.initial_solution(40, seed=11)
    f = fn(x)
    assert f.tolist() == pytest.approx([reference_value(fn, s) for s in x.tolist()], abs=1e-12)
    assert fn(x.view(4, 10, fn.dim)).shape == (4, 10)
    # numpy in, numpy out; float tensors holding integers (as BoTorch passes them) are accepted
    out = fn(x.numpy())
    assert isinstance(out, np.ndarray) and np.array_equal(out, f.numpy())
    assert torch.equal(fn(x.double()), f)
    with pytest.raises(ValueError):
        fn(x + fn.num_states)
    with pytest.raises(ValueError):
        fn(x[:, :-1])


def test_seed_determinism():
    a, b, c = (Ehrlich(**SMALL, random_seed=s) for s in (7, 7, 8))
    assert torch.equal(a.transition_matrix, b.transition_matrix)
    assert all(torch.equal(m, n) for m, n in zip(a.motifs, b.motifs))
    assert all(torch.equal(m, n) for m, n in zip(a.spacings, b.spacings))
    assert torch.equal(a.initial_solution(4), b.initial_solution(4))
    assert not torch.equal(a.transition_matrix, c.transition_matrix)
    assert [m.tolist() for m in a.motifs] != [m.tolist() for m in c.motifs]
    # the global default dtype does not change the instance
    old = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        d = Ehrlich(**SMALL, random_seed=7)
    finally:
        torch.set_default_dtype(old)
    assert torch.equal(a.transition_matrix, d.transition_matrix)


def test_instance_structure():
    fn = Ehrlich(**LONG, random_seed=2)
    v, k = fn.num_states, fn.motif_length
    assert fn.transition_matrix.shape == (v, v)
    assert torch.allclose(fn.transition_matrix.sum(-1), torch.ones(v))
    assert fn.feasibility_mask.diagonal().all()  # repeats always allowed
    per_row = fn.feasibility_mask.sum(-1)
    band = 2 * int(0.4 * v) + 1
    assert ((per_row == band) | (per_row == band + 1)).all()
    assert len(fn.motifs) == len(fn.spacings) == fn.num_motifs
    budget = (fn.dim - fn.num_motifs * k) // fn.num_motifs
    for m, s in zip(fn.motifs, fn.spacings):
        assert m.shape == (k,) and s.shape == (k - 1,)
        assert (s >= 1).all() and int(s.sum()) <= (k - 1) + budget
    chain = torch.cat(fn.motifs)  # motifs are chunks of one feasible trajectory
    assert bool(fn.feasibility_mask[chain[:-1], chain[1:]].all())
    with pytest.raises(ValueError):
        Ehrlich(num_states=32, dim=15, num_motifs=4, motif_length=4)


@pytest.mark.parametrize("quantization,expected", [(4, 0.75), (2, 0.5)])
def test_single_mutation_lowers_f_by_one_quantum(quantization, expected):
    fn = Ehrlich(**{**SMALL, "quantization": quantization}, random_seed=0)
    opt = fn.optimal_solution()
    rng = np.random.default_rng(3)
    for motif_idx, positions in enumerate(anchor_positions(fn)):
        for pos in positions:
            x = feasible_mutant(fn, opt, pos, rng)
            assert bool(fn.is_feasible(x))
            assert float(fn(x)) == expected
            presence = fn.motif_presence(x)
            assert float(presence[motif_idx]) == expected
            assert presence.sum() == fn.num_motifs - 1 + expected


def test_negate_and_noise():
    fn = Ehrlich(**SMALL, random_seed=0)
    neg = Ehrlich(**SMALL, random_seed=0, negate=True)
    x = torch.cat([fn.initial_solution(8), fn.optimal_solution().unsqueeze(0), fn.random_solution(4)])
    assert torch.equal(neg(x), -fn(x))  # infeasible -inf becomes +inf, as in BoTorch/holo
    assert neg.optimal_value == -1.0
    noisy = Ehrlich(**SMALL, random_seed=0, noise_std=0.1)
    g = torch.Generator().manual_seed(0)
    y = noisy(x, generator=g)
    feas = fn.is_feasible(x)
    assert not torch.equal(y[feas], fn(x)[feas])
    assert torch.equal(y[~feas], fn(x)[~feas])
    assert torch.equal(noisy(x, noise=False), fn(x))
    assert torch.equal(noisy.evaluate_true(x), fn(x))


def test_from_parameters_round_trip():
    fn = Ehrlich(**LONG, random_seed=3)
    copy = Ehrlich.from_parameters(
        fn.transition_matrix.numpy(), [m.tolist() for m in fn.motifs], fn.spacings, dim=fn.dim, quantization=4
    )
    x = torch.cat([fn.initial_solution(16), fn.random_solution(8), fn.optimal_solution().unsqueeze(0)])
    assert torch.equal(copy(x), fn(x))
    assert torch.equal(copy.optimal_solution(), fn.optimal_solution())
    assert torch.equal(copy.initial_solution(4, seed=3), fn.initial_solution(4))
    with pytest.raises(ValueError):
        Ehrlich.from_parameters(fn.transition_matrix, fn.motifs, fn.spacings[:1], dim=fn.dim)


def test_quantization_that_cannot_reach_the_optimum_warns():
    with pytest.warns(UserWarning, match="unreachable"):
        fn = Ehrlich(num_states=16, dim=20, num_motifs=1, motif_length=5, quantization=2)
    assert fn.quantization_levels == 2  # ceil(5/2) = 3: counts 0-2 -> 0, 3-5 -> 0.6
    with pytest.raises(RuntimeError):
        fn.optimal_solution()


def test_matches_recorded_holo_instance():
    """pytorch-holo 0.0.5 (torch 2.13 CPU), Ehrlich(32, 32, 4, 4, quantization=4, random_seed=0)."""
    fn = Ehrlich(**SMALL, random_seed=0)
    assert [m.tolist() for m in fn.motifs] == [[10, 17, 13, 30], [14, 21, 28, 13], [14, 28, 13, 16], [26, 6, 7, 24]]
    assert [s.tolist() for s in fn.spacings] == [[2, 2, 1], [1, 3, 2], [2, 1, 3], [2, 2, 1]]
    assert fn.optimal_solution().tolist() == [
        10, 10, 17, 17, 13, 30, 14, 21, 21, 21, 28, 28, 13, 14, 14, 28,
        13, 13, 13, 16, 26, 26, 6, 6, 7, 24, 24, 24, 24, 24, 24, 24,
    ]  # fmt: skip
    assert fn.initial_solution(2)[0].tolist() == [
        30, 14, 2, 5, 7, 25, 13, 16, 26, 19, 12, 9, 22, 11, 3, 0,
        29, 24, 2, 1, 27, 0, 23, 3, 26, 19, 7, 1, 27, 0, 18, 25,
    ]  # fmt: skip
    assert fn(fn.initial_solution(4)).tolist() == [0.015625, 0.015625, 0.0078125, 0.0078125]


def test_agrees_with_holo():
    holo_cf = pytest.importorskip("holo.test_functions.closed_form")
    for config, seed in [(SMALL, 0), (LONG, 1)]:
        ref = holo_cf.Ehrlich(**config, random_seed=seed)
        fn = Ehrlich(**config, random_seed=seed)
        assert torch.equal(ref.transition_matrix, fn.transition_matrix)
        x = torch.cat([ref.initial_solution(8), ref.optimal_solution().unsqueeze(0), ref.random_solution(8)])
        assert torch.equal(ref.evaluate_true(x).double(), fn(x))


# --------------------------------------------------------------------------- the benchmark harness


def test_oracle_counts_every_scored_sequence_and_stops_at_the_budget():
    from designer.benchmarks.ehrlich import SETTINGS, Exhausted, Oracle

    f = Ehrlich(**SETTINGS["L32"], random_seed=3)
    o = Oracle(f, budget=10)
    o(f.initial_solution(6, seed=3))
    assert o.calls == 6
    y = o(f.initial_solution(6, seed=4))
    assert len(y) == 4 and o.calls == 10  # only the affordable prefix is scored
    with pytest.raises(Exhausted):
        o(f.initial_solution(1, seed=5))
    assert o.trace and o.trace[-1][1] == o.best


def test_hill_climbing_solves_an_L128_instance_within_40k_calls():
    from designer.benchmarks.ehrlich import SETTINGS, Oracle, hill_climb

    f = Ehrlich(**SETTINGS["L128"], random_seed=1)
    o = hill_climb(f, budget=40_000, seed=1)
    assert o.best == 1.0 and o.solved_at is not None and o.solved_at <= o.calls
    assert isinstance(o, Oracle)
