"""Readers sniff gzip and encodings (UTF-8, UTF-8 with a BOM, UTF-16) and give one line for anything else (issue 19)."""

from __future__ import annotations

import gzip

import pytest

from conftest import write_csv
from designer.data.crystal_dataset import load_records
from designer.data.protein_io import SequenceOptions, read_sequences
from designer.errors import DataError
from designer.io.text import decode_bytes

FASTA = ">wt\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n>v1 brightness=1.5\nMKTAYIAKQRQISFVKSHFSRALEERLGLIEVQ\n"


@pytest.mark.parametrize("encode", [
    lambda t: t.encode("utf-8"),
    lambda t: t.encode("utf-8-sig"),
    lambda t: t.encode("utf-16"),          # with a BOM
    lambda t: t.encode("utf-16-le"),       # without one (Windows tools)
    lambda t: gzip.compress(t.encode()),   # gzipped, whatever the name says
    lambda t: t.replace("\n", "\r\n").encode(),
], ids=["utf8", "utf8-bom", "utf16", "utf16le-nobom", "gzip", "crlf"])
def test_a_fasta_in_any_common_encoding_reads_the_same(tmp_path, encode):
    path = tmp_path / "variants.fasta"
    path.write_bytes(encode(FASTA))
    records, _, _ = read_sequences(path, ["brightness"], SequenceOptions())
    assert [r.id for r in records] == ["wt", "v1"]
    assert records[1].properties["brightness"] == 1.5
    assert records[0].sequence == "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"


@pytest.mark.parametrize("data, words", [
    (">wt\nMKT\n>caf\xe9\nMKV\n".encode("latin-1"), "not UTF-8 or UTF-16"),
    (bytes(range(256)) * 4, "binary file"),
    (gzip.compress(FASTA.encode())[:20], "damaged or truncated gzip"),
], ids=["latin1", "binary", "truncated-gzip"])
def test_other_bytes_are_one_line_naming_the_file(tmp_path, data, words):
    path = tmp_path / "odd.fasta"
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        read_sequences(path, [], SequenceOptions())
    msg = str(info.value)
    assert str(path) in msg and words in msg and "\n" not in msg


def test_a_folder_where_a_file_is_expected_is_one_line(tmp_path):
    from designer.io.text import read_text

    folder = tmp_path / "data.fasta"
    folder.mkdir()
    with pytest.raises(DataError, match="is a folder"):
        read_sequences(folder, [], SequenceOptions())
    with pytest.raises(DataError, match="a folder, where a file is expected"):
        read_text(folder)


def test_a_crystal_csv_saved_as_utf16_or_gzipped_without_the_suffix_reads(tmp_path, tiny_df):
    plain = write_csv(tiny_df.iloc[:3], tmp_path / "plain.csv")
    text = plain.read_text()
    (tmp_path / "u16.csv").write_bytes(text.encode("utf-16"))
    (tmp_path / "gz.csv").write_bytes(gzip.compress(text.encode()))
    ids = [r.id for r in load_records(plain, [], use_cache=False)]
    for name in ("u16.csv", "gz.csv"):
        assert [r.id for r in load_records(tmp_path / name, [], use_cache=False)] == ids


def test_a_cif_with_a_latin1_comment_still_reads(tmp_path, tiny_structures):
    from pymatgen.io.cif import CifWriter

    text = str(CifWriter(tiny_structures[0]))
    path = tmp_path / "x.cif"
    path.write_bytes(("# author: Jos\xe9 M\xfcller\n" + text).encode("latin-1"))
    (rec,) = load_records(path, [], use_cache=False)
    assert len(rec.atomic_numbers) == len(tiny_structures[0])


def test_decode_bytes_is_lenient_only_when_asked():
    assert decode_bytes("caf\xe9".encode("latin-1"), "x", lenient=True) == "caf\ufffd"
    with pytest.raises(DataError):
        decode_bytes("caf\xe9".encode("latin-1"), "x")
