"""CDVAE's property evaluators (designer.evaluators.cdvae; DESIGN 5a): strict weights, the graph and
triplet rules CDVAE trained with, fixed predictions, invariances, one-line errors, the benchmark's keys.

Everything here reads only the package (no ../shared). The fixed predictions were computed once with
this loader after it reproduced DESIGN 5a's MAEs on the full splits (`designer benchmark evaluators`:
perov_5 test MAE 0.040, Spearman 0.995).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from designer.data.crystal_io import CrystalRecord
from designer.errors import DataError, DesignerError
from designer.evaluators import cdvae
from designer.evaluators.cdvae import EVALUATORS, CDVAEEvaluator, PeriodicDimeNetPP, crystal_graph, triplets

# perov_5 test rows (material_id, lattice rows, Z, fractional coordinates, DFT heat_ref, this loader's prediction)
PEROV_TEST = [
    ("3961", [[-4.0563216, 0.0, -2.4837806318761353e-16], [-6.523062639332573e-16, -4.0563216, -2.4837806318761353e-16],
              [0.0, 0.0, 4.0563216]], [22, 76, 7, 8, 9],
     [[0.39078906, 0.0, 6.162975822039155e-33], [0.22380065000000005, 0.5, 0.5], [0.2579992, 0.5, 2.465190328815662e-32],
      [0.76856719, 0.5, 0.49999999999999994], [0.584716, 0.0, 0.5]], 1.4383314936574307, 1.511233),
    ("1515", [[-4.156197, 0.0, -2.544936676337916e-16], [-6.683674532218086e-16, -4.156197, -2.544936676337916e-16],
              [0.0, 0.0, 4.156197]], [49, 28, 7, 8, 8],
     [[0.4787151300000001, 0.5, 0.5], [0.68105598, 0.0, 0.0], [0.6530239600000001, 0.0, 0.5], [0.59913716, 0.5, 0.0],
      [0.99654494, 0.5, 0.49999999999999994]], 1.3536624351022533, 1.313651),
    ("5227", [[-3.55334495, 0.0, -2.175796259641956e-16], [-5.714214496209095e-16, -3.55334495, -2.175796259641956e-16],
              [0.0, 0.0, 3.55334495]], [21, 5, 7, 8, 9],
     [[0.93232153, 0.0, 0.0], [0.42754795, 0.5, 0.5], [0.5418628299999999, 0.5, 0.0], [0.03983247999999995, 0.5, 0.5],
      [0.5462552599999999, 0.0, 0.49999999999999994]], 1.1722298428960969, 1.136057),
    ("10700", [[-4.33904068, 0.0, -2.6568961400660773e-16], [-6.977709595376314e-16, -4.33904068, -2.6568961400660773e-16],
               [0.0, 0.0, 4.33904068]], [77, 77, 16, 8, 8],
     [[0.77991397, 0.0, 0.0], [0.4744925000000001, 0.5, 0.5], [0.66754912, 0.0, 0.5], [0.60712935, 0.5, 6.162975822039155e-33],
      [0.03262984000000024, 0.5, 0.5]], 1.5613980383915724, 1.546101),
    ("10955", [[-4.24994387, 0.0, -2.6023400784757074e-16], [-6.834430997201378e-16, -4.24994387, -2.6023400784757074e-16],
               [0.0, 0.0, 4.24994387]], [33, 79, 8, 8, 9],
     [[0.99945902, 0.0, 0.0], [0.49525476999999996, 0.5, 0.5], [0.49975446999999995, 0.5, 0.0], [0.99526054, 0.5, 0.49999999999999994],
      [0.49982835999999997, 0.0, 0.49999999999999994]], 1.8151321037778352, 1.82087),
]


def _structure(row) -> Structure:
    _, lattice, zs, frac, _, _ = row
    return Structure(Lattice(lattice), zs, frac)


def _rock_salt() -> Structure:
    """Primitive NaCl: every neighbour of Na is an image of the one Cl and vice versa."""
    a = 2.82
    return Structure(Lattice([[0, a, a], [a, 0, a], [a, a, 0]]), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture(scope="module")
def perov() -> CDVAEEvaluator:
    return CDVAEEvaluator("perovskite")


@pytest.fixture(scope="module")
def structures() -> list[Structure]:
    return [_structure(r) for r in PEROV_TEST]


# --------------------------------------------------------------------------------------------- weights


@pytest.mark.parametrize("name", list(EVALUATORS))
def test_each_state_dict_loads_strictly_into_the_pyg_blocks(name):
    folder = cdvae.evaluator_dir(name)
    state = torch.load(folder / "state_dict.pt", map_location="cpu", weights_only=True)
    ev = CDVAEEvaluator(name)  # loads with strict=True
    assert set(ev.model.state_dict()) == set(state)
    assert all(k.startswith("encoder.") for k in state)
    result = PeriodicDimeNetPP(ev.arch).load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for k, v in ev.model.state_dict().items():
        assert torch.equal(v, state[k]), k
    json_scalers = json.loads((folder / "scalers.json").read_text())["prop_scaler"]
    assert (ev.mean, ev.std) == (json_scalers["means"], json_scalers["stds"])
    assert ev.target == EVALUATORS[name][0]


def test_pyg_output_block_lacks_the_bias_cdvae_has_so_it_is_replaced(perov):
    from torch_geometric.nn.models.dimenet import OutputPPBlock

    plain = OutputPPBlock(6, 128, 256, 1, 3, torch.nn.SiLU())
    assert "lin_up.bias" not in plain.state_dict()
    assert all(block.lin_up.bias is not None for block in perov.model.encoder.output_blocks)


def test_the_spherical_basis_is_pygs_layer_with_its_forward():
    from torch_geometric.nn.models.dimenet import SphericalBasisLayer

    assert issubclass(cdvae.SphericalBasis, SphericalBasisLayer)
    assert cdvae.SphericalBasis.forward is SphericalBasisLayer.forward


def test_the_shipped_basis_forms_are_dimenets_bessel_functions_and_harmonics():
    """The shipped sympy forms (PyG's derivation, kept because sympy.simplify takes 20-50 s) are the
    normalised spherical Bessel functions at PyG's roots and the Y_l^0 harmonics."""
    import sympy as sym
    from scipy import special
    from torch_geometric.nn.models.dimenet_utils import Jn, Jn_zeros

    assert cdvae.shipped_basis_file(7, 6).is_file()
    bessel, sph = cdvae.basis_forms(7, 6)
    zeros = Jn_zeros(7, 6)
    x = np.linspace(0.05, 1.0, 40)
    for order in range(7):
        for root in range(6):
            f = sym.lambdify(sym.Symbol("x"), bessel[order][root], "numpy")
            norm = 1 / np.sqrt(0.5 * float(Jn(float(zeros[order, root]), order + 1)) ** 2)
            np.testing.assert_allclose(f(x), norm * special.spherical_jn(order, float(zeros[order, root]) * x),
                                       rtol=1e-4, atol=1e-6)
            assert abs(f(1.0)) < 1e-5  # a root of j_l at the cutoff
    theta = np.linspace(0, np.pi, 30)
    for order in range(7):
        f = sym.lambdify(sym.Symbol("theta"), sph[order], "numpy")
        expect = np.sqrt((2 * order + 1) / (4 * np.pi)) * special.eval_legendre(order, np.cos(theta))
        np.testing.assert_allclose(np.broadcast_to(f(theta), theta.shape), expect, atol=1e-6)


def test_an_unknown_evaluator_is_a_one_line_error_naming_it():
    with pytest.raises(DesignerError) as exc:
        CDVAEEvaluator("perov5")
    msg = str(exc.value)
    assert "'perov5'" in msg and "perovskite, carbon, mp20" in msg and "\n" not in msg


# --------------------------------------------------------------------------------------------- predictions


def test_fixed_perov5_test_crystals_predict_as_recorded(perov, structures):
    pred = perov.predict(structures)
    assert pred.shape == (len(PEROV_TEST),) and pred.dtype == np.float64
    np.testing.assert_allclose(pred, [r[5] for r in PEROV_TEST], atol=1e-4)
    assert np.abs(pred - [r[4] for r in PEROV_TEST]).mean() < 0.1  # and near the DFT values


def test_batching_does_not_change_predictions(perov, structures):
    graphs = perov.graphs(structures)
    one = perov.predict_graphs(graphs, batch_size=1)
    np.testing.assert_allclose(perov.predict_graphs(graphs, batch_size=2), one, atol=1e-5)
    np.testing.assert_allclose(perov.predict_graphs(graphs, batch_size=64), one, atol=1e-5)
    assert perov.predict([]).shape == (0,)


def test_lattice_rotation_and_atom_order_do_not_change_the_prediction(perov, structures):
    s = structures[1]
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))  # a proper rotation
    rotated = Structure(Lattice(s.lattice.matrix @ q.T), s.species, s.frac_coords)
    order = [3, 0, 4, 2, 1]
    permuted = Structure(s.lattice, [s.species[k] for k in order], s.frac_coords[order])
    base, *others = perov.predict([s, rotated, permuted])
    np.testing.assert_allclose(others, [base] * 2, atol=2e-5)


# --------------------------------------------------------------------------------------------- graph, triplets


def _pairs(graph, rule: str) -> set[tuple[int, int]]:
    """(edge k->j, edge j->i) pairs by brute force: ``index`` drops k == i by atom index, ``back`` only the exact back edge."""
    src, dst = graph.edge_index
    out = set()
    for kj in range(graph.num_edges):
        for ji in range(graph.num_edges):
            if dst[kj] != src[ji]:
                continue
            same_atom = src[kj] == dst[ji]
            back = same_atom and np.array_equal(graph.images[kj], -graph.images[ji])
            if (rule == "index" and same_atom) or (rule == "back" and back):
                continue
            out.add((kj, ji))
    return out


def _as_pairs(idx_kj, idx_ji) -> set[tuple[int, int]]:
    return set(zip(idx_kj.tolist(), idx_ji.tolist()))


def test_crystalnn_graph_has_every_bond_both_ways_with_opposite_images():
    g = crystal_graph(_rock_salt())
    assert g.num_edges == 12  # 6 Na-Cl bonds
    fwd = {(int(j), int(i), tuple(o)) for (j, i), o in zip(g.edge_index.T, g.images)}
    assert all((i, j, tuple(-np.array(o))) in fwd for j, i, o in fwd)
    j, i = g.edge_index
    length = np.linalg.norm((g.frac_coords[j] + g.images - g.frac_coords[i]) @ g.lattice, axis=1)
    np.testing.assert_allclose(length, 2.82, atol=1e-6)


def test_triplets_drop_k_equal_i_by_index_whatever_the_image():
    g = crystal_graph(_rock_salt())
    got = _as_pairs(*triplets(torch.as_tensor(g.edge_index), g.num_atoms))
    index_rule, back_rule = _pairs(g, "index"), _pairs(g, "back")
    assert got == index_rule
    # here the rules differ completely: every k of a k->Cl->Na triplet is an image of the same Na
    assert index_rule == set() and len(back_rule) == 12 * 5
    # and on a crystal with more atoms, too
    g5 = crystal_graph(_structure(PEROV_TEST[0]))
    got5 = _as_pairs(*triplets(torch.as_tensor(g5.edge_index), g5.num_atoms))
    assert got5 == _pairs(g5, "index") and got5 < _pairs(g5, "back")


def test_triplets_on_a_random_multigraph_match_brute_force():
    rng = np.random.default_rng(1)
    n = 6
    edge_index = rng.integers(0, n, size=(2, 40))
    images = rng.integers(-1, 2, size=(40, 3))
    g = cdvae.CrystalGraph(np.ones(n, dtype=np.int64), np.zeros((n, 3)), np.eye(3), edge_index, images)
    got_kj, got_ji = triplets(torch.as_tensor(edge_index), n)
    assert len(got_kj) == len(_as_pairs(got_kj, got_ji))  # no pair twice
    assert _as_pairs(got_kj, got_ji) == _pairs(g, "index")


def test_the_forward_uses_the_index_rule(perov, monkeypatch):
    g = crystal_graph(_structure(PEROV_TEST[0]))
    trained = perov.predict_graphs([g])

    def back_edge_rule(edge_index, num_nodes):
        pairs = sorted(_pairs(g, "back"))
        return (torch.tensor([p[0] for p in pairs], device=edge_index.device),
                torch.tensor([p[1] for p in pairs], device=edge_index.device))

    monkeypatch.setattr(cdvae, "triplets", back_edge_rule)
    assert abs(perov.predict_graphs([g])[0] - trained[0]) > 1e-3


def test_a_supercell_changes_the_prediction_only_through_the_index_rule(perov, structures, monkeypatch):
    """CDVAE's rule is not supercell-invariant: in a 2x1x1 cell an image of atom i can be another index.

    With the exact-back-edge rule the two cells agree, which shows the graphs and images are consistent.
    """
    cell = structures[1]
    supercell = cell.copy()
    supercell.make_supercell([2, 1, 1])
    graphs = [crystal_graph(cell), crystal_graph(supercell)]
    index_rule = perov.predict_graphs(graphs, batch_size=1)
    assert abs(index_rule[0] - index_rule[1]) > 1e-3

    back = []
    for g in graphs:
        pairs = sorted(_pairs(g, "back"))
        monkeypatch.setattr(cdvae, "triplets", lambda edge_index, num_nodes, p=pairs: (
            torch.tensor([x[0] for x in p]), torch.tensor([x[1] for x in p])))
        back.append(perov.predict_graphs([g])[0])
    assert abs(back[0] - back[1]) < 2e-5


def _angles_fed_to_the_basis(evaluator, graph, monkeypatch) -> np.ndarray:
    seen = {}
    real = evaluator.model.encoder.sbf.forward

    def spy(dist, angle, idx_kj):
        seen["angle"] = angle.detach().cpu().numpy()
        return real(dist, angle, idx_kj)

    monkeypatch.setattr(evaluator.model.encoder.sbf, "forward", spy)
    evaluator.predict_graphs([graph])
    return seen["angle"]


def test_the_angle_is_between_i_to_j_and_j_to_k(perov, monkeypatch):
    """180 degrees minus the bond angle k-j-i: a straight chain k - j - i gives 0."""
    chain = Structure(Lattice([[7.5, 0, 0], [0, 20.0, 0], [0, 0, 20.0]]), ["C"] * 3,
                      [[0, 0, 0], [1 / 3, 0, 0], [2 / 3, 0, 0]])
    for s in (chain, _structure(PEROV_TEST[0])):
        g = crystal_graph(s)
        angle = _angles_fed_to_the_basis(perov, g, monkeypatch)
        idx_kj, idx_ji = triplets(torch.as_tensor(g.edge_index), g.num_atoms)
        assert len(angle) == len(idx_kj) > 0
        j, i = g.edge_index
        vec = (g.frac_coords[j] + g.images - g.frac_coords[i]) @ g.lattice
        a, b = vec[idx_ji.numpy()], vec[idx_kj.numpy()]  # i -> j, j -> k
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        np.testing.assert_allclose(angle, np.arccos(np.clip(cos, -1, 1)), atol=1e-3)
    assert np.min(_angles_fed_to_the_basis(perov, crystal_graph(chain), monkeypatch)) < 1e-3


# --------------------------------------------------------------------------------------------- errors


def test_a_structure_crystalnn_cannot_handle_is_a_one_line_error_naming_it(perov, structures):
    overlap = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0, 0, 0]])
    with pytest.raises(DataError) as exc:
        perov.predict([structures[0], overlap])
    msg = str(exc.value)
    assert msg.startswith("structure 1 (NaCl): CrystalNN cannot build") and "\n" not in msg
    with pytest.raises(DataError, match=r"^my-cif: collapsed cell"):
        flat = Structure(Lattice([[4, 0, 0], [0, 4, 0], [0, 0, 1e-4]]), ["Na"], [[0, 0, 0]])
        perov.predict([flat], ids=["my-cif"])
    with pytest.raises(DataError, match=r"^structure 0: expected a pymatgen Structure, got str"):
        perov.predict(["Na.cif"])


# --------------------------------------------------------------------------------------------- benchmark


def test_the_benchmark_writes_its_keys_and_skips_carbon_without_shared_data(monkeypatch, tmp_path):
    from designer.benchmarks import BENCHMARKS
    from designer.benchmarks import evaluators as bench

    assert BENCHMARKS["evaluators"] == ("designer.benchmarks.evaluators", "run")

    def fake_records(path, properties):
        return [CrystalRecord(r[0], np.array(r[1]), np.array(r[3]), np.array(r[2]), {properties[0]: r[4]}, f"{path}:{k}")
                for k, r in enumerate(PEROV_TEST)]

    monkeypatch.setattr(bench, "load_records", fake_records)
    monkeypatch.setenv("DESIGNER_SHARED", str(tmp_path / "no_shared"))
    out = bench.run(out=tmp_path / "evaluators.json", limit=3)
    res = json.loads(out.read_text())
    assert res["perovskite"]["n"] == 3 and res["perovskite"]["test_mae"] < 0.2
    assert res["perovskite"]["spearman"] is not None and res["perovskite"]["structures_per_s"] > 0
    assert res["mp20"]["n"] == 3 and "val_mae" in res["mp20"] and "train_mae" in res["mp20"]
    assert "val_mae" not in res["carbon"] and "carbon_24 does not ship" in res["carbon"]["skipped"]
    assert "skipped" in out.with_suffix(".md").read_text()
