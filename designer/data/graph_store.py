"""Processed crystal datasets as flat memory-mapped arrays: one ``.npy`` per field plus offsets.

Training reads crystals by index from these files, so a process's memory does not grow with the
dataset (MatterGen keeps its processed data the same way). A store is built once per input file
content and processing options, in chunks of rows (parsed and graphed over ``jobs`` worker
processes), into a temporary folder that is renamed into place when complete; one that cannot be
read is rebuilt with a warning.

Fields (``n`` crystals, ``A`` atoms and ``E`` edges in all; ``*_ptr`` are the ``n + 1`` offsets of
each crystal's rows):

* ``atomic_numbers`` (A, int16), ``frac_coords`` (A x 3, float32), ``atom_ptr`` (n + 1, int64);
* ``lattice`` (n x 3 x 3, float32), ``sym_ops`` (n x 48 x 3 x 3, int8: the lattice's integer
  automorphisms, identity-padded), ``num_ops`` (n, int16), ``y`` (n x P, float32, NaN unlabelled);
* ``edge_index`` (E x 2, int32: source, destination within the crystal), ``edge_offset`` (E x 3,
  int16 image offsets), ``edge_dist`` (E, float32), ``edge_ptr`` (n + 1, int64);
* ``meta.json``: format, row count, property names, the ids and sources (for error messages).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from torch_geometric.data import Data

from designer.data.cache import CACHE_VERSION, cache_dir, content_hash
from designer.data.crystal_dataset import ElementVocab, build_graphs
from designer.data.crystal_graph import graph_csv_row
from designer.data.crystal_io import CrystalRecord, read_crystals
from designer.data.lattice_symmetry import MAX_OPS
from designer.errors import DataError, DesignerError
from designer.io.text import open_text
from designer.parallel import parallel_map

FORMAT = 1
DTYPES = {"atomic_numbers": np.int16, "frac_coords": np.float32, "atom_ptr": np.int64, "lattice": np.float32,
          "sym_ops": np.int8, "num_ops": np.int16, "y": np.float32, "edge_index": np.int32,
          "edge_offset": np.int16, "edge_dist": np.float32, "edge_ptr": np.int64}
SHAPES = {"frac_coords": (3,), "lattice": (3, 3), "sym_ops": (MAX_OPS, 3, 3), "edge_index": (2,), "edge_offset": (3,)}


# ------------------------------------------------------------------------------------------ reading rows
def _csv_chunks(path: Path, properties: list[str], rows: int) -> Iterator[list[tuple]]:
    """The rows of a crystal CSV as ``parse_csv_row`` tuples, ``rows`` at a time (the whole file never
    sits in memory as records)."""
    first = True
    start = 0
    try:
        reader = pd.read_csv(open_text(path), index_col=None, chunksize=rows)
        for df in reader:
            if first:
                if "cif" not in df.columns:
                    raise DataError(f"{path}: no 'cif' column (columns: {', '.join(map(str, df.columns))}); "
                                    "a crystal CSV needs one")
                missing = [p for p in properties if p not in df.columns]
                if missing:
                    raise DataError(f"{path}: property column {missing[0]!r} not found; fix data.properties in the "
                                    "pipeline file")
                id_column = "material_id" if "material_id" in df.columns else None
                first = False
            items = []
            for k, rec in enumerate(df.to_dict("records")):
                row = start + k
                rid = str(rec[id_column]) if id_column else str(row)
                items.append((rid, rec["cif"], {p: rec[p] for p in properties}, f"{path}: row {row + 1} (id {rid})"))
            start += len(df)
            yield items
    except DesignerError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; give a CSV with a 'cif' column") from None
    except Exception as exc:
        raise DataError(f"{path}: cannot read the CSV ({' '.join(str(exc).split())}); a crystal CSV is comma-separated "
                        "with a 'cif' column") from None
    if first:
        raise DataError(f"{path}: the CSV has no rows")


def _graphed_chunks(path: Path, properties: list[str], rows: int, cutoff: float, max_neighbors: int,
                    jobs: int) -> Iterator[tuple[list[CrystalRecord], list[tuple]]]:
    """``(records, graphs)`` of ``path``, ``rows`` crystals at a time; a CSV's rows are parsed and
    graphed in one task per crystal over ``jobs`` workers (``crystal_graph.graph_csv_row``)."""
    name = path.name.lower()
    if path.is_file() and name.endswith((".csv", ".csv.gz")) and path.stat().st_size > 0:
        for items in _csv_chunks(path, properties, rows):
            done = parallel_map(graph_csv_row, [(item, cutoff, max_neighbors) for item in items], n_jobs=jobs)
            yield [r for r, _ in done], [g for _, g in done]
    else:  # a folder of CIFs or one CIF (and every one-line error of the reader)
        records = read_crystals(path, properties, jobs=jobs)
        yield records, build_graphs(records, cutoff, max_neighbors, jobs)


# ------------------------------------------------------------------------------------------ writing
class _Writer:
    """Appends chunks to raw field files in a temporary folder; ``finish`` turns them into ``.npy``."""

    def __init__(self, tmp: Path, properties: list[str]):
        self.tmp, self.properties = tmp, properties
        tmp.mkdir(parents=True)
        self.files = {k: open(tmp / f"{k}.raw", "wb") for k in DTYPES}
        self.counts = {k: 0 for k in DTYPES}
        self.n_atoms = self.n_edges = 0
        self.ids: list[str] = []
        self.sources: list[str] = []
        self._put("atom_ptr", np.zeros(1))
        self._put("edge_ptr", np.zeros(1))

    def _put(self, key: str, a: np.ndarray) -> None:
        a = np.ascontiguousarray(a, dtype=DTYPES[key])
        self.files[key].write(a.tobytes())
        self.counts[key] += len(a)

    def append(self, records: list[CrystalRecord], graphs: list[tuple]) -> None:
        for r, (edge_index, offsets, dist, ops, num_ops) in zip(records, graphs):
            self._put("atomic_numbers", r.atomic_numbers)
            self._put("frac_coords", r.frac_coords)
            self._put("lattice", r.lattice[None])
            ops_int = np.rint(ops)
            if np.abs(ops - ops_int).max() > 1e-6:  # a Niggli cell's automorphisms are integer matrices
                raise DesignerError(f"{r.source}: a lattice automorphism is not an integer matrix")
            self._put("sym_ops", ops_int[None])
            self._put("num_ops", np.array([num_ops]))
            self._put("y", np.array([[r.properties.get(p, np.nan) for p in self.properties]]).reshape(1, -1))
            self._put("edge_index", np.asarray(edge_index).T)
            self._put("edge_offset", offsets)
            self._put("edge_dist", dist)
            self.n_atoms += r.num_atoms
            self.n_edges += edge_index.shape[1]
            self._put("atom_ptr", np.array([self.n_atoms]))
            self._put("edge_ptr", np.array([self.n_edges]))
            self.ids.append(r.id)
            self.sources.append(r.source)

    def finish(self) -> None:
        for f in self.files.values():
            f.close()
        shapes = {**SHAPES, "y": (len(self.properties),)}
        for key, dtype in DTYPES.items():
            raw = self.tmp / f"{key}.raw"
            shape = (self.counts[key], *shapes.get(key, ()))
            with open(self.tmp / f"{key}.npy", "wb") as out, open(raw, "rb") as src:
                np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                           "fortran_order": False, "shape": shape})
                shutil.copyfileobj(src, out, 1 << 22)
            raw.unlink()
        meta = {"format": FORMAT, "rows": len(self.ids), "properties": self.properties, "ids": self.ids,
                "sources": self.sources, "atoms": self.n_atoms, "edges": self.n_edges}
        (self.tmp / "meta.json").write_text(json.dumps(meta))


def store_folder(path: Path, properties: list[str], cutoff: float, max_neighbors: int) -> Path:
    """Where the store of ``path`` with these options lives (keyed by the input's content hash)."""
    options = {"kind": "crystal_store", "format": FORMAT, "properties": list(properties), "cutoff": cutoff,
               "max_neighbors": max_neighbors}
    key = hashlib.sha256((content_hash(path) + json.dumps(options, sort_keys=True) + str(CACHE_VERSION)).encode())
    return cache_dir() / "stores" / f"{Path(path).name}.{key.hexdigest()[:32]}"


def _move_into_place(tmp: Path, folder: Path) -> None:
    """Rename the finished ``tmp`` to ``folder``. An earlier (damaged) copy is renamed aside first, so a
    process still reading it keeps its open files; when another process placed an equal store first
    (two commands sharing one cache), that one is kept and ``tmp`` is dropped."""
    if folder.exists():
        aside = folder.with_name(f"{folder.name}.old-{os.getpid()}")
        try:
            os.replace(folder, aside)
        except OSError:
            pass
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.replace(tmp, folder)
    except OSError:
        if not folder.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another process finished the same store just now


def build_store(path: Path, properties: list[str], cutoff: float, max_neighbors: int, jobs: int = 1,
                chunk_rows: int = 2048, folder: Path | None = None) -> Path:
    """Parse and graph ``path`` into a store (``chunk_rows`` rows at a time) and return its folder."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; check the path (relative paths resolve against the pipeline file)")
    folder = folder or store_folder(path, properties, cutoff, max_neighbors)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    writer = _Writer(tmp, list(properties))
    try:
        for records, graphs in _graphed_chunks(path, list(properties), chunk_rows, cutoff, max_neighbors, jobs):
            writer.append(records, graphs)
        writer.finish()
        _move_into_place(tmp, folder)
    except BaseException:
        for f in writer.files.values():
            f.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


# ------------------------------------------------------------------------------------------ reading
class GraphStore(Dataset):
    """The crystals of one store as PyG ``Data`` (the fields of ``crystal_dataset.to_data``), read by index."""

    def __init__(self, folder: Path, vocab: ElementVocab | None = None):
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / "meta.json").read_text())
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"store format {self.meta.get('format')}, expected {FORMAT}")
        self.a = {k: np.load(self.folder / f"{k}.npy", mmap_mode="r") for k in DTYPES}
        n = self.meta["rows"]
        if len(self.a["atom_ptr"]) != n + 1 or len(self.a["lattice"]) != n or int(self.a["atom_ptr"][-1]) != len(self.a["atomic_numbers"]):
            raise ValueError("field lengths disagree")
        self.vocab = vocab

    def __len__(self) -> int:
        return self.meta["rows"]

    @property
    def properties(self) -> list[str]:
        return self.meta["properties"]

    def num_atoms(self) -> np.ndarray:
        """``n`` atom counts."""
        return np.diff(self.a["atom_ptr"])

    def elements(self) -> list[int]:
        """The atomic numbers present (sorted)."""
        return sorted(int(z) for z in np.unique(self.a["atomic_numbers"]))

    def labels(self) -> np.ndarray:
        """``n x P`` labels (NaN unlabelled)."""
        return np.asarray(self.a["y"], dtype=np.float64)

    def lattices(self) -> torch.Tensor:
        """``n x 3 x 3`` lattices."""
        return torch.from_numpy(np.array(self.a["lattice"]))

    def __getitem__(self, i: int) -> Data:
        a = self.a
        s, e = int(a["atom_ptr"][i]), int(a["atom_ptr"][i + 1])
        es, ee = int(a["edge_ptr"][i]), int(a["edge_ptr"][i + 1])
        z = np.asarray(a["atomic_numbers"][s:e], dtype=np.int64)
        types = self.vocab.encode(z, self.meta["sources"][i]) if self.vocab is not None else z
        n_ops = int(a["num_ops"][i])
        return Data(
            atom_types=torch.from_numpy(np.asarray(types, dtype=np.int64)),
            frac_coords=torch.from_numpy(np.array(a["frac_coords"][s:e])),
            lattice=torch.from_numpy(np.array(a["lattice"][i])).unsqueeze(0),
            num_atoms=torch.tensor([e - s]),
            edge_index=torch.from_numpy(np.array(a["edge_index"][es:ee], dtype=np.int64).T.copy()),
            edge_offset=torch.from_numpy(np.array(a["edge_offset"][es:ee], dtype=np.float32)),
            edge_dist=torch.from_numpy(np.array(a["edge_dist"][es:ee])),
            sym_ops=torch.from_numpy(np.array(a["sym_ops"][i], dtype=np.float32)).unsqueeze(0),
            num_ops=torch.tensor([n_ops]),
            y=torch.from_numpy(np.array(a["y"][i])).reshape(1, -1),
            num_nodes=e - s,
        )


def open_store(path: Path, properties: list[str], cutoff: float, max_neighbors: int, jobs: int = 1,
               use_cache: bool = True) -> GraphStore:
    """The store of ``path`` (built on first use; a damaged one is rebuilt with a warning)."""
    if not Path(path).exists():
        raise DataError(f"{path}: no such file or folder; check the path (relative paths resolve against the pipeline file)")
    folder = store_folder(Path(path), properties, cutoff, max_neighbors) if use_cache else None
    if folder is not None and (folder / "meta.json").exists():
        try:
            return GraphStore(folder)
        except Exception as exc:
            warnings.warn(f"{folder}: the processed copy of {Path(path).name} cannot be read ({exc}); rebuilding it",
                          RuntimeWarning, stacklevel=2)
    if folder is None:  # no cache: a private store for this process
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="designer-store-")) / "store"
    try:
        return GraphStore(build_store(Path(path), properties, cutoff, max_neighbors, jobs, folder=folder))
    except OSError as exc:
        raise DataError(f"{folder}: cannot write the processed dataset ({exc.strerror or exc}); "
                        "point DESIGNER_CACHE_DIR at a writable folder") from None


def check_store(store: GraphStore, vocab: ElementVocab, max_atoms: int) -> None:
    """Refuse, before any training, a crystal over ``max_atoms`` or with an element outside ``vocab``
    (the readers' one-line errors, naming the row)."""
    over = np.flatnonzero(store.num_atoms() > max_atoms)
    if len(over):
        i = int(over[0])
        raise DataError(f"{store.meta['sources'][i]}: {int(store.num_atoms()[i])} atoms, more than max_atoms={max_atoms}; "
                        "raise data.max_atoms in the pipeline file (and retrain) or drop the row")
    unknown = sorted(set(store.elements()) - set(vocab.atomic_numbers))
    if unknown:
        atom = int(np.flatnonzero(np.isin(store.a["atomic_numbers"], unknown))[0])
        i = int(np.searchsorted(store.a["atom_ptr"], atom, side="right") - 1)
        s, e = int(store.a["atom_ptr"][i]), int(store.a["atom_ptr"][i + 1])
        vocab.encode(np.asarray(store.a["atomic_numbers"][s:e]), store.meta["sources"][i])  # raises, naming the row


def load_store_dataset(paths: list[Path], properties: list[str], vocab: ElementVocab | None, cutoff: float,
                       max_neighbors: int, max_atoms: int, use_cache: bool = True,
                       jobs: int = 1) -> tuple[Dataset, ElementVocab, list[int]]:
    """The inputs as one index-addressed dataset of ``Data`` (memory-mapped stores, concatenated).

    Returns:
        the dataset, the vocabulary (built from the inputs when not given) and each input's row count.
    """
    from torch.utils.data import ConcatDataset

    from designer.data.label_checks import check_labels

    stores = [open_store(Path(p), list(properties), cutoff, max_neighbors, jobs, use_cache) for p in paths]
    vocab = vocab or ElementVocab(tuple(sorted({z for s in stores for z in s.elements()})))
    for s in stores:
        check_store(s, vocab, max_atoms)
        s.vocab = vocab
    if properties and stores:
        check_labels(np.concatenate([s.labels() for s in stores]), properties, ", ".join(map(str, paths)),
                     [src for s in stores for src in s.meta["sources"]])
    data = stores[0] if len(stores) == 1 else ConcatDataset(stores)
    return data, vocab, [len(s) for s in stores]
