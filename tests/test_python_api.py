"""The Python API (``designer.load``, ``Model.sample/encode/decode/predict``, ``designer.design``,
``designer.score``): what a notebook user relies on, on the shipped perov5 model and the tiny run."""

from __future__ import annotations

import doctest
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import designer
from designer.errors import DesignerError

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def perov5():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return designer.load("perov5")


def test_the_module_docstring_examples_run():
    import designer.api

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = doctest.testmod(designer.api, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 5 and res.failed == 0


def test_sample_returns_structures_that_carry_their_predictions_and_repeat_with_the_seed(perov5):
    from pymatgen.core import Structure

    a, b = perov5.sample(3, seed=7), perov5.sample(3, seed=7)
    assert len(a) == 3 and all(isinstance(s, Structure) for s in a)
    assert [s.composition.reduced_formula for s in a] == [s.composition.reduced_formula for s in b]
    assert tuple(a.z.shape) == (3, perov5.latent_dim) and a.z.device.type == "cpu"
    assert list(a.table["id"]) == [s.properties["id"] for s in a]
    assert np.allclose(a.table["pred_heat_ref"], [s.properties["pred_heat_ref"] for s in a])
    assert (a.table["pred_heat_ref_std"] > 0).all()  # MC-dropout spread, not a placeholder
    assert list(a.table["formula"]) == [s.composition.reduced_formula for s in a]


def test_encode_then_decode_gives_back_known_crystals(perov5, tiny_structures):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    z = perov5.encode(tiny_structures[:6])
    assert tuple(z.shape) == (6, perov5.latent_dim) and torch.isfinite(z).all()
    assert torch.allclose(perov5.encode(tiny_structures[0]), z[:1], atol=1e-5)  # one object is a list of one
    back = perov5.decode(z)
    sm = StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)
    matched = sum(sm.fit(s, t) for s, t in zip(back.objects, tiny_structures[:6]) if s is not None)
    assert matched >= 4  # the shipped model reconstructs most perov_5 crystals


def test_ase_atoms_are_encoded_like_the_structure_they_are(perov5, tiny_structures):
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(tiny_structures[1])
    assert torch.allclose(perov5.encode([atoms]), perov5.encode([tiny_structures[1]]), atol=1e-5)


def test_predict_gives_property_spread_and_plausibility(perov5, tiny_structures):
    df = perov5.predict(tiny_structures[:4])
    assert list(df.columns) == ["pred_heat_ref", "pred_heat_ref_std", "plausibility_percentile", "log_density"]
    assert len(df) == 4 and df.notna().all().all()
    assert ((df["plausibility_percentile"] >= 0) & (df["plausibility_percentile"] <= 100)).all()
    # training-like crystals sit where the density is: not all in its bottom tail
    assert df["plausibility_percentile"].max() > 5


@pytest.mark.parametrize("call, words", [
    (lambda m: m.encode([42]), "object 0: a int is not a crystal"),
    (lambda m: m.encode([]), "no objects given"),
    (lambda m: m.decode(torch.zeros(2, 3)), "give n x 64 latents"),
    (lambda m: m.decode(torch.full((1, 64), float("nan"))), "NaN or infinite"),
    (lambda m: m.sample(0), "n=0: give a positive whole number"),
])
def test_bad_input_is_one_designer_error_naming_it(perov5, call, words):
    with pytest.raises(DesignerError, match=words.replace("(", r"\(")) as info:
        call(perov5)
    assert "\n" not in str(info.value)


def test_a_molecule_without_a_cell_is_refused_in_one_line(perov5):
    from ase import Atoms

    water = Atoms("H2O", positions=[[0, 0, 0], [0.76, 0.59, 0], [-0.76, 0.59, 0]])
    with pytest.raises(DesignerError, match="has no cell .*a molecule"):
        perov5.encode([water])


def test_score_takes_objects_or_paths_and_gives_a_row_each(tmp_path, tiny_structures):
    from pymatgen.io.ase import AseAtomsAdaptor

    df = designer.score(tiny_structures[:3], energies=False)
    assert len(df) == 3 and df["geometry_ok"].all()
    assert df.attrs["domain"] == "crystal" and df.attrs["notes"]
    mixed = designer.score([AseAtomsAdaptor.get_atoms(tiny_structures[0])], energies=False, out=tmp_path / "o")
    assert len(mixed) == 1 and (tmp_path / "o" / "scores.csv").exists()
    with pytest.raises(DesignerError, match="either paths or objects"):
        designer.score([tiny_structures[0], "a.cif"], energies=False)


def test_score_reads_mattergens_extxyz_a_row_per_structure():
    df = designer.score(HERE / "data" / "mattergen" / "generated_crystals.extxyz", energies=False)
    assert list(df["formula"]) == ["TiZnN6", "HfZnN6", "CuBiPbS17", "MnSe17O", "H2CSN8O", "RbMgSnF16"]
    assert df["geometry_ok"].all()


def test_design_returns_the_ranked_table_and_its_files(tiny_pipeline, tiny_run, tmp_path):
    res = designer.design(tiny_pipeline, run=str(tiny_run), out=tmp_path / "d", log=None,
                          **{"design.rounds": 1, "design.q": 2, "scoring.energies": False})
    assert len(res.candidates) >= 1 and "objective" in res.candidates.columns
    names = {p.name for p in res.files}
    assert {"candidates.csv", "summary.json", "report.html", "candidates.extxyz"} <= names
    assert all(f"{i}.cif" in names for i in res.candidates["id"])
    assert res.summary["candidates"] == len(res.candidates)
    import ase.io

    frames = ase.io.read(res.out / "candidates.extxyz", index=":")  # the same candidates, scores in atoms.info
    assert [a.info["id"] for a in frames] == list(res.candidates["id"])
    assert np.allclose([a.info["objective"] for a in frames], res.candidates["objective"])


def test_design_names_an_unknown_pipeline():
    with pytest.raises(DesignerError, match="no such pipeline file or shipped pipeline; shipped: .*perov5"):
        designer.design("perov55")


def test_sequence_models_speak_biopython():
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gfp = designer.load("gfp")
    out = gfp.sample(2, seed=0)
    assert all(isinstance(r, SeqRecord) for r in out)
    assert "pred_medianBrightness" in out[0].annotations
    seq = str(out[0].seq)
    z = gfp.encode([out[0], seq, Seq(seq)])
    assert torch.allclose(z[0], z[1]) and torch.allclose(z[0], z[2])
    with pytest.raises(DesignerError, match="object 0: invalid residue"):
        gfp.encode(["MSK1"])
