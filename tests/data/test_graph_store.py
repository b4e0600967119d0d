"""Memory-mapped stores hold exactly the graphs the in-memory reader builds, are written whole, and
refuse what the reader refuses, before training (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from conftest import perov_frame, write_csv

FIELDS = ("atom_types", "frac_coords", "lattice", "num_atoms", "edge_index", "edge_offset", "edge_dist", "sym_ops",
          "num_ops", "y")


@pytest.fixture(scope="module")
def csv30(tmp_path_factory):
    return write_csv(perov_frame(30), tmp_path_factory.mktemp("store") / "c.csv")


def test_the_store_gives_the_same_data_as_the_in_memory_reader_in_chunks_and_over_workers(csv30, tmp_path):
    from designer.data.crystal_dataset import load_graph_dataset
    from designer.data.graph_store import GraphStore, build_store

    _, ref, vocab = load_graph_dataset([csv30], ["heat_ref"], None, 7.0, 12, 8, use_cache=False)
    store = GraphStore(build_store(csv30, ["heat_ref"], 7.0, 12, jobs=2, chunk_rows=7, folder=tmp_path / "s"), vocab)
    assert len(store) == len(ref) == 30
    for a, b in zip(ref, (store[i] for i in range(len(store)))):
        for key in FIELDS:
            x, y = getattr(a, key), getattr(b, key)
            assert x.dtype == y.dtype and torch.equal(torch.nan_to_num(x), torch.nan_to_num(y)), key
    assert not any(p.name.endswith(".raw") or ".tmp-" in p.name for p in (tmp_path).rglob("*"))
    assert np.load(tmp_path / "s" / "frac_coords.npy", mmap_mode="r").shape == (int(store.num_atoms().sum()), 3)


def test_the_preprocessing_workers_modules_import_no_torch():
    """A worker of ``--jobs`` preprocessing imports the CIF reader and the graph builder only; with torch
    and torch-geometric it took seconds to start, as long as 1,000 crystals take to process."""
    code = ("import sys, designer.data, designer.data.crystal_graph, designer.data.crystal_io; "
            "print(sorted(m for m in ('torch', 'torch_geometric') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_failed_build_leaves_no_store_and_the_row_named(tmp_path):
    from designer.data.graph_store import build_store
    from designer.errors import DataError

    df = perov_frame(20)
    df.iloc[15, df.columns.get_loc("cif")] = "not a cif"
    path = write_csv(df, tmp_path / "bad.csv")
    with pytest.raises(DataError, match="row 16"):
        build_store(path, ["heat_ref"], 7.0, 12, chunk_rows=8, folder=tmp_path / "s")
    assert not (tmp_path / "s").exists() and not list(tmp_path.glob("s.tmp-*"))


def test_a_damaged_store_is_rebuilt_with_a_warning(csv30):
    from designer.data.graph_store import open_store, store_folder

    first = open_store(csv30, ["heat_ref"], 7.0, 12)
    folder = store_folder(csv30, ["heat_ref"], 7.0, 12)
    assert first.folder == folder
    with open(folder / "lattice.npy", "r+b") as f:
        f.truncate(os.path.getsize(folder / "lattice.npy") // 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = open_store(csv30, ["heat_ref"], 7.0, 12)
    assert any("rebuilding" in str(w.message) for w in caught)
    assert len(again) == 30 and again.lattices().shape == (30, 3, 3)


def test_too_many_atoms_or_an_unknown_element_is_refused_before_training(csv30):
    from designer.data.crystal_dataset import ElementVocab
    from designer.data.graph_store import load_store_dataset
    from designer.errors import DataError

    with pytest.raises(DataError, match="more than max_atoms=4"):
        load_store_dataset([csv30], ["heat_ref"], None, 7.0, 12, max_atoms=4)
    with pytest.raises(DataError, match="outside the model's vocabulary"):
        load_store_dataset([csv30], ["heat_ref"], ElementVocab((8, 22)), 7.0, 12, max_atoms=8)
