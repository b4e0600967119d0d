"""The seeded by-id split (``designer.data.split_files``) and the shipped carbon_24 split made with it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from designer.data.split_files import id_split, split_csv
from designer.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
CARBON = ROOT / "datasets" / "carbon_24"
PARTS = {"train": 0.7, "holdout": 0.1, "test": 0.2}


def test_parts_are_disjoint_cover_the_ids_and_have_the_asked_sizes():
    ids = [f"m-{i}" for i in range(101)]
    parts = id_split(ids, PARTS, seed=3)
    assert [len(parts[k]) for k in PARTS] == [71, 10, 20]
    assert sorted(sum(parts.values(), [])) == sorted(ids)


def test_the_split_depends_on_the_ids_and_seed_not_on_the_row_order():
    ids = [f"m-{i}" for i in range(50)]
    assert id_split(ids, PARTS, 0) == id_split(list(reversed(ids)), PARTS, 0)
    assert id_split(ids, PARTS, 0) != id_split(ids, PARTS, 1)


def test_repeated_ids_or_bad_fractions_are_refused():
    with pytest.raises(DataError, match="repeated id"):
        id_split(["a", "b", "a"], PARTS, 0)
    with pytest.raises(DataError, match="sum to 1"):
        id_split(["a", "b"], {"train": 0.7, "test": 0.2}, 0)


def test_split_csv_writes_each_part_and_the_id_lists_and_a_rerun_is_byte_identical(tmp_path, tiny_csv):
    first = split_csv(tiny_csv, tmp_path / "a", PARTS, seed=0)
    split_csv(tiny_csv, tmp_path / "b", PARTS, seed=0)
    for name in [*PARTS, "split"]:
        suffix = ".json" if name == "split" else ".csv.gz"
        assert (tmp_path / "a" / f"{name}{suffix}").read_bytes() == (tmp_path / "b" / f"{name}{suffix}").read_bytes()
    for name in PARTS:
        part = pd.read_csv(tmp_path / "a" / f"{name}.csv.gz", index_col=0)
        assert sorted(part["material_id"].astype(str)) == first["ids"][name]
        assert "cif" in part.columns
    assert json.loads((tmp_path / "a" / "split.json").read_text())["sizes"] == first["sizes"]


def test_a_missing_file_or_id_column_is_one_line_naming_it(tmp_path, tiny_csv):
    with pytest.raises(DataError, match=r"nope\.csv: not found"):
        split_csv(tmp_path / "nope.csv", tmp_path / "out", PARTS, 0)
    with pytest.raises(DataError, match="no 'mp_id' column"):
        split_csv(tiny_csv, tmp_path / "out", PARTS, 0, id_column="mp_id")


def test_the_shipped_carbon_split_is_70_10_20_of_the_2032_val_crystals_and_its_files_hold_those_ids():
    if not (CARBON / "split.json").exists():
        pytest.skip("carbon_24 split not shipped")
    rec = json.loads((CARBON / "split.json").read_text())
    assert rec["seed"] == 0 and rec["sizes"] == {"train": 1422, "holdout": 203, "test": 407}
    seen: set[str] = set()
    for name, ids in rec["ids"].items():
        with gzip.open(CARBON / f"{name}.csv.gz", "rt") as f:
            part = pd.read_csv(f, index_col=0)
        assert sorted(part["material_id"]) == ids
        assert not seen & set(ids)
        seen |= set(ids)
    assert len(seen) == 2032
    # and it is what the committed command makes of CDVAE's val.csv, where that file is here
    src = ROOT.parent / "shared" / "datasets" / "carbon_24" / "val.csv"
    if src.exists():
        assert id_split(pd.read_csv(src, index_col=0)["material_id"].tolist(), PARTS, 0) == rec["ids"]
