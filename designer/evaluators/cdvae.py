"""CDVAE's property evaluators: the DimeNet++ models CDVAE trained to score generated crystals (DESIGN 5a).

Three models ship in ``designer/data_files/cdvae_evaluators/<name>/`` (weights, scalers, the
original hparams; see the SOURCES.txt, NOTICE and LICENSE there): ``perovskite`` (perov_5
``heat_ref``), ``carbon`` (carbon_24 ``energy_per_atom``) and ``mp20`` (mp_20
``formation_energy_per_atom``), all in eV/atom. They are what CDVAE, DiffCSP and later papers
used for the property-optimisation success rates (SR5/10/15) and the property distance d_E.

How CDVAE ran them, reproduced here:

* the crystal is Niggli-reduced and rebuilt from its lattice parameters (a canonical orientation);
* its graph is CrystalNN's (``CrystalNN(distance_cutoffs=None, x_diff_weight=-1,
  porous_adjustment=False)``) through pymatgen's ``StructureGraph``, each bond once with the
  periodic image of its far end; every bond is stored in both directions;
* an edge ``j -> i`` (source j seen in image cell o, target i) has the vector
  ``(frac[j] + o - frac[i]) @ lattice``, from i to that image of j;
* a triplet ``k -> j -> i`` is every pair of edges ``k -> j`` and ``j -> i`` except those whose
  k and i are the same atom *index*, whatever their images (the rule CDVAE trained with);
* the angle fed to the spherical basis is the one between the vector i->j and the vector j->k;
* the network is PyG's ``DimeNetPlusPlus`` blocks (embedding concatenates [target, source, rbf])
  with the output blocks' up-projection given the bias CDVAE's has; the readout is the mean over
  atoms and a prediction is ``output * std + mean`` (``scalers.json``).

The periodic forward is plain torch (no torch-sparse / torch-scatter / torch-cluster), and runs
on whatever device the evaluator was put on. Building the CrystalNN graphs (CPU, pymatgen) is
the cost: ~20 structures/s on one core; the network itself is much faster.
"""

from __future__ import annotations

import functools
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import yaml
from torch_geometric.nn.models.dimenet import (
    BesselBasisLayer,
    EmbeddingBlock,
    Envelope,
    InteractionPPBlock,
    OutputPPBlock,
    SphericalBasisLayer,
)
from torch_geometric.nn.resolver import activation_resolver

from designer.errors import DataError, DesignerError
from designer.resources import data_file

# name -> the property it predicts (eV/atom) and the dataset it was trained on
EVALUATORS: dict[str, tuple[str, str]] = {
    "perovskite": ("heat_ref", "perov_5"),
    "carbon": ("energy_per_atom", "carbon_24"),
    "mp20": ("formation_energy_per_atom", "mp_20"),
}
FOLDER = "cdvae_evaluators"
MAX_Z = 94  # the embedding has 95 rows (atomic numbers 0..94)
MIN_VOLUME_PER_ATOM = 1.0  # Å^3; real crystals have > 3 (diamond 5.7)
MIN_LATTICE_VECTOR = 0.5  # Å, shortest vector of the Niggli cell (an atom's distance to its own image)
ARCH_KEYS = ("hidden_channels", "num_blocks", "int_emb_size", "basis_emb_size", "out_emb_channels", "num_spherical",
             "num_radial", "cutoff", "envelope_exponent", "num_before_skip", "num_after_skip", "num_output_layers")


# ----------------------------------------------------------------------------------------------- graph


@dataclass(frozen=True)
class CrystalGraph:
    """One crystal's CrystalNN graph, as CDVAE built it (canonical Niggli cell).

    Attributes:
        atomic_numbers: ``(N,)`` int64.
        frac_coords: ``(N, 3)`` float64 fractional coordinates in the canonical cell.
        lattice: ``(3, 3)`` float64, rows are the lattice vectors (Å), from the lattice parameters.
        edge_index: ``(2, E)`` int64; row 0 the source j, row 1 the target i. Every bond appears
            twice, once per direction.
        images: ``(E, 3)`` int64 periodic image of the source relative to the target: the edge's
            vector is ``(frac[j] + images - frac[i]) @ lattice``.
    """

    atomic_numbers: np.ndarray
    frac_coords: np.ndarray
    lattice: np.ndarray
    edge_index: np.ndarray
    images: np.ndarray

    @property
    def num_atoms(self) -> int:
        return len(self.atomic_numbers)

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]


def _crystal_nn():
    from pymatgen.analysis.local_env import CrystalNN

    return CrystalNN(distance_cutoffs=None, x_diff_weight=-1, porous_adjustment=False)


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def crystal_graph(structure, where: str = "structure") -> CrystalGraph:
    """The CrystalNN graph CDVAE's evaluators were trained on, for one pymatgen ``Structure``.

    Args:
        structure: an ordered pymatgen ``Structure`` (elements up to Pu, Z <= 94).
        where: how error messages name this input.

    Returns:
        a :class:`CrystalGraph` (N atoms, E = twice the number of CrystalNN bonds).

    Raises:
        DataError: one line naming ``where`` for anything CrystalNN (or the model) cannot take.
    """
    from pymatgen.core import Lattice, Structure
    from pymatgen.core.graphs import StructureGraph

    if not isinstance(structure, Structure):
        raise DataError(f"{where}: expected a pymatgen Structure, got {type(structure).__name__}")
    if len(structure) == 0:
        raise DataError(f"{where}: the structure has no atoms")
    if not structure.is_ordered:
        raise DataError(f"{where}: partial occupancy / disorder; CDVAE's evaluators take ordered crystals only")
    zs = np.array(structure.atomic_numbers, dtype=np.int64)
    if zs.max() > MAX_Z:
        raise DataError(f"{where}: element Z={int(zs.max())} is beyond the evaluators' embedding (Z <= {MAX_Z})")
    if not (np.isfinite(structure.lattice.matrix).all() and np.isfinite(structure.frac_coords).all()):
        raise DataError(f"{where}: non-finite lattice or coordinates")
    if structure.volume < MIN_VOLUME_PER_ATOM * len(structure):
        raise DataError(f"{where}: collapsed cell ({structure.volume / len(structure):.3g} Å^3 per atom, under "
                        f"{MIN_VOLUME_PER_ATOM}); CrystalNN needs a physical cell")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reduced = structure.get_reduced_structure()  # Niggli, as CDVAE (niggli: true, primitive: false)
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{where}: cannot Niggli-reduce the cell ({_one_line(exc)}); check the lattice") from None
    shortest = min(reduced.lattice.abc)
    if shortest < MIN_LATTICE_VECTOR:  # CrystalNN's neighbour search does not end on such cells
        raise DataError(f"{where}: shortest lattice vector {shortest:.3g} Å (under {MIN_LATTICE_VECTOR} Å): atoms "
                        "overlap their own periodic images; CrystalNN needs a physical cell")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            canon = Structure(Lattice.from_parameters(*reduced.lattice.parameters), reduced.species,
                              reduced.frac_coords, coords_are_cartesian=False)
            sg = StructureGraph.from_local_env_strategy(canon, _crystal_nn())
    except Exception as exc:  # noqa: BLE001 - pymatgen raises many kinds; all mean "no graph"
        raise DataError(f"{where} ({structure.composition.reduced_formula}): CrystalNN cannot build its neighbour "
                        f"graph ({_one_line(exc)}); check the structure (overlapping atoms, degenerate cell) or "
                        "drop it") from None
    src, dst, img = [], [], []
    for u, v, to_jimage in sg.graph.edges(data="to_jimage"):  # u in cell 0, v in image to_jimage
        src += [v, u]
        dst += [u, v]
        img += [tuple(to_jimage), tuple(-t for t in to_jimage)]
    return CrystalGraph(
        atomic_numbers=np.array(canon.atomic_numbers, dtype=np.int64),
        frac_coords=np.array(canon.frac_coords, dtype=np.float64),
        lattice=np.array(canon.lattice.matrix, dtype=np.float64),
        edge_index=np.array([src, dst], dtype=np.int64).reshape(2, -1),
        images=np.array(img, dtype=np.int64).reshape(-1, 3),
    )


def triplets(edge_index: torch.Tensor, num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The triplets ``k -> j -> i`` of a directed graph, without those where k and i are the same atom index.

    Args:
        edge_index: ``(2, E)`` long; row 0 sources, row 1 targets.
        num_nodes: number of atoms N.

    Returns:
        ``(idx_kj, idx_ji)``, each ``(T,)`` long: for triplet t, the edge ``k -> j`` and the edge
        ``j -> i`` it combines. A pair of edges whose k equals i by index is dropped even when
        the two are different periodic images (CDVAE's rule), not only the exact back edge.
    """
    src, dst = edge_index[0], edge_index[1]
    n_edges = src.numel()
    device = src.device
    by_target = torch.argsort(dst, stable=True)  # edges grouped by their target atom
    indeg = torch.bincount(dst, minlength=num_nodes)
    first = torch.cumsum(indeg, 0) - indeg  # position of each atom's first incoming edge in by_target
    per_edge = indeg[src]  # edge j -> i pairs with every edge k -> j
    idx_ji = torch.repeat_interleave(torch.arange(n_edges, device=device), per_edge)
    start = torch.repeat_interleave(first[src], per_edge)
    within = torch.arange(idx_ji.numel(), device=device) - torch.repeat_interleave(
        torch.cumsum(per_edge, 0) - per_edge, per_edge)
    idx_kj = by_target[start + within]
    keep = src[idx_kj] != dst[idx_ji]
    return idx_kj[keep], idx_ji[keep]


# ----------------------------------------------------------------------------------------------- network


def _resolve(value, section: dict):
    """``${data.key}`` (the only interpolation the shipped hparams use) -> ``section[key]``."""
    if isinstance(value, str) and value.startswith("${data.") and value.endswith("}"):
        return section.get(value[len("${data."):-1])
    return value


def _basis_cache_file(num_spherical: int, num_radial: int) -> Path:
    import sympy
    import torch_geometric

    from designer.data.cache import cache_dir

    return cache_dir() / "dimenet_basis" / (f"s{num_spherical}_r{num_radial}_sympy{sympy.__version__}"
                                            f"_pyg{torch_geometric.__version__}.json")


def shipped_basis_file(num_spherical: int, num_radial: int) -> Path:
    """``designer/data_files/cdvae_evaluators/dimenet_basis_s<l>_r<n>.json`` (shipped for 7 x 6, the evaluators')."""
    return data_file(FOLDER) / f"dimenet_basis_s{num_spherical}_r{num_radial}.json"


def derive_basis_forms(num_spherical: int, num_radial: int) -> tuple[list, list]:
    """PyG's own derivation (``torch_geometric.nn.models.dimenet_utils``; 10-50 s of ``sympy.simplify``)."""
    from torch_geometric.nn.models.dimenet_utils import bessel_basis, real_sph_harm

    return bessel_basis(num_spherical, num_radial), [forms[0] for forms in real_sph_harm(num_spherical)]


def basis_forms_json(bessel: list, sph: list) -> str:
    """The forms as exact sympy ``srepr`` text, with the versions that derived them."""
    import sympy as sym
    import torch_geometric

    return json.dumps({"derived_by": f"torch_geometric {torch_geometric.__version__} dimenet_utils.bessel_basis / "
                                     f"real_sph_harm, sympy {sym.__version__}",
                       "bessel": [[sym.srepr(e) for e in row] for row in bessel],
                       "sph": [sym.srepr(e) for e in sph]}, indent=1) + "\n"


def _read_forms(path: Path, num_spherical: int, num_radial: int) -> tuple[list, list] | None:
    import sympy as sym

    try:
        stored = json.loads(path.read_text())
        bessel = [[sym.sympify(e) for e in row] for row in stored["bessel"]]
        sph = [sym.sympify(e) for e in stored["sph"]]
    except (OSError, ValueError, KeyError, TypeError, sym.SympifyError):
        return None
    if len(bessel) == num_spherical and all(len(r) == num_radial for r in bessel) and len(sph) == num_spherical:
        return bessel, sph
    return None


@functools.lru_cache(maxsize=None)
def basis_forms(num_spherical: int, num_radial: int) -> tuple[list, list]:
    """The sympy forms of DimeNet's spherical basis, exactly as PyG derives them.

    PyG's derivation (:func:`derive_basis_forms`) costs 10-50 s of ``sympy.simplify``, so the forms
    the evaluators use (7 x 6) ship as exact ``srepr`` text (:func:`shipped_basis_file`, written by
    :func:`basis_forms_json`); they give bit-identical outputs to PyG's ``SphericalBasisLayer``.
    Other sizes are derived once and kept in the designer cache (``$DESIGNER_CACHE_DIR`` or
    ``~/.cache/designer``), keyed by the sympy and PyG versions.

    Returns:
        ``(bessel, sph)``: ``bessel[l][n]`` the normalised spherical Bessel function of order l
        and root n in the symbol ``x``, ``sph[l]`` the real spherical harmonic Y_l^0 in ``theta``.
    """
    for path in (shipped_basis_file(num_spherical, num_radial), _basis_cache_file(num_spherical, num_radial)):
        forms = _read_forms(path, num_spherical, num_radial)
        if forms is not None:
            return forms
    bessel, sph = derive_basis_forms(num_spherical, num_radial)
    try:
        from designer.io.atomic import atomic_write_text

        atomic_write_text(_basis_cache_file(num_spherical, num_radial), basis_forms_json(bessel, sph))
    except OSError:  # a read-only cache only costs time
        pass
    return bessel, sph


@functools.lru_cache(maxsize=None)
def _basis_functions(num_spherical: int, num_radial: int) -> tuple[tuple, tuple]:
    """The forms of :func:`basis_forms` as torch functions, lambdified as PyG does (shared: they hold no state)."""
    import sympy as sym

    bessel, sph = basis_forms(num_spherical, num_radial)
    x, theta = sym.symbols("x theta")
    modules = {"sin": torch.sin, "cos": torch.cos}
    sph_funcs, bessel_funcs = [], []
    for order in range(num_spherical):
        if order == 0:  # Y_0^0 is a constant: broadcast it
            const = sym.lambdify([theta], sph[0], modules)(0)
            sph_funcs.append(functools.partial(SphericalBasisLayer._sph_to_tensor, const))
        else:
            sph_funcs.append(sym.lambdify([theta], sph[order], modules))
        bessel_funcs += [sym.lambdify([x], form, modules) for form in bessel[order]]
    return tuple(sph_funcs), tuple(bessel_funcs)


class SphericalBasis(SphericalBasisLayer):
    """PyG's ``SphericalBasisLayer`` (its forward unchanged) built from :func:`basis_forms` (cached)."""

    def __init__(self, num_spherical: int, num_radial: int, cutoff: float, envelope_exponent: int):
        torch.nn.Module.__init__(self)  # not SphericalBasisLayer.__init__: that re-derives the forms
        self.num_spherical, self.num_radial, self.cutoff = num_spherical, num_radial, cutoff
        self.envelope = Envelope(envelope_exponent)
        sph_funcs, bessel_funcs = _basis_functions(num_spherical, num_radial)
        self.sph_funcs, self.bessel_funcs = list(sph_funcs), list(bessel_funcs)


class PeriodicDimeNetPP(torch.nn.Module):
    """PyG's DimeNet++ blocks run on a periodic graph; state-dict keys ``encoder.*`` as CDVAE's.

    ``encoder`` holds the modules of ``torch_geometric.nn.models.DimeNetPlusPlus`` under its
    attribute names (``rbf``, ``sbf``, ``emb``, ``interaction_blocks``, ``output_blocks``). The only
    change: each output block's ``lin_up`` gets the bias CDVAE's has.
    """

    def __init__(self, arch: dict, out_channels: int = 1):
        super().__init__()
        a = {k: arch[k] for k in ARCH_KEYS}
        act = activation_resolver("swish")
        enc = torch.nn.Module()
        enc.rbf = BesselBasisLayer(a["num_radial"], a["cutoff"], a["envelope_exponent"])
        enc.sbf = SphericalBasis(a["num_spherical"], a["num_radial"], a["cutoff"], a["envelope_exponent"])
        enc.emb = EmbeddingBlock(a["num_radial"], a["hidden_channels"], act)
        enc.output_blocks = torch.nn.ModuleList([
            OutputPPBlock(a["num_radial"], a["hidden_channels"], a["out_emb_channels"], out_channels,
                          a["num_output_layers"], act) for _ in range(a["num_blocks"] + 1)])
        enc.interaction_blocks = torch.nn.ModuleList([
            InteractionPPBlock(a["hidden_channels"], a["int_emb_size"], a["basis_emb_size"], a["num_spherical"],
                               a["num_radial"], a["num_before_skip"], a["num_after_skip"], act)
            for _ in range(a["num_blocks"])])
        for block in enc.output_blocks:
            block.lin_up = torch.nn.Linear(a["hidden_channels"], a["out_emb_channels"], bias=True)
        self.encoder = enc

    def forward(self, z: torch.Tensor, frac: torch.Tensor, lattice: torch.Tensor, node_graph: torch.Tensor,
                edge_index: torch.Tensor, images: torch.Tensor, num_graphs: int) -> torch.Tensor:
        """Raw (scaled) outputs of a batch of G crystals with N atoms and E edges in all.

        Args:
            z: ``(N,)`` long atomic numbers.
            frac: ``(N, 3)`` fractional coordinates.
            lattice: ``(G, 3, 3)`` lattices, rows are lattice vectors (Å).
            node_graph: ``(N,)`` long, the crystal of each atom.
            edge_index: ``(2, E)`` long, batch-wide atom indices; row 0 source j, row 1 target i.
            images: ``(E, 3)`` periodic image of each edge's source.
            num_graphs: G.

        Returns:
            ``(G, out_channels)``: the mean over each crystal's atoms of the summed output blocks.
        """
        enc = self.encoder
        n = z.numel()
        j, i = edge_index[0], edge_index[1]
        pos = torch.einsum("ni,nij->nj", frac, lattice[node_graph])
        offsets = torch.einsum("ei,eij->ej", images.to(frac.dtype), lattice[node_graph[i]])
        vec = pos[j] + offsets - pos[i]  # from i to the image of j
        dist = vec.norm(dim=-1)
        idx_kj, idx_ji = triplets(edge_index, n)
        v_ij, v_jk = vec[idx_ji], vec[idx_kj]  # i -> j and j -> k
        angle = torch.atan2(torch.cross(v_ij, v_jk, dim=1).norm(dim=-1), (v_ij * v_jk).sum(dim=-1))
        rbf = enc.rbf(dist)
        sbf = enc.sbf(dist, angle, idx_kj)
        x = enc.emb(z, rbf, i, j)  # concatenates [x[i] (target), x[j] (source), rbf]
        per_atom = enc.output_blocks[0](x, rbf, i, num_nodes=n)
        for interaction, output in zip(enc.interaction_blocks, enc.output_blocks[1:]):
            x = interaction(x, rbf, sbf, idx_kj, idx_ji)
            per_atom = per_atom + output(x, rbf, i, num_nodes=n)
        total = torch.zeros(num_graphs, per_atom.shape[1], dtype=per_atom.dtype, device=per_atom.device)
        total.index_add_(0, node_graph, per_atom)
        count = torch.bincount(node_graph, minlength=num_graphs).clamp(min=1).to(per_atom.dtype)
        return total / count[:, None]


# ----------------------------------------------------------------------------------------------- evaluator


def evaluator_dir(name: str):
    """The shipped folder of evaluator ``name``; a DesignerError naming it when the name is unknown."""
    if name not in EVALUATORS:
        raise DesignerError(f"unknown CDVAE evaluator {name!r} (available: {', '.join(EVALUATORS)})")
    return data_file(FOLDER) / name


class CDVAEEvaluator:
    """One of CDVAE's three property evaluators, loaded strictly from the shipped weights.

    ``CDVAEEvaluator("perovskite").predict(structures)`` -> heat_ref (eV/atom) of each structure.

    Args:
        name: ``"perovskite"``, ``"carbon"`` or ``"mp20"``.
        device: where the network runs (``"cpu"``, ``"cuda"``, a ``torch.device``).
    """

    def __init__(self, name: str, device: str | torch.device = "cpu"):
        folder = evaluator_dir(name)
        self.name = name
        self.target, self.dataset = EVALUATORS[name]
        self.unit = "eV/atom"
        files = {k: folder / k for k in ("state_dict.pt", "scalers.json", "hparams.yaml")}
        for path in files.values():
            if not path.is_file():
                raise DataError(f"{path}: the shipped weights of CDVAE evaluator {name!r} are missing; reinstall the package")
        hp = yaml.safe_load(files["hparams.yaml"].read_text())
        data, arch = hp.get("data", {}), hp.get("model", {}).get("encoder", {})
        expected = {"prop": self.target, "niggli": True, "primitive": False, "graph_method": "crystalnn",
                    "readout": "mean"}
        got = {k: _resolve(data.get(k), data) for k in expected}
        got["readout"] = _resolve(arch.get("readout"), data)
        if got != expected:
            raise DataError(f"{files['hparams.yaml']}: evaluator {name!r} was trained with {got}; this loader "
                            f"implements {expected}")
        missing = [k for k in ARCH_KEYS if k not in arch]
        if missing:
            raise DataError(f"{files['hparams.yaml']}: model.encoder lacks {', '.join(missing)}")
        self.arch = {k: arch[k] for k in ARCH_KEYS}
        out_channels = int(_resolve(arch.get("num_targets", 1), data) or 1)
        scalers = json.loads(files["scalers.json"].read_text())["prop_scaler"]
        self.mean, self.std = float(scalers["means"]), float(scalers["stds"])
        self.model = PeriodicDimeNetPP(self.arch, out_channels)
        state = torch.load(files["state_dict.pt"], map_location="cpu", weights_only=True)
        self.model.load_state_dict(state, strict=True)
        self.model.eval()
        self.device = torch.device(device)
        self.model.to(self.device)

    def to(self, device: str | torch.device) -> "CDVAEEvaluator":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def __repr__(self) -> str:
        return f"CDVAEEvaluator({self.name!r}: {self.target} [{self.unit}], trained on {self.dataset}, {self.device})"

    # -- graphs

    def graphs(self, structures: Sequence, ids: Sequence[str] | None = None,
               progress: Callable[[int, int], None] | None = None) -> list[CrystalGraph]:
        """CrystalNN graphs of ``structures`` (CPU); errors name ``ids[k]`` (default ``structure k``)."""
        out = []
        for k, s in enumerate(structures):
            where = str(ids[k]) if ids is not None else f"structure {k}"
            out.append(crystal_graph(s, where))
            if progress is not None and (k + 1) % 100 == 0:
                progress(k + 1, len(structures))
        return out

    # -- network

    def _collate(self, graphs: Sequence[CrystalGraph]) -> tuple:
        counts = np.array([g.num_atoms for g in graphs], dtype=np.int64)
        shift = np.concatenate([[0], np.cumsum(counts)[:-1]])
        edge_index = np.concatenate([g.edge_index + s for g, s in zip(graphs, shift)], axis=1)
        dev, f32, long = self.device, torch.float32, torch.long
        return (
            torch.as_tensor(np.concatenate([g.atomic_numbers for g in graphs]), dtype=long, device=dev),
            torch.as_tensor(np.concatenate([g.frac_coords for g in graphs]), dtype=f32, device=dev),
            torch.as_tensor(np.stack([g.lattice for g in graphs]), dtype=f32, device=dev),
            torch.as_tensor(np.repeat(np.arange(len(graphs)), counts), dtype=long, device=dev),
            torch.as_tensor(edge_index, dtype=long, device=dev),
            torch.as_tensor(np.concatenate([g.images for g in graphs]), dtype=f32, device=dev),
            len(graphs),
        )

    @torch.inference_mode()
    def predict_graphs(self, graphs: Sequence[CrystalGraph], batch_size: int = 256) -> np.ndarray:
        """Predictions for prepared graphs, ``batch_size`` crystals per forward pass.

        Returns:
            ``(len(graphs),)`` float64, the property in eV/atom.
        """
        if batch_size < 1:
            raise DesignerError(f"batch_size must be at least 1 (got {batch_size})")
        parts = []
        for start in range(0, len(graphs), batch_size):
            raw = self.model(*self._collate(graphs[start:start + batch_size]))
            parts.append((raw[:, 0] * self.std + self.mean).detach().cpu())
        return torch.cat(parts).double().numpy() if parts else np.zeros(0)

    def predict(self, structures: Sequence, batch_size: int = 256, ids: Sequence[str] | None = None) -> np.ndarray:
        """The property of each pymatgen ``Structure``.

        Args:
            structures: S pymatgen ``Structure`` objects (any cell and orientation).
            batch_size: crystals per forward pass.
            ids: optional names for error messages (default ``structure k``).

        Returns:
            ``(S,)`` float64 predictions in eV/atom (``self.target``).

        Raises:
            DataError: one line naming the structure CrystalNN cannot handle.
        """
        if ids is not None and len(ids) != len(structures):
            raise DesignerError(f"{len(ids)} ids given for {len(structures)} structures")
        return self.predict_graphs(self.graphs(structures, ids), batch_size)

    __call__ = predict


def max_edge_length(graph: CrystalGraph) -> float:
    """The longest edge of a graph (Å); edges at or beyond the model's cutoff (7 Å) get no radial signal."""
    if graph.num_edges == 0:
        return 0.0
    j, i = graph.edge_index
    vec = (graph.frac_coords[j] + graph.images - graph.frac_coords[i]) @ graph.lattice
    return float(np.linalg.norm(vec, axis=1).max())


__all__ = ["EVALUATORS", "CDVAEEvaluator", "CrystalGraph", "PeriodicDimeNetPP", "SphericalBasis", "basis_forms",
           "crystal_graph", "triplets", "evaluator_dir", "max_edge_length", "derive_basis_forms",
           "shipped_basis_file", "basis_forms_json"]
