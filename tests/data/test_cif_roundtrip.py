"""CIFs we write read back (with pymatgen) as the same crystal."""

from __future__ import annotations

import warnings

import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from designer.data import read_crystals
from designer.io.crystal_files import structure_to_cif, write_cif


def read_back(path) -> Structure:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_file(path)


def assert_same(a: Structure, b: Structure) -> None:
    assert a.composition.reduced_formula == b.composition.reduced_formula
    assert a.volume / len(a) == pytest.approx(b.volume / len(b), rel=1e-4)
    assert StructureMatcher().fit(a, b), (a, b)


@pytest.fixture(scope="module")
def decoded(tiny_loaded):
    from designer.domains.crystal.generate import sample

    return sample(tiny_loaded, 12, seed=1).structures


def test_decoded_samples_round_trip_through_cif(decoded, tmp_path):
    checked = 0
    for i, s in enumerate(decoded):
        if s is None:  # pymatgen refused to build it: nothing to write
            continue
        path = tmp_path / f"sample_{i}.cif"
        write_cif(s, path)
        back = read_back(path)
        assert len(back) == len(s)
        assert_same(s, back)
        checked += 1
    assert checked >= 5, f"only {checked} of {len(decoded)} samples could be built"


def test_dataset_crystal_round_trips(tiny_structures, tmp_path):
    for i, s in enumerate(tiny_structures[:4]):
        path = tmp_path / f"{i}.cif"
        write_cif(s, path)
        back = read_back(path)
        assert len(back) == len(s)
        assert_same(s, back)


def test_symmetrised_cif_round_trips(tiny_structures, tmp_path):
    """With symprec the CIF carries the space group; reading it back gives the same crystal."""
    for i, s in enumerate(tiny_structures[:4]):
        path = tmp_path / f"sym_{i}.cif"
        write_cif(s, path, symprec=0.01)
        text = path.read_text()
        assert "_symmetry_space_group_name_H-M" in text
        assert_same(s, read_back(path))


def test_our_reader_reads_our_cifs(tiny_structures, tmp_path):
    """write_cif -> designer's own reader (a CIF folder) gives the same crystals, ids = file stems."""
    for i, s in enumerate(tiny_structures[:3]):
        write_cif(s, tmp_path / f"c{i}.cif")
    records = read_crystals(tmp_path)
    assert [r.id for r in records] == ["c0", "c1", "c2"]
    for r, s in zip(records, tiny_structures[:3]):
        assert StructureMatcher().fit(r.to_structure(), s)


def test_write_cif_is_atomic_and_replaces(tiny_structures, tmp_path):
    path = tmp_path / "x.cif"
    write_cif(tiny_structures[0], path)
    write_cif(tiny_structures[1], path)
    assert path.read_text() == structure_to_cif(tiny_structures[1])
    assert [p.name for p in tmp_path.iterdir()] == ["x.cif"]  # no temp files left behind
