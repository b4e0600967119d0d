"""Data preparation over worker processes gives what one process gives; a damaged cache is rebuilt with a warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from conftest import perov_frame, write_csv


@pytest.fixture(scope="module")
def csv24(tmp_path_factory):
    return write_csv(perov_frame(24), tmp_path_factory.mktemp("par") / "c.csv")


def test_two_jobs_parse_and_build_the_same_records_and_graphs(csv24):
    from designer.data.crystal_dataset import load_graph_dataset

    r1, d1, v1 = load_graph_dataset([csv24], ["heat_ref"], None, 7.0, 12, 8, use_cache=False, jobs=1)
    r2, d2, v2 = load_graph_dataset([csv24], ["heat_ref"], None, 7.0, 12, 8, use_cache=False, jobs=2)
    assert v1.atomic_numbers == v2.atomic_numbers and [r.id for r in r1] == [r.id for r in r2]
    for a, b in zip(d1, d2):
        for key in ("atom_types", "frac_coords", "lattice", "edge_index", "edge_offset", "edge_dist", "sym_ops", "y"):
            assert np.array_equal(getattr(a, key).numpy(), getattr(b, key).numpy(), equal_nan=True), key


def test_a_bad_row_found_by_a_worker_is_the_same_one_line_error(tmp_path):
    from designer.data.crystal_io import read_crystals
    from designer.errors import DataError

    df = perov_frame(12)
    df.iloc[7, df.columns.get_loc("cif")] = "data_broken\n_cell_length_a 4\n"
    path = write_csv(df, tmp_path / "bad.csv")
    with pytest.raises(DataError) as err:
        read_crystals(path, ["heat_ref"], jobs=2)
    assert "row 8" in str(err.value) and "\n" not in str(err.value)


def test_a_truncated_cache_entry_is_rebuilt_with_a_warning(csv24):
    from designer.data.cache import cache_dir
    from designer.data.crystal_dataset import load_records

    first = load_records(csv24, ["heat_ref"])
    entries = sorted(cache_dir().glob(f"{csv24.name}.*.pkl"))
    assert entries
    for e in entries:
        e.write_bytes(e.read_bytes()[:50])  # truncated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = load_records(csv24, ["heat_ref"])
    assert any("rebuilding" in str(w.message) for w in caught)
    assert [r.id for r in again] == [r.id for r in first]
    load_records(csv24, ["heat_ref"])  # the rebuilt entry reads back
