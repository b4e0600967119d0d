"""ASE file formats in and out (``designer.io.ase_formats``): extxyz, POSCAR / CONTCAR / .vasp and ASE
databases are read wherever CIFs are (training data, reconstruct, score, seed items); a molecule or a
broken file is one line naming it."""

from __future__ import annotations

import math
import warnings

import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.io.ase import AseAtomsAdaptor

from designer.data.crystal_io import read_crystals
from designer.errors import DataError


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _atoms(structures, labels=None):
    frames = []
    for k, s in enumerate(structures):
        a = AseAtomsAdaptor.get_atoms(s)
        a.info = {"id": f"x{k}", **({"heat_ref": labels[k]} if labels and labels[k] is not None else {})}
        frames.append(a)
    return frames


def test_extxyz_frames_become_records_with_their_labels(tmp_path, tiny_structures):
    import ase.io

    path = tmp_path / "train.extxyz"
    ase.io.write(path, _atoms(tiny_structures[:3], [0.5, None, 1.25]), format="extxyz")
    recs = read_crystals(path, ["heat_ref"])
    assert [r.id for r in recs] == ["x0", "x1", "x2"]
    assert recs[0].properties["heat_ref"] == 0.5 and math.isnan(recs[1].properties["heat_ref"])
    sm = StructureMatcher()
    assert all(sm.fit(r.to_structure(), s) for r, s in zip(recs, tiny_structures[:3]))


@pytest.mark.parametrize("name", ["POSCAR", "CONTCAR_relaxed", "cell.vasp"])
def test_vasp_files_are_read_by_name(tmp_path, tiny_structures, name):
    from pymatgen.io.vasp import Poscar

    (tmp_path / name).write_text(Poscar(tiny_structures[2]).get_str())
    [rec] = read_crystals(tmp_path / name)
    assert StructureMatcher().fit(rec.to_structure(), tiny_structures[2])


def test_an_ase_database_gives_one_record_per_row_with_its_key_value_labels(tmp_path, tiny_structures):
    from ase.db import connect

    path = tmp_path / "crystals.db"
    with connect(path) as db:
        for k, a in enumerate(_atoms(tiny_structures[:2])):
            db.write(a, name=f"c{k}", heat_ref=0.1 * (k + 1))
    recs = read_crystals(path, ["heat_ref"])
    assert [r.id for r in recs] == ["c0", "c1"]
    assert [round(r.properties["heat_ref"], 6) for r in recs] == [0.1, 0.2]


def test_a_folder_mixing_cifs_and_poscars_reads_both(tmp_path, tiny_structures):
    from pymatgen.io.vasp import Poscar

    tiny_structures[0].to(filename=str(tmp_path / "a.cif"))
    (tmp_path / "POSCAR_b").write_text(Poscar(tiny_structures[1]).get_str())
    assert sorted(r.id for r in read_crystals(tmp_path)) == ["POSCAR_b", "a"]


def test_a_molecule_is_refused_in_one_line_naming_the_file(tmp_path):
    path = tmp_path / "water.xyz"
    path.write_text("3\nwater\nO 0 0 0\nH 0.76 0.59 0\nH -0.76 0.59 0\n")
    with pytest.raises(DataError, match=r"water.xyz: the structure has no cell \(a molecule\?\)") as info:
        read_crystals(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name, text, words", [
    ("broken.extxyz", "2\nLattice=\"1 0 0 0 1 0 0 0 1\" pbc=\"T T T\"\nFe 0 0\n", "cannot read it as extended XYZ"),
    ("POSCAR", "not a poscar\n", "cannot read it as VASP POSCAR"),
    ("empty.extxyz", "", "the file is empty"),
    ("notdb.db", "this is text", "not a readable ASE database"),
])
def test_broken_files_are_one_line_naming_them(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=words) as info:
        read_crystals(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_a_label_that_is_not_a_number_names_the_frame(tmp_path, tiny_structures):
    import ase.io

    frames = _atoms(tiny_structures[:2])
    frames[1].info["heat_ref"] = "high"
    ase.io.write(tmp_path / "t.extxyz", frames, format="extxyz")
    with pytest.raises(DataError, match=r"t.extxyz \(frame 2\): property 'heat_ref' is 'high', not a number"):
        read_crystals(tmp_path / "t.extxyz", ["heat_ref"])


def test_write_extxyz_keeps_structures_and_scalar_scores(tmp_path, tiny_structures):
    import ase.io

    from designer.io.ase_formats import write_extxyz

    infos = [{"id": "c0", "objective": 1.5, "stable": True, "reasons": "too close", "nested": {"a": 1},
              "missing": float("nan")}, {"id": "c1", "objective": -2.0}]
    write_extxyz(tiny_structures[:2], infos, tmp_path / "c.extxyz")
    back = ase.io.read(tmp_path / "c.extxyz", index=":")
    assert [a.info["id"] for a in back] == ["c0", "c1"]
    assert back[0].info["objective"] == 1.5 and back[0].info["reasons"] == "too close"
    assert "nested" not in back[0].info and "missing" not in back[0].info
    assert StructureMatcher().fit(AseAtomsAdaptor.get_structure(back[1]), tiny_structures[1])
    assert not list(tmp_path.glob("*.tmp*"))  # written whole, then renamed


def test_reconstruct_and_score_take_a_poscar_from_the_command_line(cli, tmp_path, tiny_structures):
    from pymatgen.io.vasp import Poscar

    (tmp_path / "POSCAR").write_text(Poscar(tiny_structures[0]).get_str())
    res = cli("reconstruct", "perov5", "--data", tmp_path / "POSCAR", "--out", tmp_path / "rec")
    assert res.code == 0, res.err
    assert len(list((tmp_path / "rec").glob("*.cif"))) == 1
    res = cli("score", tmp_path / "POSCAR", "--no-energy", "--out", tmp_path / "sc")
    assert res.code == 0, res.err
    assert (tmp_path / "sc" / "scores.csv").read_text().count("\n") == 2  # header and the one structure
