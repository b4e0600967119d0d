"""Crystal records -> torch-geometric ``Data`` objects (graph + decoder targets), with the element vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pymatgen.core import Element
from torch_geometric.data import Data

from designer.data.cache import cached
from designer.data.crystal_graph import build_graph, graph_worker
from designer.data.crystal_io import CrystalRecord, canonicalize, read_crystals
from designer.data.label_checks import check_labels
from designer.errors import DataError
from designer.parallel import parallel_map


@dataclass(frozen=True)
class ElementVocab:
    """The elements a model knows, as sorted atomic numbers; index i <-> ``atomic_numbers[i]``."""

    atomic_numbers: tuple[int, ...]

    @classmethod
    def from_records(cls, records: list[CrystalRecord]) -> "ElementVocab":
        zs = sorted({int(z) for r in records for z in r.atomic_numbers})
        return cls(tuple(zs))

    def __len__(self) -> int:
        return len(self.atomic_numbers)

    def symbols(self) -> list[str]:
        return [Element.from_Z(z).symbol for z in self.atomic_numbers]

    def encode(self, zs: np.ndarray, where: str = "") -> np.ndarray:
        lookup = {z: i for i, z in enumerate(self.atomic_numbers)}
        out = np.empty(len(zs), dtype=np.int64)
        for k, z in enumerate(zs):
            if int(z) not in lookup:
                raise DataError(
                    f"{where}: element {Element.from_Z(int(z)).symbol} is outside the model's vocabulary "
                    f"({len(self)} elements: {', '.join(self.symbols()[:12])}{', ...' if len(self) > 12 else ''}); "
                    "drop the row or train a model on data that contains it"
                )
            out[k] = lookup[int(z)]
        return out


def load_records(path: Path, properties: list[str], use_cache: bool = True, jobs: int = 1) -> list[CrystalRecord]:
    """Read (or fetch from the on-disk cache) the canonicalised crystals of one input (``jobs`` parsers)."""
    return cached(
        Path(path), {"kind": "crystal_records", "properties": list(properties)},
        lambda: read_crystals(path, properties, jobs=jobs), enabled=use_cache,
    )


def check_records(records: list[CrystalRecord], max_atoms: int) -> None:
    for r in records:
        if r.num_atoms > max_atoms:
            raise DataError(
                f"{r.source}: {r.num_atoms} atoms, more than max_atoms={max_atoms}; "
                "raise data.max_atoms in the pipeline file (and retrain) or drop the row"
            )


def build_graphs(records: list[CrystalRecord], cutoff: float, max_neighbors: int, jobs: int = 1) -> list[tuple]:
    """``build_graph`` of every record, in order, over ``jobs`` worker processes."""
    return parallel_map(graph_worker, [(r, cutoff, max_neighbors) for r in records], n_jobs=jobs)


def to_data(
    record: CrystalRecord,
    graph: tuple,
    vocab: ElementVocab,
    properties: list[str],
) -> Data:
    """One crystal as a PyG ``Data``: node types, coordinates, lattice, periodic edges, labels.

    Fields: ``atom_types`` (N, vocab indices), ``frac_coords`` (N x 3), ``lattice`` (1 x 3 x 3),
    ``num_atoms`` (1), ``edge_index`` (2 x E), ``edge_offset`` (E x 3), ``edge_dist`` (E),
    ``sym_ops`` (1 x 48 x 3 x 3, the lattice's automorphisms, identity-padded), ``num_ops`` (1, how many
    are distinct), ``y`` (1 x P, NaN = unlabelled).
    """
    edge_index, offsets, dist, ops, num_ops = graph
    y = np.array([[record.properties.get(p, np.nan) for p in properties]], dtype=np.float32)
    return Data(
        atom_types=torch.from_numpy(vocab.encode(record.atomic_numbers, record.source)),
        frac_coords=torch.from_numpy(record.frac_coords.astype(np.float32)),
        lattice=torch.from_numpy(record.lattice.astype(np.float32)).unsqueeze(0),
        num_atoms=torch.tensor([record.num_atoms]),
        edge_index=torch.from_numpy(edge_index),
        edge_offset=torch.from_numpy(offsets.astype(np.float32)),
        edge_dist=torch.from_numpy(dist.astype(np.float32)),
        sym_ops=torch.from_numpy(ops.astype(np.float32)).unsqueeze(0),
        num_ops=torch.tensor([num_ops]),
        y=torch.from_numpy(y).reshape(1, len(properties)),
        num_nodes=record.num_atoms,
    )


def load_graph_dataset(
    paths: list[Path],
    properties: list[str],
    vocab: ElementVocab | None,
    cutoff: float,
    max_neighbors: int,
    max_atoms: int,
    use_cache: bool = True,
    jobs: int = 1,
) -> tuple[list[CrystalRecord], list[Data], ElementVocab]:
    """Read one or more inputs into records and graphs; the vocabulary is built from them when not given.
    ``jobs``: worker processes for parsing and graph building (the cache does not depend on it)."""
    records: list[CrystalRecord] = []
    graphs: list[tuple] = []
    for path in paths:
        recs = load_records(Path(path), properties, use_cache, jobs)
        check_records(recs, max_atoms)
        records += recs
        graphs += cached(
            Path(path),
            {"kind": "crystal_graphs", "format": 2, "properties": list(properties), "cutoff": cutoff, "max_neighbors": max_neighbors},
            lambda recs=recs: build_graphs(recs, cutoff, max_neighbors, jobs), enabled=use_cache,
        )
    if properties and records:
        check_labels(np.array([[r.properties.get(p, np.nan) for p in properties] for r in records], dtype=float),
                     properties, ", ".join(map(str, paths)), [r.source or r.id for r in records])
    vocab = vocab or ElementVocab.from_records(records)
    data = [to_data(r, g, vocab, properties) for r, g in zip(records, graphs)]
    return records, data, vocab


def graph_for_structure(structure, vocab: ElementVocab, cutoff: float, max_neighbors: int, properties=(), where="input",
                        max_atoms: int | None = None):
    """Canonicalise a pymatgen structure and build its ``Data`` (for encoding structures made in memory).

    ``max_atoms``: the model's limit, checked before any neighbour search (DataError naming ``where``)."""
    lattice, frac, z = canonicalize(structure, where)
    rec = CrystalRecord(where, lattice, frac, z, {}, where)
    if max_atoms is not None:
        check_records([rec], max_atoms)
    return to_data(rec, build_graph(rec, cutoff, max_neighbors), vocab, list(properties))
