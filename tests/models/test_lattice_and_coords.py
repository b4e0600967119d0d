"""Lattice parameterisation, the periodic coordinate loss's invariances, and the periodic neighbour graph."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from designer.data.crystal_graph import periodic_neighbors
from designer.data.lattice_symmetry import lattice_automorphisms
from designer.models.crystal.lattice import (
    LOG_LEN_MAX,
    LOG_LEN_MIN,
    lattice_to_params,
    params_to_lattice,
    raw_to_params,
)
from designer.models.crystal.losses import periodic_coordinate_loss

SETTINGS = dict(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- lattice

raw_floats = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from([-1e6, 1e6, -1e3, 1e3, -50.0, 50.0, 0.0]),
)


@settings(**SETTINGS)
@given(raw=st.lists(raw_floats, min_size=6, max_size=6), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_any_decoder_output_gives_a_finite_cell_with_positive_volume(raw, dtype):
    p = raw_to_params(torch.tensor([raw], dtype=dtype))
    lat = params_to_lattice(p)
    assert lat.shape == (1, 3, 3)
    assert torch.isfinite(lat).all()
    vol = torch.linalg.det(lat.double())
    assert vol.item() > 0
    # lengths inside the documented bounds [0.5, 100] A (vector lengths >= the diagonal entries)
    lengths = lat.double().norm(dim=-1)
    assert (lengths >= math.exp(LOG_LEN_MIN) * (1 - 1e-5)).all()


@settings(**SETTINGS)
@given(raw=arrays(np.float64, (4, 6), elements=st.floats(-30, 30)))
def test_raw_to_params_is_bounded_batched(raw):
    p = raw_to_params(torch.from_numpy(raw))
    assert p.shape == (4, 6)
    assert (p[:, :3] >= LOG_LEN_MIN).all() and (p[:, :3] <= LOG_LEN_MAX).all()
    assert (p[:, 3:].abs() <= 1.0).all()


params_inside = st.tuples(
    *[st.floats(LOG_LEN_MIN + 1e-3, LOG_LEN_MAX - 1e-3) for _ in range(3)],
    *[st.floats(-0.99, 0.99) for _ in range(3)],
)


@settings(**SETTINGS)
@given(p=params_inside)
def test_lattice_to_params_round_trips_params_to_lattice(p):
    pt = torch.tensor([p], dtype=torch.float64)
    back = lattice_to_params(params_to_lattice(pt))
    torch.testing.assert_close(back, pt, rtol=1e-7, atol=1e-7)


@settings(**SETTINGS)
@given(p=params_inside, angles=arrays(np.float64, 3, elements=st.floats(-math.pi, math.pi)))
def test_lattice_to_params_ignores_orientation(p, angles):
    """A rotated copy of a cell has the same parameters (targets depend on the metric only)."""
    from scipy.spatial.transform import Rotation

    pt = torch.tensor([p], dtype=torch.float64)
    lat = params_to_lattice(pt)[0]
    rot = torch.from_numpy(Rotation.from_euler("xyz", angles).as_matrix())
    rotated = (lat @ rot.T).unsqueeze(0)  # rotate every lattice vector
    torch.testing.assert_close(lattice_to_params(rotated), pt, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- coordinate loss


def random_lattice(rng: np.random.Generator) -> torch.Tensor:
    """Well-conditioned lower-triangular cell: diagonal 3-8 A, off-diagonals within +-1 A."""
    lat = np.diag(rng.uniform(3.0, 8.0, 3))
    lat[1, 0], lat[2, 0], lat[2, 1] = rng.uniform(-1.0, 1.0, 3)
    return torch.from_numpy(lat)


def random_structure(seed: int, n: int, related: bool = True):
    rng = np.random.default_rng(seed)
    lattice = random_lattice(rng)
    true = torch.from_numpy(rng.uniform(0, 1, (n, 3)))
    types = torch.from_numpy(rng.integers(0, 3, n))
    # the prediction: the true atoms jittered (~0.05 frac), shifted, moved by lattice vectors and shuffled;
    # or (related=False) unrelated random positions with the same composition
    jitter = 0.05 if related else 10.0
    pred = true + torch.from_numpy(rng.normal(0, jitter, (n, 3))) + torch.from_numpy(rng.uniform(-1, 1, 3))
    pred = pred + torch.from_numpy(rng.integers(-2, 3, (n, 3)).astype(np.float64))
    order = torch.from_numpy(rng.permutation(n))
    return rng, lattice, pred[order], types[order], true, types


def loss(pred, true, lattice, pred_types, true_types, ops=None):
    return float(periodic_coordinate_loss(pred, true, lattice, pred_types, true_types, ops=ops))


structure_args = dict(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 8))
invariance_args = dict(**structure_args, related=st.booleans())


@settings(**SETTINGS)
@given(**structure_args)
def test_identical_structures_have_zero_loss(seed, n):
    rng, lattice, _, _, true, types = random_structure(seed, n)
    for likelihood in ("gaussian", "laplace"):
        val = float(periodic_coordinate_loss(true.clone(), true, lattice, types, types, likelihood=likelihood))
        assert val <= 1e-5, likelihood


@settings(**SETTINGS)
@given(**structure_args)
def test_shuffled_shifted_translated_copy_has_zero_loss(seed, n):
    """The same crystal written with another atom order, origin and lattice translations costs nothing."""
    rng, lattice, _, _, true, types = random_structure(seed, n)
    order = torch.from_numpy(rng.permutation(n))
    copy = true[order] + torch.from_numpy(rng.uniform(-1, 1, 3)) + torch.from_numpy(
        rng.integers(-3, 4, (n, 3)).astype(np.float64))
    assert loss(copy, true, lattice, types[order], types) <= 1e-5


@settings(**SETTINGS)
@given(**invariance_args)
def test_loss_invariant_to_permuting_true_atoms_with_their_types(seed, n, related):
    rng, lattice, pred, pred_types, true, types = random_structure(seed, n, related)
    base = loss(pred, true, lattice, pred_types, types)
    order = torch.from_numpy(rng.permutation(n))
    assert loss(pred, true[order], lattice, pred_types, types[order]) == pytest.approx(base, rel=1e-4, abs=1e-7)


@settings(**SETTINGS)
@given(**invariance_args)
def test_loss_invariant_to_a_common_shift_of_the_true_atoms(seed, n, related):
    rng, lattice, pred, pred_types, true, types = random_structure(seed, n, related)
    base = loss(pred, true, lattice, pred_types, types)
    shift = torch.from_numpy(rng.uniform(-1, 1, 3))
    assert loss(pred, true + shift, lattice, pred_types, types) == pytest.approx(base, rel=1e-4, abs=1e-7)


@settings(**SETTINGS)
@given(**invariance_args)
def test_loss_invariant_to_whole_lattice_translations_of_any_atoms(seed, n, related):
    rng, lattice, pred, pred_types, true, types = random_structure(seed, n, related)
    base = loss(pred, true, lattice, pred_types, types)
    offsets_true = torch.from_numpy(rng.integers(-3, 4, (n, 3)).astype(np.float64))
    offsets_pred = torch.from_numpy(rng.integers(-3, 4, (n, 3)).astype(np.float64))
    assert loss(pred, true + offsets_true, lattice, pred_types, types) == pytest.approx(base, rel=1e-4, abs=1e-7)
    assert loss(pred + offsets_pred, true, lattice, pred_types, types) == pytest.approx(base, rel=1e-4, abs=1e-7)


@settings(**SETTINGS)
@given(**structure_args)
def test_loss_is_positive_for_a_distorted_structure(seed, n):
    """Sanity check that the invariance tests compare something: a jittered prediction costs > 0."""
    rng, lattice, pred, pred_types, true, types = random_structure(seed, n)
    if n == 1:  # one atom: any displacement is a global shift
        assert loss(pred, true, lattice, pred_types, types) <= 1e-5
    else:
        assert loss(pred, true, lattice, pred_types, types) > 1e-6


def test_loss_pairs_atoms_of_the_same_type_only():
    """Swapping the types of two atoms (not their positions) must cost something."""
    lattice = torch.eye(3, dtype=torch.float64) * 5.0
    pred3 = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.25, 0.0, 0.0]], dtype=torch.float64)
    true3 = pred3.clone()
    t3 = torch.tensor([0, 1, 2])
    assert loss(pred3, true3, lattice, t3, t3) <= 1e-8
    assert loss(pred3, true3, lattice, torch.tensor([1, 0, 2]), t3) > 1e-3


def _cell(kind: str) -> torch.Tensor:
    if kind == "cubic":
        return torch.eye(3, dtype=torch.float64) * 4.2
    if kind == "hexagonal":  # Niggli-style: a = b, gamma = 120
        a, c = 3.1, 5.0
        return torch.tensor([[a, 0, 0], [-a / 2, a * math.sqrt(3) / 2, 0], [0, 0, c]], dtype=torch.float64)
    return torch.diag(torch.tensor([3.7, 3.7, 5.9], dtype=torch.float64))  # tetragonal


def test_lattice_automorphism_counts():
    assert len(lattice_automorphisms(_cell("cubic").numpy())) == 48
    assert len(lattice_automorphisms(_cell("hexagonal").numpy())) == 24
    assert len(lattice_automorphisms(_cell("tetragonal").numpy())) == 16
    ops = lattice_automorphisms(_cell("cubic").numpy())
    assert np.array_equal(ops[0], np.eye(3))
    g = _cell("cubic").numpy() @ _cell("cubic").numpy().T
    for m in ops:
        np.testing.assert_allclose(m @ g @ m.T, g, atol=1e-9)


@settings(**SETTINGS)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 8), op_index=st.integers(0, 47),
       kind=st.sampled_from(["cubic", "hexagonal", "tetragonal"]))
def test_loss_with_automorphisms_is_invariant_to_transforming_the_truth(seed, n, op_index, kind):
    lattice = _cell(kind)
    ops = torch.from_numpy(lattice_automorphisms(lattice.numpy()))
    m = ops[op_index % len(ops)]
    rng = np.random.default_rng(seed)
    true = torch.from_numpy(rng.uniform(0, 1, (n, 3)))
    types = torch.from_numpy(rng.integers(0, 3, n))
    pred = true + torch.from_numpy(rng.normal(0, 0.05, (n, 3)))
    base = loss(pred, true, lattice, types, types, ops=ops)
    assert loss(pred, true @ m, lattice, types, types, ops=ops) == pytest.approx(base, rel=1e-4, abs=1e-7)
    # and an exact transformed copy costs nothing
    assert loss(true @ m, true, lattice, types, types, ops=ops) <= 1e-5


def test_without_automorphisms_a_rotated_truth_costs_something():
    """Control for the test above: with the identity only, f @ M is a different target."""
    lattice = _cell("cubic")
    true = torch.tensor([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.3, 0.0]], dtype=torch.float64)
    types = torch.tensor([0, 1, 2])
    m = torch.tensor([[0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=torch.float64)  # swap x and y
    assert loss(true, true @ m, lattice, types, types) > 1e-3
    ops = torch.from_numpy(lattice_automorphisms(lattice.numpy()))
    assert loss(true, true @ m, lattice, types, types, ops=ops) <= 1e-5


def test_loss_has_finite_gradients():
    rng, lattice, pred, pred_types, true, types = random_structure(7, 6)
    pred = pred.clone().requires_grad_(True)
    out = periodic_coordinate_loss(pred, true, lattice, pred_types, types, likelihood="laplace")
    out.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


# --------------------------------------------------------------------------- periodic neighbours


def pymatgen_neighbor_distances(structure, cutoff: float) -> list[np.ndarray]:
    return [np.sort([nb.nn_distance for nb in nbs]) for nbs in structure.get_all_neighbors(cutoff)]


def our_neighbor_distances(lattice, frac, cutoff, max_neighbors=10_000) -> list[np.ndarray]:
    edge_index, offsets, dist = periodic_neighbors(lattice, frac, cutoff, max_neighbors)
    return [np.sort(dist[edge_index[1] == i]) for i in range(len(frac))]


def dense_periodic_neighbors(lattice, frac_coords, cutoff, max_neighbors):
    """The earlier all-pairs-all-images implementation, kept as the reference of the exact graph."""
    from designer.data.crystal_graph import image_ranges

    lattice = np.asarray(lattice, dtype=np.float64)
    given = np.asarray(frac_coords, dtype=np.float64)
    cell_of = np.floor(given)
    frac = given - cell_of  # image ranges below assume coordinates in [0, 1)
    n = len(frac)
    nk = image_ranges(lattice, cutoff)
    grids = [np.arange(-k, k + 1) for k in nk]
    offsets = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, 3)  # M x 3
    # displacement of j (in image o) from i: N_i x N_j x M x 3
    diff = frac[None, :, None, :] + offsets[None, None, :, :] - frac[:, None, None, :]
    dist = np.linalg.norm(diff @ lattice, axis=-1)  # N x N x M
    zero = np.all(offsets == 0, axis=1)
    idx = np.arange(n)
    dist[idx, idx, np.flatnonzero(zero)[0]] = np.inf  # no self-loop
    dist = dist.reshape(n, -1)  # N_i x (N_j * M)
    dist = np.where(dist <= cutoff, dist, np.inf)
    k = min(max_neighbors, dist.shape[1])
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]  # N_i x k
    chosen = np.take_along_axis(dist, order, axis=1)
    keep = np.isfinite(chosen)
    dst = np.repeat(idx, k).reshape(n, k)[keep]
    flat = order[keep]
    src = flat // len(offsets)
    off = offsets[flat % len(offsets)] + cell_of[dst] - cell_of[src]  # back to the caller's coordinates
    return (
        np.stack([src, dst]).astype(np.int64),
        off.astype(np.int64),
        chosen[keep],
    )


def skewed_structure():
    from pymatgen.core import Lattice, Structure

    lattice = Lattice([[4.0, 0.0, 0.0], [3.1, 2.6, 0.0], [1.3, 2.2, 3.3]])  # far from orthogonal
    return Structure(lattice, ["Na", "Cl", "K"], [[0.0, 0.0, 0.0], [0.52, 0.41, 0.13], [0.93, 0.07, 0.77]])


@pytest.mark.parametrize("cutoff", [4.3, 6.1])
def test_periodic_neighbors_match_pymatgen_on_perov5(tiny_structures, cutoff):
    for s in tiny_structures[:4]:
        lattice = s.lattice.matrix
        frac = np.mod(s.frac_coords, 1.0)
        ours = our_neighbor_distances(lattice, frac, cutoff)
        theirs = pymatgen_neighbor_distances(s, cutoff)
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert len(a) == len(b), (s.formula, i)
            np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("cutoff", [2.5, 5.0, 8.0])
def test_periodic_neighbors_match_pymatgen_on_a_skewed_cell(cutoff):
    s = skewed_structure()
    ours = our_neighbor_distances(s.lattice.matrix, s.frac_coords, cutoff)
    theirs = pymatgen_neighbor_distances(s, cutoff)
    for a, b in zip(ours, theirs):
        assert len(a) == len(b)
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_periodic_neighbors_edges_follow_the_documented_convention():
    s = skewed_structure()
    lattice, frac = s.lattice.matrix, s.frac_coords
    edge_index, offsets, dist = periodic_neighbors(lattice, frac, 6.0, 10_000)
    src, dst = edge_index
    disp = (frac[src] + offsets - frac[dst]) @ lattice
    np.testing.assert_allclose(np.linalg.norm(disp, axis=1), dist, atol=1e-9)
    assert (dist <= 6.0).all() and (dist > 0).all()
    assert not np.any((src == dst) & np.all(offsets == 0, axis=1))  # no self-loop
    assert np.all(np.diff(dst) >= 0)  # sorted by destination
    assert edge_index.dtype == np.int64 and offsets.dtype == np.int64


@pytest.mark.parametrize("k", [1, 4, 12])
def test_periodic_neighbors_caps_neighbours_per_atom(tiny_structures, k):
    for s in [*tiny_structures[:3], skewed_structure()]:
        lattice, frac = s.lattice.matrix, np.mod(s.frac_coords, 1.0)
        full = our_neighbor_distances(lattice, frac, 7.0)
        edge_index, _, dist = periodic_neighbors(lattice, frac, 7.0, k)
        counts = np.bincount(edge_index[1], minlength=len(frac))
        for i in range(len(frac)):
            assert counts[i] == min(k, len(full[i]))
            # the kept ones are the nearest ones
            np.testing.assert_allclose(np.sort(dist[edge_index[1] == i]), full[i][:counts[i]], atol=1e-9)


def test_periodic_neighbors_one_atom_sees_its_own_images():
    lattice = np.eye(3) * 3.0
    edge_index, offsets, dist = periodic_neighbors(lattice, np.zeros((1, 3)), 3.5, 100)
    assert len(dist) == 6 and np.allclose(dist, 3.0)
    assert (edge_index == 0).all()


def test_periodic_neighbors_with_unwrapped_coordinates():
    """Fractional coordinates outside [0, 1) describe the same crystal (pymatgen does not wrap them)."""
    s = skewed_structure()
    frac = s.frac_coords + np.array([[1.0, -2.0, 0.0], [-1.0, 0.0, 3.0], [0.0, 1.0, -1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = our_neighbor_distances(s.lattice.matrix, frac, 5.0)
    theirs = pymatgen_neighbor_distances(s, 5.0)
    for a, b in zip(ours, theirs):
        assert len(a) == len(b)
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_the_neighbour_graph_is_exactly_the_all_pairs_reference(tiny_structures):
    """Same edges in the same order (by destination, distance, then source and image) as the dense
    reference, across the nearest-k cut, on perovskites, a skewed cell and a 72-atom supercell."""
    s = skewed_structure()
    cases = [(x.lattice.matrix, x.frac_coords) for x in tiny_structures[:6]] + [(s.lattice.matrix, s.frac_coords)]
    big = tiny_structures[0].copy()
    big.make_supercell([3, 3, 2])
    cases.append((big.lattice.matrix, big.frac_coords - 0.37))  # coordinates outside [0, 1) too
    for lattice, frac in cases:
        for cutoff, k in ((7.0, 12), (5.0, 4), (9.0, 10_000)):
            ours = periodic_neighbors(lattice, frac, cutoff, k)
            ref = dense_periodic_neighbors(lattice, frac, cutoff, k)
            np.testing.assert_array_equal(ours[0], ref[0])
            np.testing.assert_array_equal(ours[1], ref[1])
            np.testing.assert_allclose(ours[2], ref[2], rtol=0, atol=1e-12)
