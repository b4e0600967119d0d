"""Output folders are honest (issue 19): never a mix of two runs, nothing left by a failed command, a marker when complete."""

from __future__ import annotations

import pytest

from designer.errors import DesignerError
from designer.io.output_folder import MARKER, check_output, output_folder


def test_a_complete_output_is_marked_and_a_second_run_into_it_is_refused_unless_overwrite(cli, tiny_run, tmp_path):
    out = tmp_path / "samples"
    assert cli("sample", tiny_run, "-n", "6", "--out", out).code == 0
    assert (out / MARKER).exists() and (out / "samples.csv").exists()
    first = sorted(p.name for p in out.iterdir())

    res = cli("sample", tiny_run, "-n", "2", "--out", out)  # would mix 2 new rows with 6 old CIFs
    assert res.code == 2 and "already holds a complete earlier run" in res.err and "--overwrite" in res.err, res
    assert sorted(p.name for p in out.iterdir()) == first

    assert cli("sample", tiny_run, "-n", "2", "--out", out, "--overwrite").code == 0
    import csv

    rows = list(csv.DictReader(open(out / "samples.csv")))
    assert len(rows) == 2 and (out / MARKER).exists()
    # nothing of the 6-sample run is left: every CIF in the folder is one of the 2 new rows
    assert sorted(p.name for p in out.glob("*.cif")) == sorted(r["file"] for r in rows if r["file"])


def test_an_interrupted_output_is_refused_even_with_overwrite(cli, tiny_run, tmp_path):
    out = tmp_path / "half"
    out.mkdir()
    (out / "sample_0.cif").write_text("data_x\n")  # a killed run: files, no marker
    for extra in ((), ("--overwrite",)):
        res = cli("sample", tiny_run, "-n", "2", "--out", out, *extra)
        assert res.code == 2 and "Traceback" not in res.err, res
    assert sorted(p.name for p in out.iterdir()) == ["sample_0.cif"]


def test_a_failed_command_leaves_no_folder_and_a_replaced_output_comes_back(tmp_path):
    out = tmp_path / "new"
    with pytest.raises(RuntimeError):
        with output_folder(out) as folder:
            (folder / "a.cif").parent.mkdir(parents=True, exist_ok=True)
            (folder / "a.cif").write_text("x")
            raise RuntimeError("the writer broke")
    assert not out.exists()

    done = tmp_path / "done"
    with output_folder(done) as folder:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "old.csv").write_text("old")
    with pytest.raises(RuntimeError):
        with output_folder(done, overwrite=True) as folder:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "new.csv").write_text("new")
            raise RuntimeError("broke half way")
    assert (done / "old.csv").read_text() == "old" and not (done / "new.csv").exists() and (done / MARKER).exists()


def test_an_out_that_is_a_file_or_an_empty_folder(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(DesignerError, match="is a file"):
        check_output(f)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_output(empty) == empty  # an empty folder is fine
