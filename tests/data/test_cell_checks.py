"""Cells no crystal has are refused where they enter, with the reason, before any neighbour search:
a 0.05 Å cell used to make reconstruct ask for 12.4 GiB (issue 19)."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from designer.data.cell_checks import cell_problem, cif_parameter_problem
from designer.data.crystal_io import read_crystals
from designer.errors import DataError

NACL = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _cif(structure: Structure) -> str:
    from pymatgen.io.cif import CifWriter

    return str(CifWriter(structure))


def test_real_cells_pass():
    assert cell_problem(NACL.lattice.matrix, 2) is None
    assert cell_problem(Lattice.hexagonal(2.46, 6.7).matrix, 4) is None  # graphite
    assert cell_problem(Lattice.from_parameters(3, 4, 40, 90, 90, 120).matrix, 6) is None  # a slab with vacuum


@pytest.mark.parametrize("lattice, n, reason", [
    (np.eye(3) * 0.05, 5, "thick between opposite faces"),
    (np.array([[5, 0, 0], [0, 5, 0], [4.99, 4.99, 0.01]]), 2, "thick between opposite faces"),  # nearly flat
    (np.eye(3) * 1.0, 4, "per atom (less than 1"),
    (np.eye(3) * 400.0, 2, "mostly empty space"),
    (np.eye(3) * 900.0, 2, "a cell edge of 900"),
    (np.full((3, 3), np.nan), 2, "non-finite"),
])
def test_cells_outside_the_limits_are_refused_with_the_reason(lattice, n, reason):
    assert reason in cell_problem(lattice, n)


def test_a_negative_or_straight_angle_in_the_cif_text_is_refused_though_its_cosine_looks_fine():
    text = _cif(NACL).replace("_cell_angle_alpha   90.00000000", "_cell_angle_alpha   -90.00000000")
    assert "-90" in text
    assert "between 0 and 180" in cif_parameter_problem(text)
    assert cif_parameter_problem(_cif(NACL)) is None


def test_a_tiny_cell_is_refused_within_2_s_and_200_mb(tmp_path):
    tiny = Structure(Lattice.cubic(0.05), ["Ca", "Ti", "O", "O", "O"],
                     [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    path = tmp_path / "tiny.cif"
    path.write_text(_cif(tiny))
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(DataError, match=r"tiny\.cif: the cell is 0\.05 Å thick"):
        read_crystals(path)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seconds < 2.0 and peak < 200 * 2**20


def test_reconstruct_refuses_a_tiny_cell_with_one_line_and_writes_nothing(cli, tiny_run, tmp_path):
    tiny = Structure(Lattice.cubic(0.05), ["Ca", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    path = tmp_path / "tiny.cif"
    path.write_text(_cif(tiny))
    res = cli("reconstruct", tiny_run, "--data", path, "--out", tmp_path / "out")
    assert res.code == 2
    assert res.err_lines[-1].startswith("error:") and "tiny.cif: the cell is 0.05 Å thick" in res.err_lines[-1]
    assert "Traceback" not in res.err
    assert not (tmp_path / "out").exists()


def test_a_minus_90_degree_cif_is_refused_by_the_reader(tmp_path):
    path = tmp_path / "neg.cif"
    path.write_text(_cif(NACL).replace("_cell_angle_beta   90.00000000", "_cell_angle_beta   -90.00000000"))
    with pytest.raises(DataError, match=r"neg\.cif: _cell_angle_beta is -90"):
        read_crystals(path)
