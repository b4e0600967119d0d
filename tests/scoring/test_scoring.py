"""The synthesis scorecard (issue 5): checks with reasons, novelty, symmetrised CIFs, designer score."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from designer.scoring.crystal_checks import charge_balance, geometry

SHARED_CIFS = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "mattergen_cifs" / "cifs.zip"


def test_dataset_structures_pass_geometry_and_charge_checks(tiny_structures):
    for s in tiny_structures:
        g, c = geometry(s), charge_balance(s)
        assert g["geometry_ok"] and g["min_distance"] > 1.0, g
        assert c["charge_neutral"] and c["electronegativity_ok"], c


def test_overlapping_atoms_fail_geometry_with_the_pair_named():
    s = Structure(Lattice.cubic(4.0), ["Sr", "Ti", "O", "O", "O"],
                  [[0, 0, 0], [0.05, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    g = geometry(s)
    assert not g["geometry_ok"] and "Sr" in g["geometry_reason"] and "Ti" in g["geometry_reason"]
    assert g["min_distance"] == pytest.approx(0.2)


def test_a_non_neutral_composition_fails_charge_balance_with_its_reason():
    s = Structure(Lattice.cubic(4.0), ["K", "F", "F"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]])  # F is only -1
    c = charge_balance(s)
    assert not c["charge_neutral"] and "sums to zero" in c["charge_reason"]
    ok = charge_balance(Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]))
    assert ok["charge_neutral"] and ok["oxidation_states"] == "Na+1 Cl-1"


def test_a_training_structure_is_not_novel_and_duplicates_are_not_unique(tiny_structures):
    from designer.scoring.crystal_card import score_crystals

    batch = [tiny_structures[0], tiny_structures[0].copy(), tiny_structures[1]]
    rows = score_crystals(batch, ["a", "b", "c"], reference_structures=tiny_structures[:1], energies=False)
    assert [r["novel"] for r in rows] == [False, False, True]
    assert [r["unique"] for r in rows] == [False, False, True]
    assert "matches a known structure" in rows[0]["reasons"]


def test_symmetrised_cif_round_trip_gives_the_same_structure(tiny_structures, tmp_path):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from designer.io.crystal_files import write_cif

    for k, s in enumerate(tiny_structures[:4]):
        p = tmp_path / f"s{k}.cif"
        write_cif(s, p, symprec=0.1)
        assert "_symmetry_space_group_name_H-M" in p.read_text()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            back = Structure.from_file(p)
        assert StructureMatcher().fit(s, back)


def test_a_slightly_larger_copy_is_a_repeat_and_never_selected(tiny_structures):
    import numpy as np

    from designer.domains import get_domain
    from designer.scoring.rank import select

    crystal, sequence = get_domain("crystal"), get_domain("protein")
    a = tiny_structures[0]
    bigger = a.copy()
    bigger.scale_lattice(a.volume * 1.03)  # a 1% larger lattice constant: the same candidate to a chemist
    other = next(s for s in tiny_structures if s.composition.reduced_formula != a.composition.reduced_formula)
    items = [bigger, other, a]
    scores = np.array([3.0, 1.0, 2.0])
    dup = crystal.duplicates(items, order=np.argsort(-scores))
    assert dup == [None, None, 0]  # the better-ranked copy is the representative
    assert select(scores, items, crystal, n=3, diversity=0.0, exclude={2}) == [0, 1]
    assert sequence.duplicates(["MK-L", "MKL", "MKV"], order=[0, 1, 2]) == [None, 0, None]


def test_protein_liabilities_are_found_with_positions():
    from designer.scoring.protein_card import liabilities

    li = liabilities("MKNGSCAILLVFWAPNPS*")
    assert li["odd_cysteines"] and li["deamidation_ng"] == 1 and li["n_glycosylation"] == 1  # NGS; NPS has X=P
    assert li["longest_hydrophobic_run"] == 8 and "hydrophobic stretch of 8 at 7-14" in li["liabilities"]
    assert not li["stop_codon"] and liabilities("MK*AA")["stop_codon"]


@pytest.mark.skipif(not SHARED_CIFS.exists(), reason="../shared/datasets/mattergen_cifs is not available")
def test_designer_score_reports_every_file_including_broken_ones(cli, tmp_path):
    import zipfile

    src = tmp_path / "in"
    src.mkdir()
    with zipfile.ZipFile(SHARED_CIFS) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".cif"))[:4]
        for n in names:
            (src / Path(n).name).write_bytes(z.read(n))
    (src / "broken.cif").write_text("data_broken\n_cell_length_a 3\n")
    (src / "empty.cif").write_text("")
    (src / "overlap.cif").write_text(Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.02, 0, 0]]).to(fmt="cif"))
    res = cli("score", src, "--out", tmp_path / "out")
    assert res.code == 0, res
    rows = list(csv.DictReader(open(tmp_path / "out" / "scores.csv")))
    assert len(rows) == len(names) + 3
    by_id = {r["id"]: r for r in rows}
    assert "unreadable" in by_id["broken"]["reasons"] and "empty" in by_id["empty"]["reasons"]
    assert by_id["overlap"]["geometry_ok"] == "False" and "apart" in by_id["overlap"]["reasons"]
    for n in names:
        r = by_id[Path(n).stem]
        assert r["geometry_ok"] == "True" and r["spacegroup"], r  # MatterGen's crystals: no overlapping atoms
        assert float(r["energy_per_atom"]) < 0  # so CHGNet scored every one of them
    assert "no --run" in res.out
    assert (tmp_path / "out" / f"{Path(names[0]).stem}_sym.cif").exists()


def test_crystal_design_writes_scored_ranked_candidates_with_symmetrised_cifs(tiny_run, cli, tmp_path):
    import yaml

    cfg = yaml.safe_load((tiny_run / "config.yaml").read_text())
    cfg["design"] = {"objective": {"property": "heat_ref", "direction": "minimize"}, "q": 4, "rounds": 1,
                     "start_points": 8, "plausibility": {"mode": "none"}}
    cfg["scoring"] = {"relax_top": 1, "relax_steps": 5, "select": 2}
    pipe = tmp_path / "design.yaml"
    pipe.write_text(yaml.safe_dump(cfg))
    res = cli("design", pipe, "--run", tiny_run, "--out", tmp_path / "d")
    assert res.code == 0, res
    rows = list(csv.DictReader(open(tmp_path / "d" / "candidates.csv")))
    assert 2 <= len(rows) <= 4  # up to q=4 from one round; enough to fill the selection of 2
    for r in rows:
        assert {"geometry_ok", "charge_neutral", "spacegroup", "synthesis_rank", "selected"} <= set(r)
        assert (tmp_path / "d" / r["file"]).exists() and (tmp_path / "d" / f"{r['id']}_sym.cif").exists()
        # the design only proposes structure- and composition-valid crystals: the scorecard's gates agree
        assert r["geometry_ok"] == "True" and r["charge_neutral"] == "True" and r["duplicate_of"] == "", r
        assert abs(float(r["energy_per_atom"])) < 50  # CHGNet scored it (a 2-epoch model's crystals are poor)
    assert sorted(int(r["synthesis_rank"]) for r in rows) == list(range(1, len(rows) + 1))
    assert sum(r["selected"] == "True" for r in rows) == 2  # select: 2, and every row passes the gates
    # relax_top: 1 relaxes exactly the best-ranked candidate (rows are in objective order)
    assert sorted(p.name for p in (tmp_path / "d").glob("*_relaxed.cif")) == [f"{rows[0]['id']}_relaxed.cif"]
    assert [bool(r.get("relaxed_energy_per_atom")) for r in rows] == [True] + [False] * (len(rows) - 1)
    page = (tmp_path / "d" / "report.html").read_text()
    assert all(f"row-{r['id']}" in page for r in rows) and (tmp_path / "d" / "latent_map.png").exists()


def test_report_page_is_self_contained_with_one_row_and_one_3d_view_per_candidate(tiny_structures, tmp_path):
    """The page fetches nothing (3Dmol.js and the plots are embedded); each candidate has a table row and
    a hidden details row holding its CIF for the 3D view (tests/test_report_browser.py drives it)."""
    import json
    import re

    from designer.domains import get_domain
    from designer.report.page import Card, write_page

    rows = [{"id": f"cand_{i}", "rank": i + 1, "synthesis_rank": i + 1, "objective": -0.1 * i,
             "formula": s.composition.reduced_formula, "geometry_ok": True, "selected": i < 2,
             "pred_heat_ref": 0.123456789, "pred_heat_ref_std": 0.05}
            for i, s in enumerate(tiny_structures[:5])]
    domain = get_domain("crystal")
    extras = domain.report_extras(None, rows, tiny_structures[:5])
    page = write_page(tmp_path / "report.html", "test", "sub", Card("5 crystals", "minimise heat_ref"), rows,
                      list(domain.report_columns), **extras)
    text = page.read_text()
    assert not re.search(r"""(src|href)=["']?https?:""", text)  # nothing to fetch
    assert text.count("<tr class=") == 5 and text.count("<tr hidden data-details=") == 5
    data = json.loads(re.search(r'<script type="application/json" id="structures">(.*?)</script>', text, re.S).group(1))
    assert sorted(data) == [r["id"] for r in rows] and all("_cell_length_a" in c for c in data.values())
    assert "0.123 ± 0.05" in text and "0.123456789" not in text.split("<dl>")[0]  # rounded in the table
    assert "$3Dmol" in text  # the viewer library is embedded


def test_designer_score_on_fasta_without_a_run_lists_liabilities(cli, tmp_path):
    fa = tmp_path / "cands.fasta"
    fa.write_text(">good\nMKTAYIAKQR\n>bad\nMKNGSCAILLVFWAGK\n>weird\nMKT1ZZ\n")
    res = cli("score", fa, "--out", tmp_path / "o")
    assert res.code == 0, res
    rows = {r["id"]: r for r in csv.DictReader(open(tmp_path / "o" / "scores.csv"))}
    assert rows["good"]["num_liabilities"] == "0"
    assert "deamidation NG" in rows["bad"]["reasons"] and "odd cysteine" in rows["bad"]["reasons"]
    assert "unknown residue letters 1" in rows["weird"]["reasons"]
    assert "no --run" in res.out


def test_score_files_benchmark_reads_a_zip_and_keeps_same_named_files_apart(tiny_structures, cli, tmp_path):
    import json
    import zipfile

    from pymatgen.io.cif import CifWriter

    archive = tmp_path / "cifs.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("gen_a/X.cif", str(CifWriter(tiny_structures[0])))
        z.writestr("gen_b/X.cif", str(CifWriter(tiny_structures[1])))
        z.writestr("gen_b/broken.cif", "data_broken\n_cell_length_a 4\n")
    out = tmp_path / "res" / "mg.json"
    res = cli("benchmark", "score-files", "--samples", str(archive), "--out", str(out))
    assert res.code == 0, res
    r = json.loads(out.read_text())
    assert (r["files"], r["structures"], r["readable"]) == (3, 3, 2)
    assert r["geometry_ok_rate"] == 1.0 and r["structures_per_s"] > 0
    assert sum(r["unreadable_reasons"].values()) == 1
    assert "Caveat" in out.with_suffix(".md").read_text()
