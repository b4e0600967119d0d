"""Protein inputs: FASTA, A3M, sequence CSVs, mutation tables, alignment to a reference, weights, FASTA output.

Small synthetic files are written to ``tmp_path``; the real avGFP table (embedded under
``datasets/avgfp``) and the shared MSA (``../shared/datasets``, skipped when absent) are read once each.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from designer.data.protein_dataset import (
    GAP_INDEX,
    UNKNOWN_INDEX,
    decode_tokens,
    describe_mutations,
    encode_sequences,
    gap_profile,
    load_protein_set,
    sequence_weights,
)
from designer.data.protein_io import (
    ReadReport,
    SequenceOptions,
    read_fasta,
    read_sequences,
)
from designer.errors import ConfigError, DataError
from designer.io.sequence_files import fasta_text, write_fasta

ROOT = Path(__file__).resolve().parents[2]
AVGFP = ROOT / "datasets" / "avgfp"
SHARED = ROOT.parent / "shared" / "datasets"

# 1-based: 1 M, 2 A, 3 T, 4 H, 5 K, 6 L, 7 V, 8 E, 9 R, 10 G
REF10 = "MATHKLVERG"
# long enough (33) for an unambiguous pairwise alignment; no two equal neighbours around the edits below
REF33 = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def read(path: Path, properties=(), **options):
    return read_sequences(path, list(properties), SequenceOptions(**options))


# --------------------------------------------------------------------------- FASTA


def test_fasta_ids_sequences_and_trailing_stop(tmp_path):
    f = write(tmp_path / "a.fasta", ">p1 first protein\nMKTAY\nIAKQR\n>p2\nMKTAYIAKQA*\n")
    records, reference, report = read(f)
    assert [r.id for r in records] == ["p1", "p2"]
    assert [r.sequence for r in records] == ["MKTAYIAKQR", "MKTAYIAKQA"]  # multi-line joined, trailing * gone
    assert not any(r.truncated for r in records)
    assert reference is None  # equal lengths: nothing to align
    assert (report.rows, report.kept, report.truncated_stop, report.aligned) == (2, 2, 0, 0)


def test_fasta_lower_case_is_upper_cased(tmp_path):
    records, _, _ = read(write(tmp_path / "a.fa", ">p1\nmktay\n"))
    assert records[0].sequence == "MKTAY"


def test_fasta_internal_stop_truncates_to_gaps_when_aligned(tmp_path):
    f = write(tmp_path / "a.fasta", f">full\n{REF33}\n>short\n{REF33[:20]}*{REF33[21:]}\n")
    records, reference, report = read(f)
    assert reference == REF33
    full, short = records
    assert full.sequence == REF33 and not full.truncated
    assert short.truncated
    assert short.sequence == REF33[:20] + "-" * 13  # the stop position and everything after are gaps
    assert len(short.sequence) == len(REF33)
    assert report.truncated_stop == 1 and report.skipped_stop == 0 and report.kept == 2


def test_fasta_internal_stop_skip(tmp_path):
    f = write(tmp_path / "a.fasta", ">a\nMKTAYIAKQR\n>b\nMKTA*IAKQR\n>c\nMKTAYIAKQA\n")
    records, _, report = read(f, stop="skip")
    assert [r.id for r in records] == ["a", "c"]
    assert (report.rows, report.kept, report.skipped_stop, report.truncated_stop) == (3, 2, 1, 0)
    assert "1 skipped for a stop codon" in report.summary()


def test_fasta_unknown_residues_masked(tmp_path):
    f = write(tmp_path / "a.fasta", ">a\nMKTAYIAKQR\n>b\nMXTAYBAKQZ\n>c\nMKTAJIAKQR\n")
    records, _, report = read(f)
    assert [r.sequence for r in records] == ["MKTAYIAKQR", "MXTAYXAKQX", "MKTAXIAKQR"]
    assert report.masked_unknown == 2 and report.skipped_unknown == 0
    tokens = encode_sequences([r.sequence for r in records])
    assert tokens.shape == (3, 10)
    assert UNKNOWN_INDEX == 21
    assert tokens[1].tolist() == [10, 21, 16, 0, 19, 21, 0, 8, 13, 21]
    assert (tokens[0] < 20).all()
    assert decode_tokens(tokens)[1] == "MXTAYXAKQX"


def test_fasta_unknown_residues_skipped(tmp_path):
    f = write(tmp_path / "a.fasta", ">a\nMKTAYIAKQR\n>b\nMXTAYIAKQR\n>c\nMKTAYIAKQB\n>d\nMKTAYIAKQA\n")
    records, _, report = read(f, unknown="skip")
    assert [r.id for r in records] == ["a", "d"]
    assert (report.rows, report.kept, report.skipped_unknown, report.masked_unknown) == (4, 2, 2, 0)


@pytest.mark.parametrize("bad", ["1", "@"])
def test_fasta_invalid_character_names_file_and_record(tmp_path, bad):
    f = write(tmp_path / "a.fasta", f">ok\nMKTAY\n>broken\nMK{bad}AY\n")
    with pytest.raises(DataError) as exc:
        read(f)
    msg = str(exc.value)
    assert str(f) in msg and "record 2 (broken)" in msg and repr(bad) in msg


def test_fasta_gap_in_unaligned_fasta_is_an_error(tmp_path):
    f = write(tmp_path / "a.fasta", ">ok\nMKTAY\n>gappy\nMK-AY\n")
    with pytest.raises(DataError, match=r"record 2 \(gappy\).*gap characters"):
        read(f)


def test_fasta_empty_and_missing_files(tmp_path):
    empty = write(tmp_path / "empty.fasta", "")
    with pytest.raises(DataError, match="empty"):
        read(empty)
    blank = write(tmp_path / "blank.fasta", "\n  \n")
    with pytest.raises(DataError, match="empty"):
        read(blank)
    not_fasta = write(tmp_path / "x.fasta", "MKTAY\n")
    with pytest.raises(DataError, match="not FASTA"):
        read(not_fasta)
    missing = tmp_path / "nope.fasta"
    with pytest.raises(DataError, match="no such file") as exc:
        read(missing)
    assert str(missing) in str(exc.value)


def test_fasta_all_rows_skipped_is_an_error(tmp_path):
    f = write(tmp_path / "a.fasta", ">a\nMXTAY\n")
    with pytest.raises(DataError, match="no usable sequence.*skipped for unknown"):
        read(f, unknown="skip")


def test_fasta_properties_from_description(tmp_path):
    f = write(tmp_path / "a.fasta",
              ">a brightness=3.5 stability=-1.25e-1 note=x\nMKTAY\n>b stability=2\nMKTAA\n")
    records, _, _ = read(f, ["brightness", "stability"])
    assert records[0].properties == {"brightness": 3.5, "stability": -0.125}
    assert math.isnan(records[1].properties["brightness"]) and records[1].properties["stability"] == 2.0


def test_fasta_non_numeric_description_property(tmp_path):
    f = write(tmp_path / "a.fasta", ">a brightness=bright\nMKTAY\n")
    with pytest.raises(DataError, match=r"record 1 \(a\).*brightness='bright' is not a number"):
        read(f, ["brightness"])


# --------------------------------------------------------------------------- A3M


def test_a3m_insert_columns_dropped(tmp_path):
    f = write(tmp_path / "m.a3m", ">query\nMKTAYIAKQR\n>hit1\nMKtaTA-IAKQR\n>hit2\n-K.TAYIAK..QX\n")
    records, reference, report = read(f)
    assert [r.sequence for r in records] == ["MKTAYIAKQR", "MKTA-IAKQR", "-KTAYIAKQX"]
    assert reference is None
    assert report.masked_unknown == 1 and report.kept == 3
    tokens = encode_sequences([r.sequence for r in records])
    assert tokens[1, 4] == GAP_INDEX and tokens[2, 0] == GAP_INDEX and tokens[2, 9] == UNKNOWN_INDEX


def test_a3m_internal_stop_keeps_width(tmp_path):
    f = write(tmp_path / "m.a3m", ">q\nMKTAYIAKQR\n>t\nMKT*YIAKQR\n")
    records, _, report = read(f)
    assert records[1].sequence == "MKT-------" and records[1].truncated
    assert report.truncated_stop == 1


def test_a3m_stop_in_last_column_keeps_width(tmp_path):
    f = write(tmp_path / "m.a3m", ">q\nMKTAYIAKQR\n>t\nMKTAYIAKQ*\n")
    records, _, _ = read(f)
    assert [len(r.sequence) for r in records] == [10, 10]
    assert records[1].sequence == "MKTAYIAKQ-"


def test_a3m_unequal_rows_name_the_record(tmp_path):
    f = write(tmp_path / "m.a3m", ">q\nMKTAYIAKQR\n>ok\nMKTAYIAKQA\n>bad\nMKTAYIAKQ\n")
    with pytest.raises(DataError) as exc:
        read(f)
    msg = str(exc.value)
    assert str(f) in msg and "record 3 (bad)" in msg and "9 match columns" in msg and "10" in msg


def test_a3m_width_must_match_reference(tmp_path):
    f = write(tmp_path / "m.a3m", ">q\nMKTAYIAKQR\n")
    with pytest.raises(DataError, match="alignment width 10 differs from the 11-residue reference"):
        read(f, reference="MKTAYIAKQRA")


def test_real_a3m_shape():
    path = SHARED / "msa" / "UniRef50_E9K9Y4.a3m"
    if not path.exists():
        pytest.skip(f"{path} not found")
    records, _, report = read(path)
    assert len(records) == 17 and report.rows == 17 and report.kept == 17
    assert {len(r.sequence) for r in records} == {98}
    assert records[0].id == "UniRef50_E9K9Y4"
    assert encode_sequences([r.sequence for r in records]).shape == (17, 98)


# --------------------------------------------------------------------------- CSV with a sequence column


def test_csv_sequence_column_and_properties(tmp_path):
    f = write(tmp_path / "s.csv", "name,sequence,fitness\nv1,MKTAYIAKQR,1.5\nv2,MKTAYIAKQA,\nv3,MKTAYIAKQC*,-2\n")
    records, _, report = read(f, ["fitness"], id_column="name")
    assert [r.id for r in records] == ["v1", "v2", "v3"]
    assert records[0].properties["fitness"] == 1.5
    assert math.isnan(records[1].properties["fitness"])  # empty cell: unlabelled
    assert records[2].sequence == "MKTAYIAKQC" and records[2].properties["fitness"] == -2.0
    assert report.kept == 3


def test_csv_default_ids_are_row_numbers(tmp_path):
    f = write(tmp_path / "s.csv", "sequence\nMKTAY\nMKTAA\n")
    records, _, _ = read(f)
    assert [r.id for r in records] == ["row1", "row2"]


def test_csv_non_numeric_property_names_the_line(tmp_path):
    f = write(tmp_path / "s.csv", "sequence,fitness\nMKTAY,1.0\nMKTAA,high\n")
    with pytest.raises(DataError) as exc:
        read(f, ["fitness"])
    msg = str(exc.value)
    assert str(f) in msg and "line 3" in msg and "fitness='high' is not a number" in msg


def test_csv_infinite_property_is_an_error(tmp_path):
    f = write(tmp_path / "s.csv", "sequence,fitness\nMKTAY,inf\n")
    with pytest.raises(DataError, match="line 2.*infinite"):
        read(f, ["fitness"])


def test_csv_missing_column_suggests_close_name(tmp_path):
    f = write(tmp_path / "s.csv", "sequence,fitnes\nMKTAY,1.0\n")
    with pytest.raises(DataError, match=r"no column 'fitness'; did you mean 'fitnes'\?"):
        read(f, ["fitness"])


def test_csv_without_sequence_or_mutation_column(tmp_path):
    f = write(tmp_path / "s.csv", "seq,fitness\nMKTAY,1.0\n")
    with pytest.raises(DataError, match="neither a 'sequence' nor a 'mutant' column"):
        read(f, ["fitness"])
    # with the column named explicitly it reads
    records, _, _ = read(f, ["fitness"], sequence_column="seq")
    assert records[0].sequence == "MKTAY"


def test_csv_empty_sequence_cell_names_the_line(tmp_path):
    f = write(tmp_path / "s.csv", "sequence\nMKTAY\n\"\"\n")
    with pytest.raises(DataError, match=r"line 3 .*empty 'sequence'"):
        read(f)


# --------------------------------------------------------------------------- mutation tables


def test_mutations_avgfp_syntax_zero_based(tmp_path):
    f = write(tmp_path / "m.tsv",
              "aaMutations\tbrightness\n\t3.7\nSA1G\t3.1\nSA1G:SK4R\t1.2\nSM0V:SG9W\t\n")
    records, reference, report = read(f, ["brightness"], mutation_column="aaMutations",
                                      reference=REF10, index_base=0)
    assert reference == REF10
    assert [r.id for r in records] == ["WT", "SA1G", "SA1G:SK4R", "SM0V:SG9W"]
    assert [r.sequence for r in records] == [REF10, "MGTHKLVERG", "MGTHRLVERG", "VATHKLVERW"]
    assert [r.mutations for r in records] == [0, 1, 2, 2]
    assert records[0].properties["brightness"] == 3.7 and math.isnan(records[3].properties["brightness"])
    assert report.rows == report.kept == 4 and report.aligned == 0


def test_mutations_dms_syntax_one_based(tmp_path):
    f = write(tmp_path / "dms.csv", "mutant,score\nH4A,0.5\nM1S,0.1\nH4A:G10C,-1\n")
    records, _, _ = read(f, ["score"], reference=REF10, index_base=1)  # 'mutant' column: auto-detected
    assert [r.sequence for r in records] == ["MATAKLVERG", "SATHKLVERG", "MATAKLVERC"]
    assert [r.mutations for r in records] == [1, 1, 2]
    assert [r.properties["score"] for r in records] == [0.5, 0.1, -1.0]


def test_mutations_reference_from_fasta_file(tmp_path):
    ref = write(tmp_path / "ref.fa", f">ref\n{REF10}\n")
    f = write(tmp_path / "dms.csv", "mutant\nH4A\n")
    records, reference, _ = read(f, reference=str(ref), index_base=1)
    assert reference == REF10 and records[0].sequence == "MATAKLVERG"


def test_mutations_wrong_index_base_suggests_the_other(tmp_path):
    one_based = write(tmp_path / "dms.csv", "mutant\nH4A\nK5R\n")
    with pytest.raises(DataError) as exc:
        read(one_based, reference=REF10, index_base=0)
    msg = str(exc.value)
    assert str(one_based) in msg and "line 2 (H4A)" in msg
    assert "index_base: 1" in msg and "0-based" in msg

    zero_based = write(tmp_path / "gfp.tsv", "aaMutations\nSA1G:SK4R\n")
    with pytest.raises(DataError) as exc:
        read(zero_based, mutation_column="aaMutations", reference=REF10, index_base=1)
    assert "line 2 (SA1G:SK4R)" in str(exc.value) and "index_base: 0" in str(exc.value)


def test_mutations_wild_type_mismatch_names_the_row(tmp_path):
    f = write(tmp_path / "dms.csv", "mutant\nH4A\nV2A\n")  # position 2 is A, not V (in neither base)
    with pytest.raises(DataError) as exc:
        read(f, reference=REF10, index_base=1)
    msg = str(exc.value)
    assert "line 3 (V2A)" in msg and "expects 'V' at position 2" in msg and "'A'" in msg
    assert "check the reference" in msg


def test_mutations_position_outside_reference(tmp_path):
    f = write(tmp_path / "dms.csv", "mutant\nG11A\n")
    with pytest.raises(DataError, match=r"line 2 \(G11A\).*outside the 10-residue reference"):
        read(f, reference=REF10, index_base=1)


def test_mutations_not_a_substitution(tmp_path):
    f = write(tmp_path / "dms.csv", "mutant\nH4A\nins5K\n")
    with pytest.raises(DataError, match=r"line 3 .*'ins5K' is not a substitution"):
        read(f, reference=REF10, index_base=1)


def test_mutations_need_index_base_and_reference(tmp_path):
    f = write(tmp_path / "dms.csv", "mutant\nH4A\n")
    with pytest.raises(ConfigError, match="index_base: 0 or 1"):
        read(f, reference=REF10)
    with pytest.raises(ConfigError, match="reference"):
        read(f, index_base=1)


def test_mutations_stop_truncates(tmp_path):
    f = write(tmp_path / "dms.csv", "mutant,score\nK5*,0.0\nH4A,1.0\n")
    records, _, report = read(f, ["score"], reference=REF10, index_base=1)
    assert records[0].sequence == "MATH------" and records[0].truncated and records[0].mutations == 1
    assert not records[1].truncated
    assert report.truncated_stop == 1
    records, _, report = read(f, ["score"], reference=REF10, index_base=1, stop="skip")
    assert [r.id for r in records] == ["H4A"] and report.skipped_stop == 1


def test_mutations_unknown_residue_masked_or_skipped(tmp_path):
    f = write(tmp_path / "dms.csv", "mutant\nH4X\nK5R\n")
    records, _, report = read(f, reference=REF10, index_base=1)
    assert records[0].sequence == "MATXKLVERG" and report.masked_unknown == 1
    records, _, report = read(f, reference=REF10, index_base=1, unknown="skip")
    assert [r.id for r in records] == ["K5R"] and report.skipped_unknown == 1


@pytest.mark.timeout(180)
def test_real_avgfp_table():
    table = AVGFP / "amino_acid_genotypes_to_brightness.tsv.gz"
    ref = AVGFP / "avGFP_reference_sequence.fa"
    if not (table.exists() and ref.exists()):
        pytest.skip(f"{AVGFP} not complete")
    records, reference, report = read(table, ["medianBrightness"], mutation_column="aaMutations",
                                      reference=str(ref), index_base=0)
    assert len(reference) == 237 and reference.startswith("SKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKL")
    assert len(records) == report.kept == report.rows == 54025
    assert {len(r.sequence) for r in records} == {237}
    assert sum(r.truncated for r in records) == report.truncated_stop == 2310
    assert records[0].sequence == reference and records[0].mutations == 0
    assert records[1].id == "SA108D" and records[1].sequence[108] == "D"
    assert not any(math.isnan(r.properties["medianBrightness"]) for r in records)
    with pytest.raises(DataError, match="index_base: 0"):
        read(table, ["medianBrightness"], mutation_column="aaMutations", reference=str(ref), index_base=1)


# --------------------------------------------------------------------------- alignment to a reference


def test_unaligned_set_is_aligned_to_first_sequence(tmp_path):
    deletion = REF33[:12] + REF33[13:]  # S at column 12 deleted
    insertion = REF33[:16] + "W" + REF33[16:]  # W inserted after column 15
    f = write(tmp_path / "u.fasta", f">ref\n{REF33}\n>del\n{deletion}\n>ins\n{insertion}\n")
    records, reference, report = read(f)
    assert reference == REF33
    assert {len(r.sequence) for r in records} == {len(REF33)}
    assert records[0].sequence == REF33
    assert records[1].sequence == REF33[:12] + "-" + REF33[13:]
    assert records[2].sequence == REF33  # the inserted residue is dropped
    assert report.aligned == 2 and report.kept == 3  # the reference itself needs no alignment


def test_unaligned_set_aligned_to_given_reference(tmp_path):
    f = write(tmp_path / "u.csv", f"sequence\n{REF33[:-3]}\n{REF33[2:]}\n")
    records, reference, _ = read(f, reference=REF33)
    assert reference == REF33
    assert [r.sequence for r in records] == [REF33[:-3] + "---", "--" + REF33[2:]]


def test_load_protein_set_tensors(tmp_path):
    f = write(tmp_path / "s.fasta", f">a y=1\n{REF33}\n>b y=2\n{REF33[:10]}X{REF33[11:20]}*{REF33[21:]}\n>c\n{REF33[:-1]}A\n")
    ps = load_protein_set([f], ["y"], SequenceOptions(), use_cache=False)
    assert ps.tokens.shape == (3, 33) and ps.length == 33
    assert ps.tokens[1, 10] == UNKNOWN_INDEX and (ps.tokens[1, 20:] == GAP_INDEX).all()
    assert ps.truncated.tolist() == [False, True, False]
    assert ps.mutations.tolist() == [-1, -1, -1]
    assert ps.y[:2, 0].tolist() == [1.0, 2.0] and torch.isnan(ps.y[2, 0])
    assert ps.report.truncated_stop == 1 and ps.report.masked_unknown == 1
    # truncated rows do not mark the tail as a gap column; only full-length rows count
    assert not gap_profile(ps.tokens, ps.truncated).any()
    assert torch.equal(ps.reference_tokens(), torch.as_tensor(encode_sequences([REF33])[0]))
    # cached and uncached loads agree
    cached = load_protein_set([f], ["y"], SequenceOptions())
    again = load_protein_set([f], ["y"], SequenceOptions())
    assert torch.equal(cached.tokens, ps.tokens) and torch.equal(again.tokens, ps.tokens)


def test_load_protein_set_width_mismatch_between_inputs(tmp_path):
    a = write(tmp_path / "a.fasta", ">a\nMKTAYIAKQR\n")
    b = write(tmp_path / "b.fasta", ">b\nMKTAY\n")
    with pytest.raises(DataError, match="alignment width 5 differs from the earlier inputs' 10"):
        load_protein_set([a, b], [], SequenceOptions(), use_cache=False)


def test_cache_notices_a_changed_reference_file(tmp_path):
    ref = write(tmp_path / "ref.fa", f">ref\n{REF10}\n")
    table = write(tmp_path / "dms.csv", "mutant\nH4A\n")
    opts = SequenceOptions(reference=str(ref), index_base=1)
    first = load_protein_set([table], [], opts)
    assert decode_tokens(first.tokens) == ["MATAKLVERG"]
    write(ref, ">ref\nMATHKLVERW\n")  # same wild type at 4, last residue changed
    second = load_protein_set([table], [], opts)
    assert decode_tokens(second.tokens) == ["MATAKLVERW"]


def test_gap_profile_marks_columns_gapped_in_full_rows():
    tokens = torch.as_tensor(encode_sequences(["MK-AY", "MKTAY", "MK---"]))
    truncated = torch.tensor([False, False, True])
    assert gap_profile(tokens, truncated).tolist() == [False, False, True, False, False]


# --------------------------------------------------------------------------- tokens, weights, mutations


def test_encode_decode_round_trip():
    seqs = ["ACDEFGHIKLMNPQRSTVWY-", "XCDEFGHIKLMNPQRSTVW--"]
    tokens = encode_sequences(seqs)
    assert tokens[0].tolist() == list(range(21))
    assert decode_tokens(tokens) == seqs
    assert decode_tokens(torch.as_tensor(tokens), keep_gaps=False) == ["ACDEFGHIKLMNPQRSTVWY", "XCDEFGHIKLMNPQRSTVW"]
    with pytest.raises(ValueError):
        encode_sequences(["MK*AY"])


def test_sequence_weights_identical_pair():
    tokens = torch.as_tensor(encode_sequences(["MKTAYIAKQR", "MKTAYIAKQR", "WWWWWCCCCC"]))
    w = sequence_weights(tokens, threshold=0.8)
    assert torch.allclose(w, torch.tensor([0.5, 0.5, 1.0]))


def test_sequence_weights_threshold_and_gaps():
    # rows 0 and 1 are 9/10 identical; identity of i to j is over i's own residues, so the gapped
    # row 2 is 5/5 identical to both but they are only 5/10 identical to it
    tokens = torch.as_tensor(encode_sequences(["MKTAYIAKQR", "MKTAYIAKQA", "MKTAY-----"]))
    w = sequence_weights(tokens, threshold=0.8)
    assert torch.allclose(w, torch.tensor([0.5, 0.5, 1 / 3]))
    w = sequence_weights(tokens, threshold=0.95)
    assert torch.allclose(w, torch.tensor([1.0, 1.0, 1 / 3]))


def test_describe_mutations_one_based():
    ref = encode_sequences([REF10])[0]
    assert describe_mutations(encode_sequences(["MGTHKLVERG"])[0], ref) == "A2G"
    assert describe_mutations(encode_sequences(["MGTHKLVERG"])[0], ref, index_base=0) == "A1G"
    assert describe_mutations(encode_sequences(["MATHR-VERX"])[0], ref) == "K5R:L6-"  # masked X not a mutation
    assert describe_mutations(ref, ref) == ""


# --------------------------------------------------------------------------- FASTA output


def test_fasta_round_trip(tmp_path):
    path = tmp_path / "out" / "designs.fasta"
    entries = [("d1", "MK-TAYIAKQR", {"score": 1.234567, "elbo": -3.25, "step": 3}),
               ("d2", "MKTAYIAKQ-A", {"score": float("nan"), "elbo": 0.5, "step": 4})]
    write_fasta(entries, path)
    assert path.read_text() == fasta_text(entries)
    assert "-" not in "".join(line for line in path.read_text().splitlines() if not line.startswith(">"))
    records = read_fasta(path, ["score", "elbo", "step"], SequenceOptions(), ReadReport())
    assert [r.id for r in records] == ["d1", "d2"]
    assert [r.sequence for r in records] == ["MKTAYIAKQR", "MKTAYIAKQA"]
    assert records[0].properties == {"score": pytest.approx(1.2346), "elbo": -3.25, "step": 3.0}
    assert math.isnan(records[1].properties["score"]) and records[1].properties["elbo"] == 0.5
    again, _, report = read(path, ["elbo"])
    assert [r.sequence for r in again] == ["MKTAYIAKQR", "MKTAYIAKQA"] and report.kept == 2


def test_align_false_with_unequal_lengths_is_refused_not_recut(tmp_path):
    # 237, 150 and 240 residues were joined and re-cut into 3 x 209 columns
    seqs = ["M" + "KLVA" * 59, "M" + "KLVA" * 37 + "K", "M" + "KLVA" * 59 + "KLV"]
    path = write(tmp_path / "mixed.fasta", "".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    with pytest.raises(DataError) as info:
        read(path, align=False)
    msg = str(info.value)
    assert str(path) in msg and "align is false" in msg and "align: true" in msg and "\n" not in msg
    records, _, _ = read(path)  # the default aligns them instead
    assert len({len(r.sequence) for r in records}) == 1


def test_dna_is_not_read_as_protein(tmp_path):
    path = write(tmp_path / "gfp_dna.fasta", ">wt\nATGAGTAAAGGAGAAGAACTTTTCACTGGAGTTGTCCCAATT\n>v1\nATGAGTAAAGGCGAAGAACTTTTC\n")
    with pytest.raises(DataError, match="look like DNA/RNA"):
        read(path)
    protein = write(tmp_path / "short.fasta", ">p\nACGTACGTAC\n")  # short runs of those letters are still protein
    assert read(protein)[0][0].sequence == "ACGTACGTAC"
